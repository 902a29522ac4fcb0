/**
 * Runs the tags and stampede suite (`test/conformance/cache-advanced.suite.ts`) on memory,
 * Redis standalone and Redis Cluster, through `createLarder` as an application would.
 */
import { Cache } from '../../src/cache/cache.js';
import { createCodec } from '../../src/cache/codec.js';
import { type CacheConfig, resolveConfig } from '../../src/config/index.js';
import { createLarder, type Larder } from '../../src/larder.js';
import type { AdvancedFixture } from '../conformance/cache-advanced.suite.js';
import { runConformance, type Target, uniquePrefix } from '../support/conformance.js';
import '../conformance/cache-advanced.suite.js';

interface Built extends AdvancedFixture {
  larders: Larder[];
}

function build(target: Target, url: string | undefined): Built {
  const keyPrefix = uniquePrefix('adv');
  const config: CacheConfig =
    target === 'memory'
      ? { backend: 'memory', keyPrefix, maxEntries: 10_000 }
      : { backend: 'redis', keyPrefix };
  const larder = createLarder({ redis: url ?? false, caches: { default: config }, logger: false }, {});
  const cache = larder.cache('default');
  const larders = [larder];
  const peer = (): Cache => {
    if (target === 'memory') {
      const resolved = resolveConfig({ redis: false, caches: { default: config }, logger: false }, {}).caches
        .default!;
      return new Cache(resolved, { backend: cache.backend, codec: createCodec() });
    }
    const other = createLarder({ redis: url, caches: { default: config }, logger: false }, {});
    larders.push(other);
    return other.cache('default');
  };
  return { cache, peer, larders };
}

runConformance<Built>('cache-advanced', (target, url) => build(target, url), {
  close: async (built) => {
    for (const larder of built.larders) await larder.close();
  },
});
