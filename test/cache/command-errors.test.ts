/**
 * Errors Redis sends back for a cache command (not outages): they reach the caller as a typed
 * `CacheCommandError` that says what to do. `OOM` — the server cannot store anything now — is a
 * no-op with `ignoreErrors`, like an outage; `WRONGTYPE` always throws (the key belongs to
 * another program). A real server with `noeviction` and a `maxmemory` below its use produces the OOM.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CacheCommandError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';

describe('cache commands Redis refuses', () => {
  let server: RedisServerHandle;
  let larder: Larder;

  before(async () => {
    server = await startStandalone({ args: ['--maxmemory-policy', 'noeviction'] });
    larder = createLarder(
      {
        redis: server.url,
        caches: { default: { keyPrefix: 'strict' }, lenient: { keyPrefix: 'lenient', ignoreErrors: true } },
        logger: false,
      },
      {},
    );
  });
  after(async () => {
    await larder.close();
    await server.stop();
  });

  it('WRONGTYPE: a key holding a list is a CacheCommandError naming the cache, the call and the advice', async () => {
    const cache = larder.cache();
    await server.command('RPUSH', cache.makeKey('listy'), 'a');
    await assert.rejects(cache.get('listy'), (error: unknown) => {
      assert.ok(error instanceof CacheCommandError);
      assert.equal(error.code, 'E_CACHE_COMMAND');
      assert.equal(error.operation, 'get');
      assert.match(error.reply, /^WRONGTYPE/);
      assert.match(error.message, /keyPrefix or database/);
      return true;
    });
    // Even with ignoreErrors: the key is someone else's, not a passing outage.
    const lenient = larder.cache('lenient');
    await server.command('RPUSH', lenient.makeKey('listy'), 'a');
    await assert.rejects(lenient.get('listy'), CacheCommandError);
  });

  it('OOM: a write throws CacheCommandError; with ignoreErrors it is a no-op and reads still work', async () => {
    const cache = larder.cache();
    const lenient = larder.cache('lenient');
    await lenient.set('kept', 'before the server filled up');
    // Any used memory is now over the limit: every write that may grow memory is refused.
    await server.command('CONFIG', 'SET', 'maxmemory', '1');
    await assert.rejects(cache.set('k', 'v'), (error: unknown) => {
      assert.ok(error instanceof CacheCommandError);
      assert.match(error.reply, /^OOM/);
      assert.match(error.message, /allkeys-lru/);
      return true;
    });
    await lenient.set('k', 'v');
    assert.equal(await lenient.get('k'), undefined, 'nothing was stored');
    assert.equal(await lenient.get('kept'), 'before the server filled up');
    assert.ok(lenient.stats.errors >= 1);
  });
});
