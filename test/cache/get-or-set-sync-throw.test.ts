/**
 * Regression: a getOrSet loader that throws synchronously (or a value of `undefined`) once
 * left a settled entry in the single-flight map, so every later call on that key got the
 * same rejection (found by the fragment tests).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLarder } from '../../src/larder.js';

test('a loader that throws synchronously does not poison later calls', async () => {
  const larder = createLarder({ logger: false }, {});
  const cache = larder.cache();
  await assert.rejects(
    cache.getOrSet('k', () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(await cache.getOrSet('k', () => 'fine'), 'fine');
  assert.equal(await cache.getOrSet('u', undefined), undefined);
  assert.equal(await cache.getOrSet('u', () => 2), 2);
  await larder.close();
});
