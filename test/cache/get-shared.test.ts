/**
 * getShared: one decode per stored payload, shared by every caller in the process, and a
 * fresh value as soon as the store holds other bytes — on memory and Redis.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NOT_IN_PROCESS } from '../../src/cache/cache.js';
import { createLarder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

for (const target of ['memory', 'standalone'] as const) {
  test(`getShared decodes once per payload and follows changes (${target})`, async () => {
    const larder = createLarder(
      {
        logger: false,
        redis: target === 'memory' ? false : redisUrlFor('standalone')!,
        caches: {
          default: { backend: target === 'memory' ? 'memory' : 'redis', keyPrefix: uniquePrefix('shared') },
        },
      },
      {},
    );
    try {
      const cache = larder.cache();
      await cache.set('page', { n: 1 });
      const a = await cache.getShared<{ n: number }>('page');
      const b = await cache.getShared<{ n: number }>('page');
      assert.deepEqual(a, { n: 1 });
      assert.equal(a, b, 'the same object while the stored bytes are the same');
      assert.notEqual(await cache.get('page'), a, 'get still decodes a private copy');
      await cache.set('page', { n: 2 });
      assert.deepEqual(await cache.getShared('page'), { n: 2 });
      await cache.delete('page');
      assert.equal(await cache.getShared('page'), undefined);
    } finally {
      await larder.close();
    }
  });
}

/** A Redis-backed larder whose default cache counts the GETs its backend sends. */
function countingRedisCache() {
  const larder = createLarder(
    {
      logger: false,
      redis: redisUrlFor('standalone')!,
      caches: { default: { backend: 'redis', keyPrefix: uniquePrefix('shared-join') } },
    },
    {},
  );
  const cache = larder.cache();
  const backend = cache.backend as { get: (key: string) => Promise<unknown> };
  const get = backend.get.bind(backend);
  const counted = { gets: 0 };
  backend.get = (key) => {
    counted.gets++;
    return get(key);
  };
  return { larder, cache, counted };
}

test('concurrent getShared calls of one key join one read in flight (standalone)', async () => {
  const { larder, cache, counted } = countingRedisCache();
  try {
    await cache.set('page', { n: 1 });
    const hitsBefore = cache.stats.hits;
    const values = await Promise.all(
      Array.from({ length: 50 }, () => cache.getShared<{ n: number }>('page')),
    );
    assert.equal(counted.gets, 1, 'fifty callers in one turn: one GET');
    assert.ok(values.every((v) => v === values[0]));
    assert.deepEqual(values[0], { n: 1 });
    assert.equal(cache.stats.hits - hitsBefore, 50, 'every caller counts as a hit');
    // Once the read has landed, the next caller sends its own.
    assert.deepEqual(await cache.getShared('page'), { n: 1 });
    assert.equal(counted.gets, 2);
    const misses = cache.stats.misses;
    assert.deepEqual(await Promise.all([cache.getShared('absent'), cache.getShared('absent')]), [
      undefined,
      undefined,
    ]);
    assert.equal(counted.gets, 3);
    assert.equal(cache.stats.misses - misses, 2, 'a joined miss counts as a miss');
  } finally {
    await larder.close();
  }
});

test('a getShared read sent before a write in this process is never joined after it (standalone)', async () => {
  const { larder, cache, counted } = countingRedisCache();
  try {
    await cache.set('page', { n: 1 });
    // Same turn: the first read is in flight when the delete and the second read are sent.
    const before = cache.getShared<{ n: number }>('page');
    const deleted = cache.delete('page');
    const after = cache.getShared<{ n: number }>('page');
    assert.deepEqual(await before, { n: 1 });
    assert.equal(await deleted, true);
    assert.equal(await after, undefined, 'the read after the delete does not see the page');
    assert.equal(counted.gets, 2);

    await cache.set('page', { n: 2 });
    const old = cache.getShared<{ n: number }>('page');
    const replaced = cache.set('page', { n: 3 });
    const fresh = cache.getShared<{ n: number }>('page');
    assert.deepEqual(await old, { n: 2 });
    await replaced;
    assert.deepEqual(await fresh, { n: 3 });

    // clear() scans before it deletes, so a read sent in its turn may still see the page;
    // it must not join the read sent before it, though.
    const gets = counted.gets;
    const stale = cache.getShared('page');
    const cleared = cache.clear();
    const next = cache.getShared('page');
    await Promise.all([stale, cleared, next]);
    assert.equal(counted.gets - gets, 2, 'the read after clear() sends its own GET');
    assert.equal(await cache.getShared('page'), undefined);
  } finally {
    await larder.close();
  }
});

test('getSharedNow answers in the same turn only from this process: memory, a tiered cache’s tier', async () => {
  const larder = createLarder(
    {
      logger: false,
      redis: redisUrlFor('standalone')!,
      caches: {
        default: { backend: 'redis', keyPrefix: uniquePrefix('now-redis') },
        local: { backend: 'memory' },
        tiered: { backend: 'tiered', keyPrefix: uniquePrefix('now-tiered') },
      },
    },
    {},
  );
  try {
    const remote = larder.cache('default');
    await remote.set('page', { n: 1 });
    assert.equal(remote.getSharedNow('page'), NOT_IN_PROCESS, 'Redis needs a round trip');

    const memory = larder.cache('local');
    assert.equal(memory.getSharedNow('page'), undefined, 'a miss is known at once');
    await memory.set('page', { n: 1 });
    const now = memory.getSharedNow<{ n: number }>('page');
    assert.deepEqual(now, { n: 1 });
    assert.equal(now, await memory.getShared('page'), 'the same shared object as getShared');
    assert.deepEqual(memory.stats, { ...memory.stats, hits: 2, misses: 1 });
    await memory.set('tagged', { n: 2 }, { tags: ['t'] });
    assert.equal(memory.getSharedNow('tagged'), NOT_IN_PROCESS, 'a tagged value needs its tags checked');
    assert.equal(memory.getSharedNow('page'), now, 'a value without tags is still answered at once');
    assert.throws(() => memory.getSharedNow('bad key\n'), /key/i);

    const tiered = larder.cache('tiered');
    await tiered.set('page', { n: 3 });
    assert.equal(tiered.getSharedNow('page'), NOT_IN_PROCESS, 'not in the tier until read');
    // The invalidation of our own SET may reach the tracking socket after a first read and
    // refuse that fill (it cannot tell it from a foreign write): read until the tier holds it.
    for (let reads = 0; tiered.getSharedNow('page') === NOT_IN_PROCESS; reads++) {
      assert.ok(reads < 500, 'a read never filled the tier');
      assert.deepEqual(await tiered.get('page'), { n: 3 });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.deepEqual(tiered.getSharedNow('page'), { n: 3 });
    await tiered.delete('page');
    assert.equal(tiered.getSharedNow('page'), NOT_IN_PROCESS, 'a delete empties the tier');
  } finally {
    await larder.close();
  }
});
