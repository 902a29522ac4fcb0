/**
 * The cache session store over a real `Cache` — the memory backend and Redis standalone —
 * through `createLarder`, as an application would: create/add collision, merges, replace,
 * meta removal, no resurrection after destroy, incr, touch, ttl, ids() and field names
 * that would be dangerous as object keys.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CacheValueError, SessionInterruptedError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { newSessionId } from '../../src/session/ids.js';
import type { SessionMeta, SessionWrite } from '../../src/session/store.js';
import { cacheSessionStore } from '../../src/session/stores/cache.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const HOUR = 3_600_000;

function change(
  set: Record<string, string> = {},
  options: Partial<Omit<SessionWrite, 'set'>> = {},
): SessionWrite {
  return {
    set: new Map(Object.entries(set)),
    delete: options.delete ?? new Set(),
    replace: options.replace ?? false,
    meta: options.meta ?? {},
    ttl: options.ttl ?? HOUR,
  };
}

const created = (set: Record<string, string>, meta: Partial<SessionMeta> = {}, ttl = HOUR) =>
  change(set, { replace: true, meta: { created: 1000, lastSeen: 1000, ...meta }, ttl });

for (const target of ['memory', 'standalone'] as const) {
  describe(`cacheSessionStore on ${target}`, () => {
    let larder: Larder;
    const store = () => cacheSessionStore({ cache: larder.cache() });

    before(() => {
      const url = redisUrlFor(target);
      larder = createLarder(
        {
          redis: url ?? false,
          caches: {
            default:
              target === 'memory'
                ? { backend: 'memory' }
                : { backend: 'redis', keyPrefix: uniquePrefix('session-cache') },
          },
          logger: false,
        },
        {},
      );
    });
    after(async () => {
      await larder?.close();
    });

    it('create stores the session; a taken id is refused and left as it was', async () => {
      const id = newSessionId();
      assert.equal(await store().load(id), undefined);
      assert.equal(await store().create(id, created({ cart: '["a"]' }, { userId: '7' })), true);
      assert.equal(await store().create(id, created({ cart: '["b"]' })), false);
      assert.deepEqual(await store().load(id), {
        fields: new Map([['cart', '["a"]']]),
        meta: { created: 1000, lastSeen: 1000, userId: '7' },
      });
      assert.equal(store().name, 'cache default');
      assert.equal(store().kind, 'server');
    });

    it('stores one value under prefix:id in the cache', async () => {
      const id = newSessionId();
      const custom = cacheSessionStore({ cache: larder.cache(), prefix: 'sess' });
      await custom.create(id, created({ a: '1' }));
      assert.deepEqual(await larder.cache().get(`sess:${id}`), {
        f: { a: '1' },
        m: { created: 1000, lastSeen: 1000 },
      });
      assert.equal(await store().load(id), undefined, 'another prefix does not see it');
    });

    it('update merges set and delete, and meta; empty meta strings remove', async () => {
      const id = newSessionId();
      await store().create(
        id,
        created({ a: '1', b: '2', c: '3' }, { userId: '7', userAgent: 'UA', expiry: 's:60' }),
      );
      await store().update(
        id,
        change(
          { b: '20', d: '4' },
          { delete: new Set(['a']), meta: { lastSeen: 2000, userId: '', expiry: '0' } },
        ),
      );
      assert.deepEqual(await store().load(id), {
        fields: new Map([
          ['b', '20'],
          ['c', '3'],
          ['d', '4'],
        ]),
        meta: { created: 1000, lastSeen: 2000, userAgent: 'UA', expiry: '0' },
      });
    });

    it('update with replace drops every field not in set', async () => {
      const id = newSessionId();
      await store().create(id, created({ a: '1', b: '2' }));
      await store().update(id, change({ c: '3' }, { replace: true, meta: { lastSeen: 3000 } }));
      const loaded = await store().load(id);
      assert.deepEqual(loaded?.fields, new Map([['c', '3']]));
      assert.equal(loaded?.meta.created, 1000);
    });

    it('update after destroy is SessionInterruptedError and recreates nothing', async () => {
      const id = newSessionId();
      await store().create(id, created({ a: '1' }));
      assert.equal(await store().destroy(id), true);
      assert.equal(await store().destroy(id), false);
      await assert.rejects(store().update(id, change({ a: '2' })), SessionInterruptedError);
      await assert.rejects(store().update(newSessionId(), change({ a: '2' })), SessionInterruptedError);
      assert.equal(await store().load(id), undefined);
    });

    it('incr counts from 0, keeps counting, applies meta and ttl; refuses non-integers', async () => {
      const id = newSessionId();
      await store().create(
        id,
        created({ name: '"Ann"', ratio: '1.5', big: String(Number.MAX_SAFE_INTEGER) }),
      );
      assert.equal(await store().incr(id, 'views', 1, change({}, { meta: { lastSeen: 5000 } })), 1);
      assert.equal(await store().incr(id, 'views', 5, change()), 6);
      assert.equal(await store().incr(id, 'views', -10, change()), -4);
      const loaded = await store().load(id);
      assert.equal(loaded?.fields.get('views'), '-4');
      assert.equal(loaded?.fields.get('name'), '"Ann"');
      assert.equal(loaded?.meta.lastSeen, 5000);
      await assert.rejects(store().incr(id, 'name', 1, change()), CacheValueError);
      await assert.rejects(store().incr(id, 'ratio', 1, change()), CacheValueError);
      await assert.rejects(store().incr(id, 'big', 1, change()), CacheValueError, 'beyond the safe range');
      await assert.rejects(store().incr(newSessionId(), 'views', 1, change()), SessionInterruptedError);
    });

    it('touch rewrites lastSeen with a new ttl; false (nothing recreated) when gone', async () => {
      const id = newSessionId();
      await store().create(id, created({ a: '1' }, {}, 300));
      assert.equal(await store().touch(id, 9000, HOUR), true);
      await sleep(500);
      const loaded = await store().load(id);
      assert.equal(loaded?.meta.lastSeen, 9000, 'the new ttl outlived the first');
      assert.deepEqual(loaded?.fields, new Map([['a', '1']]));
      const gone = newSessionId();
      assert.equal(await store().touch(gone, 9000, HOUR), false);
      assert.equal(await store().load(gone), undefined);
    });

    it('honours the ttl of create and update', async () => {
      const id = newSessionId();
      await store().create(id, created({ a: '1' }, {}, 200));
      assert.ok(await store().load(id));
      await sleep(400);
      assert.equal(await store().load(id), undefined);

      const other = newSessionId();
      await store().create(other, created({ a: '1' }));
      await store().update(other, change({ b: '2' }, { ttl: 200 }));
      await sleep(400);
      assert.equal(await store().load(other), undefined);
    });

    it('ids() lists the ids under its prefix only', async () => {
      const mine = cacheSessionStore({ cache: larder.cache(), prefix: 'ids-*[?]' });
      const ids = [newSessionId(), newSessionId(), newSessionId()];
      for (const id of ids) await mine.create(id, created({ a: '1' }));
      await store().create(newSessionId(), created({ a: '1' }));
      await cacheSessionStore({ cache: larder.cache(), prefix: 'ids-a?' }).create(
        newSessionId(),
        created({}),
      );
      const listed: string[] = [];
      for await (const id of mine.ids!()) listed.push(id);
      assert.deepEqual(listed.sort(), ids.sort());
      assert.equal(mine.index, undefined, 'no per-user index on the cache engine');
    });

    it('field names like __proto__, constructor and the tag key survive as plain fields', async () => {
      const id = newSessionId();
      const set = new Map([
        ['__proto__', '{"polluted":true}'],
        ['constructor', '"c"'],
        ['toString', '1'],
        ['\u0000', '2'],
      ]);
      await store().create(id, { ...created({}), set });
      await store().update(id, change({ hasOwnProperty: '3' }));
      const loaded = await store().load(id);
      assert.equal(loaded?.fields.get('__proto__'), '{"polluted":true}');
      assert.equal(loaded?.fields.get('constructor'), '"c"');
      assert.equal(loaded?.fields.get('toString'), '1');
      assert.equal(loaded?.fields.get('\u0000'), '2');
      assert.equal(loaded?.fields.get('hasOwnProperty'), '3');
      assert.equal(loaded?.fields.size, 5);
      await assert.rejects(store().incr(id, '__proto__', 1, change()), CacheValueError);
      assert.equal(await store().incr(id, 'toString', 1, change()), 2);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });

    it('a value of another shape under the key loads as unknown and cannot be updated', async () => {
      const id = newSessionId();
      for (const junk of [
        'text',
        42,
        [1, 2],
        { f: { a: 1 }, m: { created: 1, lastSeen: 1 } },
        { f: {}, m: {} },
      ]) {
        await larder.cache().set(`session:${id}`, junk);
        assert.equal(await store().load(id), undefined, JSON.stringify(junk));
        await assert.rejects(store().update(id, change({ a: '1' })), SessionInterruptedError);
      }
    });
  });
}
