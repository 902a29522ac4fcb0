/**
 * Global deployments: a cache whose location is a region map reads and writes the nearby
 * server, `forRegion` reaches another region's, and `{region}` in keyPrefix keeps
 * region-specific data apart — two real redis-servers stand in for two regions.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';

let us: RedisServerHandle;
let eu: RedisServerHandle;
let larder: Larder;

before(async () => {
  [us, eu] = await Promise.all([startStandalone(), startStandalone()]);
  larder = createLarder(
    {
      logger: false,
      caches: {
        default: {
          backend: 'redis',
          keyPrefix: 'shop:{region}',
          location: { regions: { us: us.url, eu: eu.url } },
        },
      },
    },
    { LARDER_REGION: 'us' },
  );
});
after(async () => {
  await larder?.close();
  await Promise.all([us?.stop(), eu?.stop()]);
});

test('the process region (LARDER_REGION) picks the nearby server and fills {region} in keys', async () => {
  const cache = larder.cache();
  assert.equal(cache.region, 'us');
  await cache.set('products:123', { name: 'kettle', price: 30 });
  assert.equal(await us.cli('GET', 'shop:us:1:products:123'), '{"name":"kettle","price":30}');
  assert.equal(await eu.cli('EXISTS', 'shop:us:1:products:123'), '0');
  assert.deepEqual(await cache.get('products:123'), { name: 'kettle', price: 30 });
});

test('forRegion writes and reads on the other region’s server, with its own key prefix', async () => {
  const europe = larder.cache().forRegion('eu');
  assert.equal(europe.region, 'eu');
  await europe.set('products:123', { name: 'kettle', price: 28 });
  assert.equal(await eu.cli('GET', 'shop:eu:1:products:123'), '{"name":"kettle","price":28}');
  assert.deepEqual(await europe.get('products:123'), { name: 'kettle', price: 28 });
  // The US copy is untouched.
  assert.deepEqual(await larder.cache().get('products:123'), { name: 'kettle', price: 30 });
  assert.equal(larder.cache().forRegion('eu'), europe, 'one twin per region');
  assert.equal(europe.forRegion('us'), larder.cache(), 'and back home');
});

test('an unknown region is a ConfigError listing the configured ones', () => {
  assert.throws(
    () => larder.cache().forRegion('apac'),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /'us', 'eu'/);
      return true;
    },
  );
});

test('a region map without a chosen region is a ConfigError saying how to choose', () => {
  assert.throws(
    () =>
      createLarder(
        { logger: false, caches: { default: { backend: 'redis', location: { regions: { us: us.url } } } } },
        {},
      ),
    (error: unknown) => error instanceof ConfigError && /LARDER_REGION|region/.test(error.message),
  );
});

test('forRegion on a cache without a region map is a ConfigError', async () => {
  const plain = createLarder({ logger: false }, {});
  try {
    assert.throws(() => plain.cache().forRegion('eu'), ConfigError);
  } finally {
    await plain.close();
  }
});
