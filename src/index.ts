/**
 * @module larder — Django's cache and session framework, and the Redis patterns that
 * follow it (rate limits, tasks, pub/sub, leaderboards), for Node.js web apps.
 */

export { Cache } from './cache/cache.js';
export type { LarderConfig, ResolvedConfig } from './config/index.js';
export { parseDuration, parseLocation, redactUrl } from './config/index.js';
export type { Duration, LocationInput, RedisLocation } from './config/types.js';
export * from './errors.js';
export {
  addNeverCacheHeaders,
  type CacheControlDirectives,
  type HeaderRecord,
  patchCacheControl,
  patchVaryHeaders,
} from './http/cache-headers.js';
export { type CachePageOptions, invalidatePage } from './http/page-cache.js';
export { type BackendSummary, createLarder, type HealthReport, Larder } from './larder.js';
export type { ConnectionHealth } from './redis/connection.js';
