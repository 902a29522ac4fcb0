/**
 * Builds a `Cache` from its resolved config: picks the backend, the codec, and the shared
 * connection (one per location for the whole Larder).
 */
import type { ResolvedCacheConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { Larder } from '../larder.js';
import type { CacheBackend } from './backend.js';
import { memoryBackend } from './backends/memory.js';
import { nullBackend } from './backends/null.js';
import { redisBackend } from './backends/redis.js';
import { tieredBackend } from './backends/tiered.js';
import { Cache } from './cache.js';
import { createCodec } from './codec.js';
import { regionalPrefix } from './keys.js';
import { localWaker, redisWaker } from './stampede.js';

/** The backend a cache config asks for. */
function backendFor(larder: Larder, config: ResolvedCacheConfig): CacheBackend {
  switch (config.backend) {
    case 'memory':
      return memoryBackend({
        maxEntries: config.maxEntries,
        maxBytes: config.maxBytes,
        cullFrequency: config.cullFrequency,
      });
    case 'null':
      return nullBackend();
    case 'redis':
      return redisBackend({
        connection: larder.connection(config.location),
        commandTimeout: config.commandTimeout,
        // Bytes only when payloads can be binary; JSON text reads faster as strings.
        binary: config.serializer !== 'json' || config.compress !== false,
      });
    case 'tiered': {
      const location = config.location!;
      if (location.kind === 'sentinel' || location.kind === 'external') {
        throw new ConfigError(
          `caches.${config.name}.location`,
          `(a ${location.kind} location)`,
          "a redis://, replica-list or redis+cluster:// location for backend 'tiered' (its tracking " +
            "sockets need server addresses larder connects to), or backend: 'redis'",
        );
      }
      return tieredBackend({
        connection: larder.connection(location),
        // Asked for when the tier subscribes: the hub of a location closes when its last
        // tiered cache leaves, and a sibling cache subscribing later needs a live one.
        tracking: () => larder.connections.tracking(location),
        commandTimeout: config.commandTimeout,
        binary: config.serializer !== 'json' || config.compress !== false,
        // Values and tag keys all start with `${keyPrefix}:` — with `{region}` filled in, as the
        // keys are (an unfilled one matches no key: no invalidation would ever arrive). A
        // keyFunction may put them anywhere.
        trackPrefix: config.keyFunction ? undefined : `${regionalPrefix(config.keyPrefix, config.region)}:`,
        l1: { ...config.l1, configPath: `caches.${config.name}.l1` },
      });
    }
  }
}

/**
 * Creates the named cache of `larder` from its resolved config. With a region map, the
 * cache's `forRegion(r)` builds (once) the same cache on region `r`'s location.
 */
export function createCache(larder: Larder, config: ResolvedCacheConfig): Cache {
  const regions = config.regions;
  const twins = new Map<string, Cache>();
  const forRegion = regions
    ? (region: string): Cache => {
        if (region === config.region) return home;
        let twin = twins.get(region);
        if (twin) return twin;
        const location = regions[region];
        if (!location) {
          throw new ConfigError(
            `caches.${config.name}.location.regions`,
            region,
            `one of the configured regions: ${Object.keys(regions)
              .map((r) => `'${r}'`)
              .join(', ')}`,
          );
        }
        const twinConfig = { ...config, location, region };
        twin = new Cache(twinConfig, { ...depsFor(larder, twinConfig), forRegion });
        twins.set(region, twin);
        return twin;
      }
    : undefined;
  const home = new Cache(config, { ...depsFor(larder, config), forRegion });
  return home;
}

function depsFor(larder: Larder, config: ResolvedCacheConfig) {
  const backend = backendFor(larder, config);
  return {
    backend,
    // getOrSet's wake-ups: PUBLISH/SUBSCRIBE on the cache's Redis, else in this process.
    waker: config.location
      ? redisWaker(larder.connection(config.location), larder.connection(config.location, 'subscriber'))
      : localWaker(backend),
    codec: createCodec({
      serializer: config.serializer,
      compress: config.compress,
      configPath: `caches.${config.name}`,
    }),
    log: (level: 'info' | 'warn' | 'error', message: string) => larder.log(level, message),
    metrics: larder.metrics,
  };
}
