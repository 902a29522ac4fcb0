/**
 * Regression: a command with a bad argument (node-redis' encoder refuses `undefined` or a
 * number with a TypeError, before anything is sent) was taken for an outage — wrapped in
 * BackendUnavailableError ("Check that the server is running") and counted as a breaker
 * strike, so three such calls opened the breaker and every call on a healthy server failed
 * fast for the cooldown.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { parseLocation } from '../../src/config/location.js';
import { BackendUnavailableError } from '../../src/errors.js';
import { isAvailabilityError, RedisConnection } from '../../src/redis/connection.js';
import { redisUrlFor } from '../support/conformance.js';

const conn = new RedisConnection(parseLocation(redisUrlFor('standalone')!, 'redis'));
after(() => conn.close());

test('a bad argument is a TypeError, not an outage, and never opens the breaker', async () => {
  await conn.run((c) => c.set('bad-args:k', 'v'));
  for (let i = 0; i < 5; i++) {
    await assert.rejects(
      conn.send(['SET', 'bad-args:k', undefined as unknown as string]),
      (error: unknown) => {
        assert.ok(error instanceof TypeError, `got ${String(error)}`);
        assert.ok(!(error instanceof BackendUnavailableError));
        assert.equal(isAvailabilityError(error), false);
        assert.match((error as Error).message, /must be of type/);
        return true;
      },
    );
  }
  assert.equal(conn.breaker.state, 'closed');
  assert.equal(await conn.run((c) => c.get('bad-args:k')), 'v');
});
