/**
 * Regression: a tracking socket that goes silent without closing (a half-open TCP
 * connection, a partition) was never noticed — nothing checked it was alive — so the
 * in-process tier kept serving copies that other clients had long since overwritten. The
 * hub's heartbeat must catch it, flush the tier and reconnect, even when the cache sends
 * no command at all (every read a local hit).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LocalTier } from '../../src/cache/local-tier.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { type BlackholeProxy, startBlackholeProxy } from '../redis/blackhole-proxy.js';
import { uniquePrefix } from '../support/conformance.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';

/** Generous: the heartbeat notices a silent socket after about a second. */
const BOUND_MS = 20_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let server: RedisServerHandle;
let proxy: BlackholeProxy;
let larder: Larder;

before(async () => {
  server = await startStandalone();
  proxy = await startBlackholeProxy(server.port);
  larder = createLarder(
    {
      logger: false,
      caches: {
        default: {
          backend: 'tiered',
          location: proxy.url,
          keyPrefix: uniquePrefix('silent'),
          ignoreErrors: true,
        },
      },
    },
    {},
  );
});
after(async () => {
  await larder?.close();
  await proxy?.close();
  await server?.stop();
});

test('a silent tracking socket is noticed by the heartbeat: the tier is flushed and reads see the new value', async () => {
  const cache = larder.cache();
  const tier = cache.backend.local as LocalTier;
  await cache.set('k', 'v1');
  const started = performance.now();
  while ((await cache.getEntry('k')).status !== 'hit-local') {
    if (performance.now() - started > BOUND_MS) assert.fail('k never reached the tier');
    await sleep(10);
  }
  const losses = tier.stats.trackingLosses;

  // Every socket larder has open (commands and tracking) goes silent; another client writes.
  proxy.blackhole();
  await server.cli('SET', cache.makeKey('k'), '"v2"');

  // Only local hits from here until the tier is flushed: no command is sent, so nothing but
  // a check of the tracking socket itself can notice it is dead.
  const since = performance.now();
  while (tier.stats.trackingLosses === losses) {
    if (performance.now() - since > BOUND_MS)
      assert.fail(
        `the tier still serves ${JSON.stringify(await cache.get('k'))} from a dead tracking socket`,
      );
    await sleep(20);
  }
  // Flushed: the next reads go to Redis (the silent command socket is replaced at its deadline).
  const reread = performance.now();
  for (let value = await cache.get('k'); value !== 'v2'; value = await cache.get('k')) {
    if (performance.now() - reread > BOUND_MS) assert.fail(`get(k) still answers ${JSON.stringify(value)}`);
    await sleep(20);
  }
});
