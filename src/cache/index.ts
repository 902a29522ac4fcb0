/**
 * @module larder/cache — Django's cache framework: the `Cache` facade, its backends
 * (memory, redis, null), the value codec and the backend contract.
 *
 * @example
 * import { createLarder } from 'larder';
 * const cache = createLarder({ redis: 'redis://127.0.0.1:6379/1' }).cache();
 * await cache.set('my_key', 'my_value', { timeout: 300 });
 */
export type { CacheBackend, Payload, StoredEntry, TtlMs } from './backend.js';
export { type MemoryBackendOptions, memoryBackend } from './backends/memory.js';
export { nullBackend } from './backends/null.js';
export { type RedisBackendOptions, redisBackend } from './backends/redis.js';
export {
  Cache,
  type CacheDeps,
  type CacheEntry,
  type CacheStats,
  NOT_IN_PROCESS,
  type SetOptions,
  type Timeout,
  type VersionOptions,
} from './cache.js';
export {
  type Codec,
  type CodecOptions,
  type CompressOptions,
  createCodec,
  payloadByteLength,
} from './codec.js';
export { type CacheFragmentOptions, cacheFragment, makeFragmentKey, pythonStr } from './fragment.js';
export { escapeGlob, globMatcher } from './glob.js';
export { KeyMaker, MAX_KEY_BYTES } from './keys.js';
export { CacheLock, type LockOptions } from './lock.js';
