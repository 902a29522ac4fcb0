/**
 * A server at maxmemory under `noeviction` refuses writes with `OOM`. Found by the deployment
 * guide's sizing runs: rate limiters and leaderboards let node-redis' raw reply error escape.
 * Now a limiter that cannot count follows its outage policy (as if Redis were down), and a
 * leaderboard write is a typed 503 that says what to do; reads keep working.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BackendUnavailableError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';

describe('a Redis server out of memory (noeviction)', () => {
  let server: RedisServerHandle;
  let larder: Larder;

  before(async () => {
    server = await startStandalone({ args: ['--maxmemory-policy', 'noeviction'] });
    larder = createLarder({ redis: server.url, logger: false }, {});
  });
  after(async () => {
    await larder.close();
    await server.stop();
  });

  it('rate limiters follow the outage policy; leaderboard writes are a typed 503, reads still work', async () => {
    const counted = larder.rateLimiter({ name: 'oom-insured', limit: 2, window: 60 });
    const strict = larder.rateLimiter({ name: 'oom-strict', limit: 2, window: 60, insurance: false });
    const open = larder.rateLimiter({
      name: 'oom-open',
      limit: 2,
      window: 60,
      insurance: false,
      failOpen: true,
    });
    const board = larder.leaderboard('oom-board');
    assert.equal(
      (await counted.consume('ip:1')).degraded,
      false,
      'counted in Redis before the server filled up',
    );
    await board.incr('alice', 5);

    // Any used memory is now over the limit: every write that may grow memory is refused.
    await server.command('CONFIG', 'SET', 'maxmemory', '1');

    const insured = await counted.consume('ip:2');
    assert.equal(insured.degraded, true, 'the insurance limiter counted');
    assert.equal(insured.allowed, true);
    assert.equal((await open.consume('ip:2')).degraded, true);
    await assert.rejects(strict.consume('ip:2'), (error: unknown) => {
      assert.ok(error instanceof BackendUnavailableError, String(error));
      assert.equal(error.status, 503);
      assert.match(error.message, /OOM/);
      assert.match(error.message, /maxmemory/);
      return true;
    });
    await assert.rejects(board.incr('bob', 1), (error: unknown) => {
      assert.ok(error instanceof BackendUnavailableError, String(error));
      assert.equal(error.status, 503);
      assert.match(error.message, /leaderboard write/);
      assert.match(error.message, /maxmemory/);
      return true;
    });
    assert.deepEqual(
      (await board.top(10)).map((e) => [e.member, e.score]),
      [['alice', 5]],
      'the board is as it was; reads work',
    );
  });
});
