/**
 * Tags and stampede protection (DESIGN §4.1, issue 7), for every store: the same cases on
 * memory, Redis standalone and Redis Cluster (and the tiered backend, through its own runner).
 *
 * The driver gives two caches on one store: `cache`, and `peer()` — on Redis a second Larder
 * (its own connections, as another process would have), on memory a second `Cache` over the
 * same backend.
 */
import assert from 'node:assert/strict';
import type { Cache } from '../../src/cache/cache.js';
import { CacheKeyError, CacheLoadTimeoutError, CacheValueError, ConfigError } from '../../src/errors.js';
import { defineSuite, it } from '../support/conformance.js';

export interface AdvancedFixture {
  cache: Cache;
  /** A second cache on the same store, with its own connections. */
  peer: () => Cache;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A promise with its resolve function, for loaders the test finishes by hand. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

defineSuite<AdvancedFixture>('cache-advanced', ({ driver }) => {
  const cache = () => driver().cache;
  let n = 0;
  const key = (label: string) => `${label}-${++n}`;

  // --- tags ---------------------------------------------------------------------------------

  it('invalidateTags makes every value stored with the tag a miss, and only those', async () => {
    const [a, b, c] = [key('a'), key('b'), key('c')];
    await cache().set(a, 'A', { tags: ['products'] });
    await cache().set(b, { name: 'B' }, { tags: ['products', 'eu'] });
    await cache().set(c, 'C', { tags: ['eu'] });
    assert.equal(await cache().get(a), 'A');
    assert.deepEqual(await cache().get(b), { name: 'B' });
    await cache().invalidateTags(['products']);
    assert.equal(await cache().get(a), undefined);
    assert.equal(await cache().get(b), undefined);
    assert.equal(await cache().get(c), 'C');
    assert.equal(await cache().has(a), false);
  });

  it('add stores over a value whose tag was invalidated (get misses it), and not over a live one', async () => {
    // Regression: SET NX saw the dead value and add refused — forever, for a value without a timeout.
    const [dead, live] = [key('add-dead'), key('add-live')];
    await cache().set(dead, 'v1', { tags: ['t-add'], timeout: null });
    await cache().set(live, 'v1', { tags: ['t-add-live'], timeout: null });
    await cache().invalidateTags(['t-add']);
    assert.equal(await cache().get(dead), undefined);
    assert.equal(await cache().add(dead, 'v2'), true);
    assert.equal(await cache().get(dead), 'v2');
    const left = await cache().ttl(dead);
    assert.ok(left !== null && left > 290 && left <= 300, `the add's own (default) timeout: ${left}`);
    assert.equal(await cache().add(dead, 'v3'), false);
    assert.equal(await cache().add(live, 'v2'), false);
    assert.equal(await cache().get(live), 'v1');
    // Seen from another process (which has not met an envelope yet), the same.
    const other = key('add-peer');
    await cache().set(other, 'v1', { tags: ['t-add-peer'] });
    await cache().invalidateTags(['t-add-peer']);
    assert.equal(await driver().peer().add(other, 'v2'), true);
    assert.equal(await cache().get(other), 'v2');
  });

  it('has agrees with get on tag-invalidated and grace-stale values, in a process new to envelopes', async () => {
    // Regression: a cache that had not met an envelope answered has() with EXISTS: true for
    // values get misses. The peer is a fresh cache (another process, on Redis).
    const tagged = key('has-tagged');
    await cache().set(tagged, { price: 9 }, { tags: ['t-has'] });
    await cache().invalidateTags(['t-has']);
    assert.equal(await driver().peer().has(tagged), false);
    const stale = key('has-stale');
    await cache().getOrSet(stale, () => 1, { timeout: 0.1, grace: 60 });
    await sleep(200);
    assert.equal(await driver().peer().has(stale), false);
    const live = key('has-live');
    await cache().set(live, 'v', { tags: ['t-has-live'] });
    assert.equal(await driver().peer().has(live), true);
  });

  it('add stores over a value past its timeout within its grace (get misses it)', async () => {
    const k = key('add-grace');
    await cache().getOrSet(k, () => 'old', { timeout: 0.1, grace: 60 });
    await sleep(200);
    assert.equal(await cache().get(k), undefined);
    assert.equal(await cache().add(k, 'new', { timeout: 60 }), true);
    assert.equal(await cache().get(k), 'new');
    const left = await cache().ttl(k);
    assert.ok(left !== null && left > 50 && left <= 60, `ttl ${left}`);
  });

  it('invalidateTags refuses a lone string (its characters would be the tags) and invalidates nothing', async () => {
    // Regression: invalidateTags('products') spread the string and invalidated 'p', 'r', 'o', …
    const [whole, letter] = [key('invtags-whole'), key('invtags-letter')];
    await cache().set(whole, 'W', { tags: ['products'] });
    await cache().set(letter, 'L', { tags: ['p'] });
    // @ts-expect-error — a string is not an array of tags (`Iterable<string> & object`).
    await assert.rejects(cache().invalidateTags('products'), (error: unknown) => {
      assert.ok(error instanceof CacheValueError);
      assert.match(error.message, /invalidateTags\(\['products'\]\)/);
      return true;
    });
    assert.equal(await cache().get(letter), 'L', "the tag 'p' was not invalidated");
    assert.equal(await cache().get(whole), 'W');
    await cache().invalidateTags(new Set(['products']));
    assert.equal(await cache().get(whole), undefined);
    assert.equal(await cache().get(letter), 'L');
  });

  it('a value stored after an invalidation carries the new token and hits', async () => {
    const k = key('after');
    await cache().set(k, 1, { tags: ['t-after'] });
    await cache().invalidateTags(['t-after']);
    await cache().set(k, 2, { tags: ['t-after'] });
    assert.equal(await cache().get(k), 2);
  });

  it('another process sees the invalidation (tag tokens live in the store)', async () => {
    const k = key('peer');
    await cache().set(k, 'v', { tags: ['shared-tag'] });
    const peer = driver().peer();
    assert.equal(await peer.get(k), 'v');
    await peer.invalidateTags(['shared-tag']);
    assert.equal(await cache().get(k), undefined);
  });

  it('a process that never used tags reads a tagged value and its invalidation', async () => {
    const k = key('fresh-reader');
    const peer = driver().peer();
    await peer.set(k, { x: 1 }, { tags: ['reader-tag'] });
    // The first read of an envelope goes through a plain GET, then switches to the full read.
    assert.deepEqual(await cache().get(k), { x: 1 });
    await peer.invalidateTags(['reader-tag']);
    assert.equal(await cache().get(k), undefined);
  });

  it('getMany, add and setMany honour tags', async () => {
    const [a, b, c, d] = [key('m'), key('m'), key('m'), key('m')];
    assert.deepEqual(await cache().setMany({ [a]: 1, [b]: 'two' }, { tags: ['many'] }), []);
    assert.equal(await cache().add(c, 3, { tags: ['many'] }), true);
    await cache().set(d, 'plain');
    const before = await cache().getMany([a, b, c, d]);
    assert.deepEqual(
      [...before.entries()],
      [
        [a, 1],
        [b, 'two'],
        [c, 3],
        [d, 'plain'],
      ],
    );
    await cache().invalidateTags(['many']);
    const after = await cache().getMany([a, b, c, d]);
    assert.deepEqual([...after.entries()], [[d, 'plain']]);
  });

  it('tagged values keep their type: integers, Dates, Maps', async () => {
    const k = key('types');
    const value = { when: new Date(0), counts: new Map([['x', 1n]]) };
    await cache().set(k, value, { tags: ['types'] });
    assert.deepEqual(await cache().get(k), value);
    const i = key('int');
    await cache().set(i, 42, { tags: ['types'] });
    assert.equal(await cache().get(i), 42);
  });

  it('bad tags are refused with a typed error and nothing is stored', async () => {
    const k = key('bad-tag');
    await assert.rejects(cache().set(k, 1, { tags: [''] }), CacheValueError);
    await assert.rejects(cache().set(k, 1, { tags: ['a\nb'] }), CacheKeyError);
    assert.equal(await cache().get(k), undefined);
  });

  it('invalidateTags of unknown tags and of none is harmless', async () => {
    await cache().invalidateTags([]);
    await cache().invalidateTags(['never-used-tag']);
    const k = key('harmless');
    await cache().set(k, 'x');
    assert.equal(await cache().get(k), 'x');
  });

  it('an invalidation during a getOrSet load wins over the value loaded', async () => {
    const k = key('race');
    const loading = gate<string>();
    const pending = cache().getOrSet(k, () => loading.promise, { tags: ['race-tag'] });
    await sleep(20);
    await cache().invalidateTags(['race-tag']);
    loading.open('old data');
    assert.equal(await pending, 'old data');
    // Stamped with the token taken before the load: already invalid.
    assert.equal(await cache().get(k), undefined);
  });

  // --- stampede -------------------------------------------------------------------------------

  it('100 concurrent getOrSet calls on a cold key run the loader once', async () => {
    const k = key('cold');
    let calls = 0;
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        cache().getOrSet(k, async () => {
          calls++;
          await sleep(30);
          return 'loaded';
        }),
      ),
    );
    assert.equal(calls, 1);
    assert.ok(results.every((r) => r === 'loaded'));
  });

  it('two processes on one store load a cold key once; the waiter is woken with the value', async () => {
    const k = key('two');
    const peer = driver().peer();
    let calls = 0;
    const loader = async () => {
      calls++;
      await sleep(100);
      return { v: 'once' };
    };
    const results = await Promise.all([
      cache().getOrSet(k, loader),
      peer.getOrSet(k, loader),
      peer.getOrSet(k, loader),
      cache().getOrSet(k, loader),
    ]);
    assert.equal(calls, 1);
    for (const r of results) assert.deepEqual(r, { v: 'once' });
  });

  it('keys() lists neither tag tokens nor a load in progress', async () => {
    const k = key('listed');
    const loading = gate<string>();
    const pending = cache().getOrSet(k, () => loading.promise, { tags: ['listed-tag'] });
    await sleep(20);
    const listed = await cache().keys(`${k}*`);
    assert.deepEqual(listed, [], 'only the lock and the tag token exist so far');
    loading.open('v');
    await pending;
    assert.deepEqual(await cache().keys(`${k}*`), [k]);
  });

  it('a loader that throws reaches its caller and stores nothing', async () => {
    const k = key('throws');
    await assert.rejects(
      cache().getOrSet(k, async () => {
        throw new Error('db down');
      }),
      /db down/,
    );
    assert.equal(await cache().get(k), undefined);
    // The lock was released: the next call loads.
    assert.equal(await cache().getOrSet(k, () => 'second'), 'second');
  });

  it('grace: a stale value is served while one caller refreshes; get misses it', async () => {
    const k = key('grace');
    await cache().getOrSet(k, () => 'v1', { timeout: 0.2, grace: 60 });
    await sleep(300);
    assert.equal(await cache().get(k), undefined, 'past its timeout, get misses');
    const entry = await cache().getEntry(k);
    assert.equal(entry.status, 'stale');
    assert.equal(entry.value, 'v1');
    const refreshing = gate<string>();
    let calls = 0;
    const loader = () => {
      calls++;
      return refreshing.promise;
    };
    const first = cache().getOrSet(k, loader, { timeout: 60, grace: 60 });
    await sleep(10);
    // Others don't wait for the refresh: they get the stale value at once.
    assert.equal(await cache().getOrSet(k, loader, { timeout: 60, grace: 60 }), 'v1');
    refreshing.open('v2');
    assert.equal(await first, 'v2');
    assert.equal(calls, 1);
    assert.equal(await cache().get(k), 'v2');
    assert.ok(cache().stats.staleHits >= 1);
  });

  it('grace: when the loader fails, the stale value is served (stale-if-error)', async () => {
    const k = key('sie');
    await cache().getOrSet(k, () => 'kept', { timeout: 0.1, grace: 60 });
    await sleep(200);
    const value = await cache().getOrSet(
      k,
      async () => {
        throw new Error('origin down');
      },
      { timeout: 60, grace: 60 },
    );
    assert.equal(value, 'kept');
  });

  it('grace: touch/expire give a fresh life of the new timeout and keep the grace; ttl excludes the grace', async () => {
    // Regression: touch set the store TTL to the new timeout alone while the envelope kept its
    // grace, so the value was stale (a get miss) at once; ttl reported timeout + grace.
    const k = key('touch-grace');
    await cache().getOrSet(k, () => 'fresh', { timeout: 60, grace: 3600 });
    const before = await cache().ttl(k);
    assert.ok(before !== null && before > 50 && before <= 60, `ttl before touch: ${before}`);
    assert.equal(await cache().touch(k, 600), true);
    assert.equal(await cache().get(k), 'fresh');
    assert.equal(await cache().has(k), true);
    const after = await cache().ttl(k);
    assert.ok(after !== null && after > 590 && after <= 600, `ttl after touch: ${after}`);
    const entry = await cache().getEntry(k);
    assert.ok(entry.status === 'hit' || entry.status === 'hit-local', entry.status);
    assert.equal(await cache().expire(k, '150ms'), true);
    assert.equal(await cache().get(k), 'fresh');
    await sleep(300);
    // Past the new timeout: a miss for get, but still kept for its grace (stale).
    assert.equal(await cache().get(k), undefined);
    assert.equal(await cache().ttl(k), 0);
    const stale = await cache().getEntry(k);
    assert.equal(stale.status, 'stale');
    assert.equal(stale.value, 'fresh');
  });

  it('softTimeout serves the stale value when the loader is slow; the load still lands', async () => {
    const k = key('soft');
    await cache().getOrSet(k, () => 'old', { timeout: 0.1, grace: 60 });
    await sleep(200);
    const slow = gate<string>();
    const value = await cache().getOrSet(k, () => slow.promise, {
      timeout: 60,
      grace: 60,
      softTimeout: '50ms',
    });
    assert.equal(value, 'old');
    slow.open('new');
    for (let i = 0; i < 50 && (await cache().get(k)) !== 'new'; i++) await sleep(20);
    assert.equal(await cache().get(k), 'new');
  });

  it('getOrSet takes grace 0 (the default: no grace) and softTimeout 0; a negative one is a ConfigError', async () => {
    // Regression: { grace: 0 } and { softTimeout: 0 } were ConfigErrors ("greater than zero").
    const k = key('zero');
    assert.equal(await cache().getOrSet(k, () => 'v', { grace: 0 }), 'v');
    assert.equal(await cache().getOrSet(key('zero-s'), () => 'v', { grace: '0s', softTimeout: 0 }), 'v');
    assert.notEqual((await cache().getEntry(k)).status, 'miss', 'stored');
    // softTimeout 0 with a stale value: served at once, while the refresh lands in the background.
    const stale = key('zero-soft');
    await cache().getOrSet(stale, () => 'old', { timeout: 0.1, grace: 60 });
    await sleep(200);
    const slow = gate<string>();
    const served = await cache().getOrSet(stale, () => slow.promise, {
      timeout: 60,
      grace: 60,
      softTimeout: 0,
    });
    assert.equal(served, 'old');
    slow.open('new');
    for (let i = 0; i < 100 && (await cache().get(stale)) !== 'new'; i++) await sleep(20);
    assert.equal(await cache().get(stale), 'new');
    for (const options of [{ grace: -1 }, { softTimeout: '-5s' }, { hardTimeout: 0 }]) {
      await assert.rejects(
        cache().getOrSet(key('zero-bad'), () => 'v', options),
        ConfigError,
        JSON.stringify(options),
      );
    }
  });

  it('hardTimeout without a stale value is a CacheLoadTimeoutError', async () => {
    const k = key('hard');
    const never = gate<string>();
    await assert.rejects(
      cache().getOrSet(k, () => never.promise, { hardTimeout: '50ms' }),
      (error: unknown) => error instanceof CacheLoadTimeoutError && error.status === 503,
    );
    never.open('late');
  });

  it('earlyRefresh refreshes a fresh value in the background before it expires', async () => {
    const k = key('early');
    // A loader that "took" long relative to the timeout makes an early refresh near-certain.
    await cache().getOrSet(
      k,
      async () => {
        await sleep(60);
        return 'first';
      },
      { timeout: 5, earlyRefresh: 1e6 },
    );
    let refreshed = 0;
    const value = await cache().getOrSet(
      k,
      () => {
        refreshed++;
        return 'second';
      },
      { timeout: 5, earlyRefresh: 1e6 },
    );
    assert.equal(value, 'first', 'the caller gets the current value, not the refresh');
    for (let i = 0; i < 100 && (await cache().get(k)) !== 'second'; i++) await sleep(20);
    assert.equal(refreshed, 1, `no early refresh ran; stats ${JSON.stringify(cache().stats)}`);
    assert.equal(await cache().get(k), 'second');
  });

  it('getEntry reports hit with age and freshness for values with an envelope, miss otherwise', async () => {
    const k = key('entry');
    assert.equal((await cache().getEntry(k)).status, 'miss');
    const plain = key('plain');
    await cache().set(plain, 'p', { timeout: 60 });
    const plainEntry = await cache().getEntry(plain);
    assert.equal(plainEntry.age, undefined, 'a plain value does not record when it was written');
    assert.ok(plainEntry.expiresAt && plainEntry.expiresAt > Date.now() + 50_000);
    await cache().getOrSet(k, () => 'e', { timeout: 60, grace: 10 });
    const entry = await cache().getEntry(k);
    assert.ok(entry.status === 'hit' || entry.status === 'hit-local', entry.status);
    assert.equal(entry.value, 'e');
    assert.ok(entry.age !== undefined && entry.age >= 0 && entry.age < 5, String(entry.age));
    assert.ok(entry.expiresAt && entry.expiresAt > Date.now() + 50_000);
  });
});
