/**
 * The redis session engine as Redis sees it, on standalone and Cluster: the hash layout
 * (`d:` data fields, `m:` bookkeeping), a TTL on every write, field-level writes that keep
 * another request's raw HSET, delete-wins at the script level, the per-user index key, and
 * a Django `SESSION_REDIS`-style config against a password-protected server of its own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CacheValueError, ConfigError, SessionInterruptedError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import type { RedisConnection } from '../../src/redis/connection.js';
import { newSessionId } from '../../src/session/ids.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { startStandalone } from '../support/redis-server.js';

const HOUR_MS = 3_600_000;

/** An HGETALL reply (a RESP3 map or a RESP2 flat array) as a plain object. */
function hashOf(reply: unknown): Record<string, string> {
  if (Array.isArray(reply)) {
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
    return out;
  }
  if (reply instanceof Map) return Object.fromEntries([...reply].map(([k, v]) => [String(k), String(v)]));
  return { ...(reply as Record<string, string>) };
}

for (const target of ['standalone', 'cluster'] as const) {
  describe(`redis session store on ${target}`, () => {
    const prefix = uniquePrefix('rss');
    let larder: Larder;
    let conn: RedisConnection;
    const keyOf = (id: string) => `${prefix}:${id}`;
    const hgetall = async (id: string) => hashOf(await conn.send(['HGETALL', keyOf(id)], { key: keyOf(id) }));
    const pttl = (key: string) => conn.send<number>(['PTTL', key], { key });
    const exists = async (id: string) =>
      (await conn.send<number>(['EXISTS', keyOf(id)], { key: keyOf(id) })) === 1;

    before(() => {
      larder = createLarder(
        { redis: redisUrlFor(target), sessions: { engine: 'redis', prefix, maxAge: '1h' }, logger: false },
        {},
      );
      conn = larder.connection();
    });
    after(async () => {
      await larder?.close();
    });

    /** A saved session holding `data`; returns its id. */
    const saved = async (data: Record<string, unknown>) => {
      const session = larder.sessions.open();
      await session.update(data);
      await session.save();
      assert.ok(session.key);
      return session.key;
    };

    it('one hash per session: data under d:<field>, bookkeeping under m:<name>', async () => {
      const session = larder.sessions.open({ userAgent: 'UA/1.0' });
      await session.set('cart', ['sku-1']);
      await session.set('note', 'ünï');
      await session.setExpiry(600);
      await session.login('42');
      await session.save();
      const id = session.key as string;
      const hash = await hgetall(id);
      assert.deepEqual(Object.keys(hash).sort(), ['d:cart', 'd:note', 'm:a', 'm:c', 'm:e', 'm:s', 'm:u']);
      assert.equal(hash['d:cart'], '["sku-1"]');
      assert.equal(hash['d:note'], '"ünï"');
      assert.equal(hash['m:e'], 's:600');
      assert.equal(hash['m:u'], '42');
      assert.equal(hash['m:a'], 'UA/1.0');
      for (const name of ['m:c', 'm:s']) {
        assert.ok(Math.abs(Number(hash[name]) - Date.now()) < 60_000, `${name} is an epoch-ms time`);
      }
      assert.equal(await conn.send(['TYPE', keyOf(id)], { key: keyOf(id) }), 'hash');
    });

    it('a save writes only the changed fields: a raw HSET by another request survives', async () => {
      const id = await saved({ cart: ['a'], gone: 1 });
      const session = larder.sessions.open({ cookie: id });
      assert.deepEqual(await session.get('cart'), ['a']);
      // Another request (or a script of the app) writes a field meanwhile.
      await conn.send(['HSET', keyOf(id), 'd:other', '"x"'], { key: keyOf(id) });
      await session.set('cart', ['a', 'b']);
      await session.delete('gone');
      await session.save();
      const hash = await hgetall(id);
      assert.equal(hash['d:other'], '"x"');
      assert.equal(hash['d:cart'], '["a","b"]');
      assert.equal(hash['d:gone'], undefined);
      const again = larder.sessions.open({ cookie: id });
      assert.deepEqual(Object.fromEntries(await again.entries()), { cart: ['a', 'b'], other: 'x' });
    });

    it('every write sets the TTL: create, update, incr, touch, setExpiry', async () => {
      const id = await saved({ a: 1 });
      const fresh = await pttl(keyOf(id));
      assert.ok(fresh > HOUR_MS - 60_000 && fresh <= HOUR_MS, `create: ${fresh}`);
      const shorten = () => conn.send(['PEXPIRE', keyOf(id), '5000'], { key: keyOf(id) });

      await shorten();
      const update = larder.sessions.open({ cookie: id });
      await update.set('b', 2);
      await update.save();
      assert.ok((await pttl(keyOf(id))) > HOUR_MS - 60_000, 'update');

      await shorten();
      await larder.sessions.open({ cookie: id }).incr('n');
      assert.ok((await pttl(keyOf(id))) > HOUR_MS - 60_000, 'incr');

      await shorten();
      const store = larder.sessions.store;
      assert.ok(store.kind === 'server');
      assert.equal(await store.touch(id, Date.now(), HOUR_MS), true);
      assert.ok((await pttl(keyOf(id))) > HOUR_MS - 60_000, 'touch');

      const expiring = larder.sessions.open({ cookie: id });
      await expiring.setExpiry(600);
      await expiring.save();
      const custom = await pttl(keyOf(id));
      assert.ok(custom > 590_000 && custom <= 600_000, `setExpiry(600): ${custom}`);
    });

    it('a destroyed session is never recreated: save, incr and touch leave no key behind', async () => {
      const id = await saved({ a: 1 });
      const late = larder.sessions.open({ cookie: id });
      assert.equal(await late.get('a'), 1);
      const counter = larder.sessions.open({ cookie: id });
      await counter.load();
      await conn.send(['DEL', keyOf(id)], { key: keyOf(id) });
      await late.set('a', 2);
      await assert.rejects(late.save(), SessionInterruptedError);
      await assert.rejects(counter.incr('n'), SessionInterruptedError);
      assert.equal(await late.touch(), false);
      assert.equal(await exists(id), false);
    });

    it('a hash without bookkeeping under a well-formed id is not adopted', async () => {
      const id = newSessionId();
      await conn.send(['HSET', keyOf(id), 'd:admin', 'true'], { key: keyOf(id) });
      const session = larder.sessions.open({ cookie: id });
      assert.equal(await session.get('admin'), undefined);
      await session.set('x', 1);
      await session.save();
      assert.notEqual(session.key, id);
      assert.deepEqual(await hgetall(id), { 'd:admin': 'true' }, 'the foreign hash is left alone');
    });

    it('incr on a field holding a non-integer is CacheValueError and changes nothing', async () => {
      const id = await saved({ a: 1 });
      await conn.send(['HSET', keyOf(id), 'd:n', '"seven"'], { key: keyOf(id) });
      const store = larder.sessions.store;
      assert.ok(store.kind === 'server');
      const write = { set: new Map(), delete: new Set<string>(), replace: false, meta: {}, ttl: HOUR_MS };
      await assert.rejects(store.incr(id, 'n', 1, write), CacheValueError);
      assert.equal((await hgetall(id))['d:n'], '"seven"');
    });

    it('the per-user index is a sorted set under <prefix>:user:<id>, with a TTL', async () => {
      const user = `u-${uniquePrefix('x')}`;
      const session = larder.sessions.open({ userAgent: 'phone' });
      await session.login(user);
      await session.set('a', 1);
      await session.save();
      const indexKey = `${prefix}:user:${user}`;
      assert.equal(await conn.send(['TYPE', indexKey], { key: indexKey }), 'zset');
      assert.deepEqual(await conn.send(['ZRANGE', indexKey, '0', '-1'], { key: indexKey }), [session.key]);
      const ttl = await pttl(indexKey);
      assert.ok(ttl > 0 && ttl <= HOUR_MS, `index TTL ${ttl}`);
      // A session that expired (or was deleted behind larder's back) drops out of the index on list.
      await conn.send(['DEL', keyOf(session.key as string)], { key: keyOf(session.key as string) });
      assert.deepEqual(await larder.sessions.forUser(user).list(), []);
      assert.deepEqual(await conn.send(['ZRANGE', indexKey, '0', '-1'], { key: indexKey }), []);
    });

    it('ids() lists the sessions under the prefix, not the index keys', async () => {
      const user = `u-${uniquePrefix('y')}`;
      const session = larder.sessions.open();
      await session.login(user);
      await session.save();
      const store = larder.sessions.store;
      assert.ok(store.kind === 'server' && store.ids);
      const ids: string[] = [];
      for await (const id of store.ids()) ids.push(id);
      assert.ok(ids.includes(session.key as string));
      assert.ok(ids.every((id) => !id.startsWith('user:')));
    });
  });
}

describe("a Django SESSION_REDIS-style config (own password-protected server, db 2, prefix 'session')", () => {
  const password = 'p@ss:w/rd#1';
  let server: Awaited<ReturnType<typeof startStandalone>>;
  const larders: Larder[] = [];

  before(async () => {
    server = await startStandalone({ password });
  });
  after(async () => {
    for (const larder of larders) await larder.close();
    await server?.stop();
  });

  it('stores sessions in db 2 under session:<id>, authenticated', async () => {
    // larder's location options object: { url, password, commandTimeout } (host, port and db live in the URL).
    const larder = createLarder(
      {
        redis: false,
        sessions: {
          engine: 'redis',
          location: { url: `redis://${server.host}:${server.port}/2`, password, commandTimeout: 1000 },
          prefix: 'session',
        },
        logger: false,
      },
      {},
    );
    larders.push(larder);
    const session = larder.sessions.open();
    await session.set('cart', ['sku-1']);
    await session.save();
    const key = `session:${session.key}`;
    assert.match(await server.cli('-n', '2', 'HGET', key, 'd:cart'), /\["sku-1"\]/);
    assert.equal((await server.cli('EXISTS', key)).trim(), '0', 'nothing in db 0');
    const again = larder.sessions.open({ cookie: session.key as string });
    assert.deepEqual(await again.get('cart'), ['sku-1']);
  });

  it("Django's { host, port, db } keys are refused with a ConfigError that points at url", () => {
    assert.throws(
      () =>
        createLarder(
          {
            redis: false,
            sessions: {
              engine: 'redis',
              location: { host: server.host, port: server.port, db: 2 } as never,
            },
            logger: false,
          },
          {},
        ),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message.includes('sessions.location.host') &&
        error.message.includes('known options: url'),
    );
  });

  it('a wrong password fails the save loudly', async () => {
    const larder = createLarder(
      {
        redis: false,
        sessions: {
          engine: 'redis',
          location: {
            url: `redis://${server.host}:${server.port}/2`,
            password: 'wrong',
            commandTimeout: 500,
            connectTimeout: 1000,
          },
        },
        logger: false,
      },
      {},
    );
    larders.push(larder);
    const session = larder.sessions.open();
    await session.set('a', 1);
    await assert.rejects(session.save());
  });
});
