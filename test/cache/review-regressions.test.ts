/**
 * Regressions from the code review of session 1, each named after what it guards:
 * clear() of a cache whose prefix is a prefix of another's; cache names that exist on
 * Object.prototype; incr past Redis' 64-bit range; setMany reporting exactly what failed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { createLarder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { startStandalone } from '../support/redis-server.js';

test('clear() spares a cache whose prefix extends this one (shop vs shop:eu) on one Redis db', async () => {
  const base = uniquePrefix('shop');
  const larder = createLarder(
    {
      logger: false,
      redis: redisUrlFor('standalone')!,
      caches: {
        default: { backend: 'redis', keyPrefix: base },
        eu: { backend: 'redis', keyPrefix: `${base}:eu` },
      },
    },
    {},
  );
  try {
    await larder.cache('eu').set('cart', 'eu cart');
    await larder.cache().set('cart', 'default cart');
    await larder.cache().clear();
    assert.equal(await larder.cache().get('cart'), undefined);
    assert.equal(await larder.cache('eu').get('cart'), 'eu cart');
  } finally {
    await larder.close();
  }
});

test("larder.cache('constructor') is a ConfigError, not Object.prototype's", async () => {
  const larder = createLarder({ logger: false }, {});
  try {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      assert.throws(() => larder.cache(name), ConfigError, name);
    }
  } finally {
    await larder.close();
  }
});

test('incr past the 64-bit range is a CacheValueError on Redis, as on memory', async () => {
  const larder = createLarder({ logger: false, redis: redisUrlFor('standalone')! }, {});
  try {
    const cache = larder.cache();
    const key = uniquePrefix('big');
    await larder.connection().send(['SET', cache.makeKey(key), '9223372036854775807']);
    await assert.rejects(cache.incr(key), { code: 'E_CACHE_VALUE' });
  } finally {
    await larder.close();
  }
});

test('setMany reports exactly the keys that failed and keeps the others', async () => {
  // An ACL user that may write only keys containing "ok": the server refuses the other SET.
  const server = await startStandalone({
    users: ['app on >pw ~*ok* &* +@all'],
    auth: { username: 'app', password: 'pw' },
  });
  const larder = createLarder({ logger: false, redis: `redis://app:pw@127.0.0.1:${server.port}` }, {});
  try {
    const cache = larder.cache();
    const failed = await cache.setMany([
      ['ok-1', 1],
      ['nope', 2],
      ['ok-2', 3],
    ]);
    assert.deepEqual(failed, ['nope']);
    assert.equal(await cache.get('ok-1'), 1);
    assert.equal(await cache.get('ok-2'), 3);
  } finally {
    await larder.close();
    await server.stop();
  }
});
