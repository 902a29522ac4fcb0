/**
 * Regression: when the command connection replaced a socket that missed its deadline (the
 * server silent behind a partition), the tracking socket to the same server — silent too —
 * stayed "up", and the tier it feeds kept serving stale copies. The hub must take the
 * tracking-lost path (flush, reconnect) as soon as the command socket is replaced, without
 * waiting for its heartbeat (turned off here).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LocalTier } from '../../src/cache/local-tier.js';
import { parseLocation } from '../../src/config/location.js';
import { RedisConnection } from '../../src/redis/connection.js';
import { TrackingHub } from '../../src/redis/tracking.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';
import { type BlackholeProxy, startBlackholeProxy } from './blackhole-proxy.js';

const BOUND_MS = 20_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(what: string, condition: () => boolean): Promise<void> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > BOUND_MS) assert.fail(`${what}: not within ${BOUND_MS} ms`);
    await sleep(10);
  }
}

let server: RedisServerHandle;
let proxy: BlackholeProxy;
let commands: RedisConnection;
let hub: TrackingHub;

before(async () => {
  server = await startStandalone();
  proxy = await startBlackholeProxy(server.port);
  const location = parseLocation({ url: proxy.url, commandTimeout: '200ms' }, 'redis');
  commands = new RedisConnection(location);
  // A heartbeat of an hour: only the command connection's stall can reveal the silent socket.
  hub = new TrackingHub(location, { commands, heartbeatMs: 3_600_000 });
});
after(async () => {
  await hub?.close();
  await commands?.close();
  await proxy?.close();
  await server?.stop();
});

test('a command socket replaced for missing its deadline makes the hub replace the tracking socket and flush', async () => {
  const tier = new LocalTier();
  const unsubscribe = hub.subscribe({ prefix: 'silent:', store: tier });
  try {
    await commands.send(['SET', 'silent:k', 'v1']);
    await until('tracking to come up', () => tier.isTracking);
    tier.remember('silent:k', { value: 'v1', expiresAt: null, bytes: 2 }, tier.mark('silent:k'));
    assert.equal(tier.get('silent:k')?.value, 'v1');

    proxy.blackhole();
    await server.cli('SET', 'silent:k', 'v2'); // lost on the silent tracking socket
    await assert.rejects(commands.send(['GET', 'silent:k']), /no reply within/);

    await until('the tier to be flushed', () => tier.stats.trackingLosses === 1);
    assert.equal(tier.get('silent:k'), undefined);
    // A fresh tracking socket (through the proxy, past the blackhole) registers again…
    await until('tracking to come back', () => tier.isTracking);
    // …and carries invalidations: a new copy is evicted by the next foreign write.
    tier.remember('silent:k', { value: 'v2', expiresAt: null, bytes: 2 }, tier.mark('silent:k'));
    await server.cli('SET', 'silent:k', 'v3');
    await until('the foreign write to evict the copy', () => tier.get('silent:k') === undefined);
  } finally {
    unsubscribe();
  }
});
