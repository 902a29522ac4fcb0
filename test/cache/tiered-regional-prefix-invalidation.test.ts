/**
 * Regression: a tiered cache whose keyPrefix holds `{region}` registered client tracking for
 * the unfilled prefix (`cat:{region}:`), which no key starts with — so no write by anyone
 * ever evicted its in-process copies. Its twin (`forRegion`) had the same fault.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Cache } from '../../src/cache/cache.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { uniquePrefix } from '../support/conformance.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';

/** Generous bound for an invalidation to cross loopback (DESIGN §4.1 aims at 50 ms). */
const BOUND_MS = 5_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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
          backend: 'tiered',
          keyPrefix: `${uniquePrefix('cat')}:{region}`,
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

/** Reads `key` until the in-process tier holds it (tracking must be up to accept the fill). */
async function fillLocally(cache: Cache, key: string): Promise<void> {
  assert.ok(cache.backend.local, 'a tiered cache has an in-process tier');
  const started = performance.now();
  while ((await cache.getEntry(key)).status !== 'hit-local') {
    if (performance.now() - started > BOUND_MS) assert.fail(`${key} never reached the tier`);
    await sleep(10);
  }
}

/** Waits until `cache.get(key)` answers `want`; fails after the bound. */
async function until(cache: Cache, key: string, want: unknown): Promise<void> {
  const started = performance.now();
  for (let got = await cache.get(key); got !== want; got = await cache.get(key)) {
    if (performance.now() - started > BOUND_MS)
      assert.fail(`get(${key}) still answers ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
    await sleep(10);
  }
}

for (const region of ['us', 'eu'] as const) {
  test(`a foreign write evicts the local copy of a tiered cache with {region} in keyPrefix (${region})`, async () => {
    const cache = region === 'us' ? larder.cache() : larder.cache().forRegion('eu');
    const server = region === 'us' ? us : eu;
    await cache.set('p', 'v1');
    await fillLocally(cache, 'p');
    const made = cache.makeKey('p');
    assert.ok(made.includes(`:${region}:`), made);
    await server.cli('SET', made, '"v2"');
    await until(cache, 'p', 'v2');
  });
}
