/**
 * Runs the cache conformance suite (`test/conformance/cache.suite.ts`) on the `tiered` backend,
 * on Redis standalone and Redis Cluster, through `createLarder` as an application would. Every
 * cache the suite makes is a second Larder with a tier of its own, so a write through one must
 * evict the other's local copy for a case to pass.
 */
import type { Cache } from '../../src/cache/cache.js';
import type { CacheConfig } from '../../src/config/index.js';
import { createLarder, type Larder } from '../../src/larder.js';
import type { CacheFixture, CacheOptionsForTests } from '../conformance/cache.suite.js';
import { runConformance, type Target, uniquePrefix } from '../support/conformance.js';
import '../conformance/cache.suite.js';

interface Built extends CacheFixture {
  larders: Larder[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function build(_target: Target, url: string | undefined): Built {
  const keyPrefix = uniquePrefix('t');
  const larders: Larder[] = [];
  const open = (options: Partial<CacheOptionsForTests> = {}): Cache => {
    const config: CacheConfig = { backend: 'tiered', keyPrefix, ...options };
    const larder = createLarder({ redis: url, caches: { default: config }, logger: false }, {});
    larders.push(larder);
    return larder.cache('default');
  };
  return { cache: open(), make: open, sleep, larders };
}

runConformance<Built>('cache', build, {
  targets: ['standalone', 'cluster'],
  close: async (built) => {
    await Promise.all(built.larders.map((l) => l.close()));
  },
});
