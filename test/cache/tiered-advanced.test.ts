/**
 * Runs the tags and stampede suite (`test/conformance/cache-advanced.suite.ts`) on the `tiered`
 * backend, on Redis standalone and Cluster: the peer is a second Larder with a tier of its own, so
 * an invalidation by one must reach the other's in-process copies through client tracking.
 */
import type { Cache } from '../../src/cache/cache.js';
import type { CacheConfig } from '../../src/config/index.js';
import { createLarder, type Larder } from '../../src/larder.js';
import type { AdvancedFixture } from '../conformance/cache-advanced.suite.js';
import { runConformance, type Target, uniquePrefix } from '../support/conformance.js';
import '../conformance/cache-advanced.suite.js';

interface Built extends AdvancedFixture {
  larders: Larder[];
}

function build(_target: Target, url: string | undefined): Built {
  const config: CacheConfig = { backend: 'tiered', keyPrefix: uniquePrefix('tadv') };
  const larders: Larder[] = [];
  const open = (): Cache => {
    const larder = createLarder({ redis: url, caches: { default: config }, logger: false }, {});
    larders.push(larder);
    return larder.cache('default');
  };
  return { cache: open(), peer: open, larders };
}

runConformance<Built>('cache-advanced', build, {
  targets: ['standalone', 'cluster'],
  close: async (built) => {
    await Promise.all(built.larders.map((l) => l.close()));
  },
});
