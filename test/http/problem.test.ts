/** errorResponse: the problem+json answer for a larder error, with the headers it needs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BackendUnavailableError, RateLimitedError } from '../../src/errors.js';
import { errorResponse } from '../../src/http/problem.js';

test('errorResponse: a RateLimitedError answers 429 with its Retry-After', () => {
  const out = errorResponse(new RateLimitedError('Too many requests.', 2.2));
  assert.equal(out.status, 429);
  assert.equal(out.headers['retry-after'], '3');
  assert.equal(out.headers['content-type'], 'application/problem+json');
  assert.equal(out.headers['cache-control'], 'no-store');
  assert.equal(JSON.parse(String(out.body)).retryAfter, 3);
});

test('errorResponse: an error without headers of its own gets none', () => {
  const out = errorResponse(new BackendUnavailableError('caches.default', 'Redis is down.'));
  assert.equal(out.status, 503);
  assert.deepEqual(Object.keys(out.headers).sort(), ['cache-control', 'content-type']);
});

test('errorResponse: anything else is rethrown', () => {
  const plain = new Error('not ours');
  assert.throws(
    () => errorResponse(plain),
    (error) => error === plain,
  );
});
