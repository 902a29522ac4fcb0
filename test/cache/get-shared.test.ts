/**
 * getShared: one decode per stored payload, shared by every caller in the process, and a
 * fresh value as soon as the store holds other bytes — on memory and Redis.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
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
    const values = await Promise.all(Array.from({ length: 50 }, () => cache.getShared<{ n: number }>('page')));
    assert.equal(counted.gets, 1, 'fifty callers in one turn: one GET');
    assert.ok(values.every((v) => v === values[0]));
    assert.deepEqual(values[0], { n: 1 });
    assert.equal(cache.stats.hits - hitsBefore, 50, 'every caller counts as a hit');
    // Once the read has landed, the next caller sends its own.
    assert.deepEqual(await cache.getShared('page'), { n: 1 });
    assert.equal(counted.gets, 2);
    const misses = cache.stats.misses;
    assert.deepEqual(await Promise.all([cache.getShared('absent'), cache.getShared('absent')]), [undefined, undefined]);
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
