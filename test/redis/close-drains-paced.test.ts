/**
 * Regression: calls that pacing held for a later event-loop turn (past PACE in one turn)
 * were sent after close() had dropped the clients, so each failed with a TypeError from
 * inside the caller's own function ("Cannot read properties of undefined (reading 'get')")
 * instead of being drained like the calls already sent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLocation } from '../../src/config/location.js';
import { PACE, RedisConnection } from '../../src/redis/connection.js';
import { redisUrlFor } from '../support/conformance.js';

test('close() drains the calls pacing held back, as it drains those in flight', async () => {
  const conn = new RedisConnection(parseLocation(redisUrlFor('standalone')!, 'redis'));
  await conn.run((c) => c.set('close-drains:k', 'v'));
  const calls = Array.from({ length: PACE * 3 }, () => conn.run((c) => c.get('close-drains:k')));
  const settled = Promise.allSettled(calls);
  await conn.close();
  const results = await settled;
  const failures = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
  assert.deepEqual(failures, []);
  assert.ok(results.every((r) => r.status === 'fulfilled' && r.value === 'v'));
  // And a call after close() is refused with a typed error that says why.
  await assert.rejects(
    conn.run((c) => c.get('close-drains:k')),
    /closed/,
  );
});
