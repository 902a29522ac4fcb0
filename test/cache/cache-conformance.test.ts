/**
 * Runs the cache conformance suite (`test/conformance/cache.suite.ts`) against the memory
 * backend, Redis standalone and Redis Cluster, through `createLarder` as an application would.
 */
import { Cache } from '../../src/cache/cache.js';
import { createCodec } from '../../src/cache/codec.js';
import { type CacheConfig, resolveConfig } from '../../src/config/index.js';
import { createLarder, type Larder } from '../../src/larder.js';
import type { CacheFixture, CacheOptionsForTests } from '../conformance/cache.suite.js';
import { type Exclusions, runConformance, type Target, uniquePrefix } from '../support/conformance.js';
import '../conformance/cache.suite.js';

interface Built extends CacheFixture {
  larders: Larder[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function cacheConfig(
  target: Target,
  keyPrefix: string,
  options: Partial<CacheOptionsForTests> = {},
): CacheConfig {
  return target === 'memory'
    ? { backend: 'memory', keyPrefix, maxEntries: 10_000, ...options }
    : { backend: 'redis', keyPrefix, ...options };
}

function build(target: Target, url: string | undefined): Built {
  const keyPrefix = uniquePrefix('c');
  const larder = createLarder(
    { redis: url ?? false, caches: { default: cacheConfig(target, keyPrefix) }, logger: false },
    {},
  );
  const cache = larder.cache('default');
  const larders = [larder];

  const make = (options: Partial<CacheOptionsForTests> = {}): Cache => {
    if (target === 'memory') {
      // A second Larder would have a memory store of its own; the suite needs the same store
      // (Django's LocMemCache caches sharing a LOCATION), so the new cache reuses the backend.
      const resolved = resolveConfig(
        { redis: false, caches: { default: cacheConfig(target, keyPrefix, options) }, logger: false },
        {},
      ).caches.default!;
      return new Cache(resolved, { backend: cache.backend, codec: createCodec() });
    }
    const other = createLarder(
      { redis: url, caches: { default: cacheConfig(target, keyPrefix, options) }, logger: false },
      {},
    );
    larders.push(other);
    return other.cache('default');
  };

  return { cache, make, sleep, larders };
}

/**
 * The memory backend owns its whole store, and `clear()` empties it (Django's
 * `LocMemCache.clear`); only this fixture shares one memory store between caches.
 */
const memoryExclusions: Exclusions = {
  'clear keeps the keys of caches with another prefix on the same store':
    'the memory backend owns its store and clear() empties it; memory caches share no store outside this fixture',
  'clear treats glob characters in its own prefix literally':
    'the memory backend owns its store and clear() empties it; memory caches share no store outside this fixture',
};

runConformance<Built>('cache', (target, url) => build(target, url), {
  close: async (built) => {
    for (const larder of built.larders) await larder.close();
  },
  exclude: (target) => (target === 'memory' ? memoryExclusions : undefined),
});
