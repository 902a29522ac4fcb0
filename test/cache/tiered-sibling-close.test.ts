/**
 * Regression: two tiered caches on one location share a tracking hub, which closes when its
 * last subscribed cache leaves. A sibling created but not yet subscribed (tiers subscribe on
 * their first read) held the closed hub and failed every read with a plain
 * `Error: TrackingHub: subscribe after close` — even with ignoreErrors.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LocalTier } from '../../src/cache/local-tier.js';
import { BackendUnavailableError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { TrackingHub } from '../../src/redis/tracking.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';

const BOUND_MS = 10_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > BOUND_MS) assert.fail(`${what}: not within ${BOUND_MS} ms`);
    await sleep(10);
  }
}

let server: RedisServerHandle;
before(async () => {
  server = await startStandalone();
});
after(async () => {
  await server?.stop();
});

function open(): Larder {
  return createLarder(
    {
      logger: false,
      caches: {
        default: { backend: 'memory' },
        pages: { backend: 'tiered', location: server.url, keyPrefix: uniquePrefix('pages') },
        frags: {
          backend: 'tiered',
          location: server.url,
          keyPrefix: uniquePrefix('frags'),
          ignoreErrors: true,
        },
      },
    },
    {},
  );
}

test('closing one tiered cache leaves a sibling on the same location working, invalidations included', async () => {
  const larder = open();
  try {
    const pages = larder.cache('pages');
    const frags = larder.cache('frags');
    await pages.set('a', 1);
    assert.equal(await pages.get('a'), 1);
    await pages.close(); // its hub had one subscriber: it closes

    await frags.set('x', 1);
    assert.equal(await frags.get('x'), 1);
    assert.equal((await frags.getEntry('x')).value, 1);
    assert.equal(await frags.has('x'), true);
    // The sibling got a live hub: its tier fills, and a foreign write evicts the copy.
    const tier = frags.backend.local as LocalTier;
    await until('frags to hold x locally', async () => (await frags.getEntry('x')).status === 'hit-local');
    assert.ok(tier.isTracking);
    await server.cli('SET', frags.makeKey('x'), '2');
    await until('the foreign write to reach frags', async () => (await frags.get('x')) === 2);
  } finally {
    await larder.close();
  }
});

test('a tiered cache read after larder.close() follows the outage policy and opens no tracking socket', async () => {
  const larder = open();
  const frags = larder.cache('frags');
  const pages = larder.cache('pages');
  await larder.close();
  const before = String(await server.command('CLIENT', 'LIST'));
  assert.equal(await frags.get('x', 'fallback'), 'fallback'); // ignoreErrors: a miss
  await assert.rejects(pages.get('x'), BackendUnavailableError);
  assert.throws(() => larder.connections.tracking(frags.config.location!), BackendUnavailableError);
  const trackers = (list: string) =>
    list.split('\n').filter((l) => l.includes('name=larder:tracking')).length;
  assert.equal(trackers(String(await server.command('CLIENT', 'LIST'))), trackers(before));
});

test('subscribing to a closed hub is a BackendUnavailableError, not a plain Error', async () => {
  const url = redisUrlFor('standalone')!;
  const larder = createLarder({ logger: false, redis: url }, {});
  try {
    const hub = larder.connections.tracking(larder.config.redis!);
    assert.ok(hub instanceof TrackingHub);
    await hub.close();
    const tier = { invalidate() {}, forgetAll() {}, setTracking() {} };
    assert.throws(() => hub.subscribe({ prefix: 'p:', store: tier }), BackendUnavailableError);
  } finally {
    await larder.close();
  }
});
