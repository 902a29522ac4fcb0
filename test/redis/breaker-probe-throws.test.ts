/**
 * Regression: when the call let through as the half-open probe threw before sending anything
 * (a synchronous throw in the function given to `run`), nothing ever settled the probe, so
 * the breaker stayed half-open and refused every later call — and health said down — for
 * good, with the server answering all along.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { parseLocation } from '../../src/config/location.js';
import { RedisConnection } from '../../src/redis/connection.js';
import { redisUrlFor } from '../support/conformance.js';

const conn = new RedisConnection(parseLocation(redisUrlFor('standalone')!, 'redis'));
after(() => conn.close());

test('a probe that throws before sending lets the next call probe', async () => {
  await conn.run((c) => c.set('probe-throws:k', 'v'));
  conn.breaker.trip();
  await new Promise((resolve) => setTimeout(resolve, conn.breaker.cooldownMs + 20));
  assert.equal(conn.breaker.state, 'half-open');
  await assert.rejects(
    conn.run(() => {
      throw new RangeError('refused before sending');
    }),
    /refused before sending/,
  );
  assert.equal(await conn.run((c) => c.get('probe-throws:k')), 'v');
  assert.equal(conn.breaker.state, 'closed');
  const health = await conn.health();
  assert.equal(health.status, 'up');
});
