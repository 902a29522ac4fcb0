/**
 * Regression: getOrSet with hardTimeout (or softTimeout) armed a referenced timer per call
 * and never cleared it when the load won the race, so a burst of calls kept the process alive
 * for the whole timeout after the last one answered (10,000 misses with hardTimeout '8s': 8 s);
 * and a timeout past setTimeout's limit must not fire at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLarder } from '../../src/larder.js';

/** Timers keeping the event loop alive now. */
const timers = () => process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;
const CALLS = 200;

test('getOrSet leaves no timer behind once its load has won the hardTimeout / softTimeout race', async () => {
  const larder = createLarder(
    { logger: false, redis: false, caches: { default: { backend: 'memory' } } },
    {},
  );
  try {
    const cache = larder.cache();
    const before = timers();
    // Misses: each call loads, under a hard timeout.
    for (let i = 0; i < CALLS; i++) {
      assert.equal(await cache.getOrSet(`hard-${i}`, async () => i, { hardTimeout: '20s' }), i);
    }
    // Stale values refreshed under a soft timeout.
    for (let i = 0; i < CALLS; i++) {
      await cache.getOrSet(`soft-${i}`, () => 'old', { timeout: 0.001, grace: 60 });
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (let i = 0; i < CALLS; i++) {
      const value = await cache.getOrSet(`soft-${i}`, async () => 'new', {
        timeout: 60,
        grace: 60,
        softTimeout: '20s',
      });
      assert.equal(value, 'new');
    }
    const left = timers() - before;
    assert.ok(left < CALLS / 10, `${left} timers left running after ${2 * CALLS} answered calls`);
  } finally {
    await larder.close();
  }
});

test('a hardTimeout past setTimeout’s 2^31-1 ms limit waits for the load instead of firing at once', async () => {
  const larder = createLarder(
    { logger: false, redis: false, caches: { default: { backend: 'memory' } } },
    {},
  );
  try {
    const cache = larder.cache();
    // setTimeout fires a delay over ~24.8 days after 1 ms: the load, 30 ms, would have lost.
    const slow = () => new Promise<string>((resolve) => setTimeout(resolve, 30, 'loaded'));
    assert.equal(await cache.getOrSet('long-hard', slow, { hardTimeout: '30d' }), 'loaded');
    assert.equal(
      await cache.getOrSet('long-soft', slow, { timeout: 60, grace: 60, softTimeout: '30d' }),
      'loaded',
    );
  } finally {
    await larder.close();
  }
});
