/**
 * `larder keys` against real servers (standalone and Cluster): SCAN on every primary, a
 * pattern, --limit, --count, --json as one streamed array, --cache inside a cache's prefix
 * and version, and a progress bar that stays on stderr.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { configFor } from './fixtures/config.mjs';
import { CONFIG_MODULE, larder, lines, parsed } from './support.js';

for (const target of ['standalone', 'cluster'] as const) {
  describe(`larder keys (${target})`, () => {
    const url = redisUrlFor(target)!;
    const prefix = uniquePrefix(`cli-keys-${target}`);
    const raw = Array.from({ length: 25 }, (_, i) => `${prefix}:raw:${i}`);
    const env = { CLI_TEST_REDIS: url, CLI_TEST_PREFIX: prefix };
    let app: Larder;

    before(async () => {
      app = createLarder(configFor(url, prefix));
      const conn = app.connection();
      // Spread over slots: on Cluster these land on every primary.
      await Promise.all(raw.map((key, i) => conn.send(['SET', key, String(i)], { key })));
      await app.cache('pages').set('home', 'h');
      await app.cache('pages').set('about', 'a');
      await app.cache('carts').set('cart:1', ['sku']);
    });

    after(async () => {
      const conn = app.connection();
      await Promise.all(raw.map((key) => conn.send(['DEL', key], { key })));
      await app.cache('pages').clear();
      await app.cache('carts').clear();
      await app.close();
    });

    test('lists every key that matches, from every primary (REDIS_URL)', async () => {
      const run = await larder(['keys', `${prefix}:raw:*`], { REDIS_URL: url });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(lines(run.stdout).sort(), [...raw].sort());
      assert.equal(run.stderr, '', 'no progress bar when stderr is not a terminal');
    });

    test('--json prints one JSON array; --limit stops after n keys; --count is passed to SCAN', async () => {
      const run = await larder(['keys', `${prefix}:raw:1*`, '--json', '--limit', '4', '--count', '3'], {
        REDIS_URL: url,
      });
      assert.equal(run.code, 0, run.stderr);
      const keys = parsed(run) as string[];
      assert.equal(keys.length, 4);
      for (const key of keys) assert.match(key, new RegExp(`^${prefix}:raw:1\\d?$`));
      const none = await larder(['--json', 'keys', `${prefix}:nothing:*`], { REDIS_URL: url });
      assert.deepEqual(parsed(none), []);
    });

    test('--cache applies the pattern inside the cache and prints keys as the app names them (--config)', async () => {
      const run = await larder(['--config', CONFIG_MODULE, 'keys', '--cache', 'pages'], env);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(lines(run.stdout).sort(), ['about', 'home']);
      const some = await larder(['--config', CONFIG_MODULE, 'keys', 'h*', '--cache', 'pages', '--json'], env);
      assert.deepEqual(parsed(some), ['home']);
    });
  });
}

describe('larder keys (errors and progress)', () => {
  const url = redisUrlFor('standalone')!;
  const prefix = uniquePrefix('cli-keys-misc');
  const env = { CLI_TEST_REDIS: url, CLI_TEST_PREFIX: prefix };

  test('--progress draws a bar on stderr while stdout stays valid JSON', async () => {
    const run = await larder(['keys', `${prefix}*`, '--json', '--progress'], { REDIS_URL: url });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(parsed(run), []);
    assert.match(run.stderr, /scanning .* 0 found of \d+ keys in the database/);
  });

  test('an in-process cache cannot be listed: exit 2 and why', async () => {
    const run = await larder(['--config', CONFIG_MODULE, 'keys', '--cache', 'local'], env);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^larder: cache 'local' uses the memory backend/);
    const unknown = await larder(['--config', CONFIG_MODULE, 'keys', '--cache', 'nope'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /caches\.nope/);
  });

  test('bad usage exits 2 with the reason', async () => {
    const run = await larder(['keys', '--limit', '0'], { REDIS_URL: url });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--limit <n>.*at least 1/);
  });
});
