/**
 * `larder sessions` against real servers: `count` (SCAN over the session prefix, every
 * Cluster primary) after sessions made through larder, and `list` / `revoke` through the
 * per-user index, in text and --json.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { configFor } from './fixtures/config.mjs';
import { CONFIG_MODULE, larder, lines, parsed } from './support.js';

/** Saves a session (logged in as `user` when given) and returns its key. */
async function makeSession(app: Larder, userAgent: string, user?: string): Promise<string> {
  const session = app.sessions.open({ userAgent });
  await session.set('cart', ['sku-1']);
  if (user !== undefined) await session.login(user);
  await session.save();
  return session.key!;
}

for (const target of ['standalone', 'cluster'] as const) {
  describe(`larder sessions (${target})`, () => {
    const url = redisUrlFor(target)!;
    const prefix = uniquePrefix(`cli-sessions-${target}`);
    const env = { CLI_TEST_REDIS: url, CLI_TEST_PREFIX: prefix };
    const keys: string[] = [];
    let app: Larder;

    before(async () => {
      app = createLarder(configFor(url, prefix));
      keys.push(await makeSession(app, 'Firefox on Linux', 'u1'));
      keys.push(await makeSession(app, 'Safari on iPhone', 'u1'));
      keys.push(await makeSession(app, 'Chrome on Mac', 'u1'));
      keys.push(await makeSession(app, 'curl', 'u2'));
      keys.push(await makeSession(app, 'anonymous browser'));
    });

    after(async () => {
      await app.sessions.forUser('u1').revokeAll();
      await app.sessions.forUser('u2').revokeAll();
      const store = app.sessions.store;
      if (store.kind === 'server') await store.destroy(keys[4]!);
      await app.close();
    });

    test('count: every session under the prefix (user indexes not counted)', async () => {
      const text = await larder(['--config', CONFIG_MODULE, 'sessions', 'count'], env);
      assert.equal(text.code, 0, text.stderr);
      assert.equal(text.stdout, '5 sessions\n');
      const json = await larder(['--config', CONFIG_MODULE, '--json', 'sessions', 'count'], env);
      assert.deepEqual(parsed(json), { sessions: 5, engine: 'redis' });
    });

    if (target === 'cluster') return;

    test("list: a user's sessions with device and times", async () => {
      const text = await larder(['--config', CONFIG_MODULE, 'sessions', 'list', '--user', 'u1'], env);
      assert.equal(text.code, 0, text.stderr);
      const rows = lines(text.stdout);
      assert.equal(rows.length, 3);
      for (const key of keys.slice(0, 3))
        assert.ok(
          rows.some((r) => r.startsWith(`${key}  created `)),
          key,
        );
      assert.ok(rows.some((r) => r.endsWith('Safari on iPhone')));
      const json = await larder(
        ['--config', CONFIG_MODULE, '--json', 'sessions', 'list', '--user', 'u1'],
        env,
      );
      const sessions = parsed(json) as Array<{ id: string; userAgent: string; lastSeen: string }>;
      assert.deepEqual(sessions.map((s) => s.id).sort(), keys.slice(0, 3).sort());
      assert.ok(sessions.every((s) => !Number.isNaN(Date.parse(s.lastSeen))));
    });

    test('revoke --except keeps one; --session ends one; the others are gone from the store', async () => {
      const keep = keys[0]!;
      const run = await larder(
        ['--config', CONFIG_MODULE, 'sessions', 'revoke', '--user', 'u1', '--except', keep],
        env,
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, 'revoked 2 sessions of user u1\n');
      assert.deepEqual(
        (await app.sessions.forUser('u1').list()).map((s) => s.id),
        [keep],
      );
      assert.equal(
        await app.sessions.open({ cookie: keys[1] }).get('cart'),
        undefined,
        'revoked session is gone',
      );
      assert.deepEqual(await app.sessions.open({ cookie: keep }).get('cart'), ['sku-1']);

      const notTheirs = await larder(
        ['--config', CONFIG_MODULE, '--json', 'sessions', 'revoke', '--user', 'u1', '--session', keys[3]!],
        env,
      );
      assert.equal(notTheirs.code, 1, "u2's session is not u1's: nothing revoked");
      assert.deepEqual(parsed(notTheirs), { user: 'u1', revoked: 0 });
      const one = await larder(
        ['--config', CONFIG_MODULE, 'sessions', 'revoke', '--user', 'u2', '--session', keys[3]!],
        env,
      );
      assert.equal(one.stdout, 'revoked 1 session of user u2\n');
      const count = await larder(['--config', CONFIG_MODULE, 'sessions', 'count'], env);
      assert.equal(count.stdout, '2 sessions\n');
    });
  });
}

test('sessions on the memory engine are out of the CLI reach: exit 2 and why', async () => {
  const run = await larder(['sessions', 'count']);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /sessions are on the 'memory' engine.*Set REDIS_URL or --config\./);
});
