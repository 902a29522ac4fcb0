/**
 * @module larder/config — the config larder is built from: schema, durations, Redis locations.
 *
 * @example
 * import { resolveConfig, parseDuration, parseLocation, redactUrl } from './config/index.js';
 * const config = resolveConfig({ redis: 'redis://127.0.0.1:6379' });
 * redactUrl(config.redis!); // 'redis://127.0.0.1:6379/0'
 */
export { DURATION_EXPECTED, type ParseDurationOptions, parseDuration } from './duration.js';
export {
  DEFAULT_COMMAND_TIMEOUT,
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_POOL_SIZE,
  isExternalClient,
  LOCATION_FORMS,
  type LocationDefaults,
  MAX_DB,
  parseLocation,
  redactUrl,
} from './location.js';
export {
  type CacheBackendName,
  type CacheConfig,
  type CompressConfig,
  type CompressionAlgorithm,
  type KeyFunction,
  type LarderConfig,
  type LarderLogger,
  type RateLimitConfig,
  type RegionMap,
  type ResolvedCacheConfig,
  type ResolvedConfig,
  type ResolvedRateLimitConfig,
  type ResolvedSessionsConfig,
  resolveConfig,
  type SessionCookieConfig,
  type SessionsConfig,
  type TasksConfig,
} from './schema.js';
export type * from './types.js';
