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
