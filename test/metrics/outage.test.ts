/**
 * Errors are counted where they happen: with the Redis server killed, a cache read under
 * `ignoreErrors` is a miss counted as an error of `get`, and a rate-limit check answered by
 * the insurance limiter is counted as degraded (and as an error of `consume`) — each call
 * still counted and timed once. The metrics route answers 200 with the exposition.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metricsResponse } from '../../src/http/metrics.js';
import { createLarder } from '../../src/index.js';
import { startStandalone } from '../support/redis-server.js';
import { histogramCount, parseExposition } from './exposition.js';

describe('metrics during an outage', () => {
  it('counts degraded calls as errors, each call once', async () => {
    const server = await startStandalone();
    const larder = createLarder(
      {
        redis: { url: server.url, commandTimeout: '300ms', connectTimeout: '300ms' },
        caches: { default: { backend: 'redis', ignoreErrors: true, commandTimeout: '250ms' } },
        logger: false,
      },
      {},
    );
    try {
      const cache = larder.cache();
      const limiter = larder.rateLimiter({ name: 'insured', limit: 5, window: 60 });
      await cache.set('k', 'v');
      assert.equal(await cache.get('k'), 'v');
      assert.equal((await limiter.consume('subject')).degraded, false);

      await server.kill();
      assert.equal(await cache.get('k'), undefined);
      assert.equal(await cache.get('k', 'fallback'), 'fallback');
      const insured = await limiter.consume('subject');
      assert.deepEqual([insured.allowed, insured.degraded], [true, true]);

      const response = await metricsResponse(larder);
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal(response.headers['cache-control'], 'no-store');
      const expo = parseExposition(response.body);
      const get = { cache: 'default', op: 'get' };
      assert.equal(expo.value('larder_cache_operations_total', get), 3);
      assert.equal(expo.value('larder_cache_operation_errors_total', get), 2);
      assert.equal(histogramCount(expo, 'larder_cache_operation_duration_seconds', get), 3);
      assert.equal(expo.value('larder_cache_hits_total', { cache: 'default' }), 1);
      assert.equal(expo.value('larder_cache_hit_ratio', { cache: 'default' }), 1, 'an error is not a lookup');
      assert.equal(larder.metrics.snapshot().caches.default?.errors, 2);

      assert.equal(expo.value('larder_ratelimit_checks_total', { limiter: 'insured', result: 'allowed' }), 2);
      assert.equal(expo.value('larder_ratelimit_degraded_total', { limiter: 'insured' }), 1);
      assert.equal(expo.value('larder_ratelimit_errors_total', { limiter: 'insured', op: 'consume' }), 1);
      assert.equal(
        histogramCount(expo, 'larder_ratelimit_check_duration_seconds', {
          limiter: 'insured',
          op: 'consume',
        }),
        2,
      );
    } finally {
      await larder.close();
      await server.stop();
    }
  });
});
