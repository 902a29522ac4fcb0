/**
 * The dashboard's `/keys`: the biggest keys of one cache, on demand. It SCANs the cache's
 * key space (never KEYS) for at most `sample` keys, measures each, and returns the 20
 * biggest with their TTL. On Redis the size is `MEMORY USAGE` (what the server holds for the
 * key, overhead included); on the in-process backend it is the key's and payload's bytes.
 */
import type { Larder } from '../../larder.js';

/** How many keys the answer lists. */
export const TOP_KEYS = 20;
/** The most keys one request may sample. */
export const MAX_SAMPLE = 10_000;
/** Sampled when `sample` is not given. */
export const DEFAULT_SAMPLE = 1_000;

export interface KeySize {
  /** The key as stored (prefix and version included). */
  key: string;
  bytes: number;
  /** Seconds left; `null` when the key never expires. */
  ttlSeconds: number | null;
}

/** What `GET /keys` answers. */
export interface KeysReport {
  cache: string;
  backend: string;
  /** `MEMORY USAGE` on Redis; `payload bytes` in process. */
  measure: 'MEMORY USAGE' | 'payload bytes';
  /** Keys measured (at most `sample`). */
  sampled: number;
  /** Biggest first, at most 20. */
  keys: KeySize[];
}

/** Keys measured at once: a sample of 10,000 is 200 round trips of pipelined commands. */
const BATCH = 50;

/**
 * The biggest keys among up to `sample` keys of the cache `name` (which must exist: the
 * caller checks `name` against `larder.config.caches`).
 *
 * @example const { keys } = await biggestKeys(larder, 'default', 500); keys[0].bytes
 */
export async function biggestKeys(larder: Larder, name: string, sample: number): Promise<KeysReport> {
  const cache = larder.cache(name);
  const { backend, location } = cache.config;
  const pattern = cache.keyMaker.pattern('*', '*');
  const found: string[] = [];
  scanning: for await (const batch of cache.backend.scan(pattern, Math.min(sample, 500))) {
    for (const key of batch) {
      found.push(key);
      if (found.length >= sample) break scanning;
    }
  }
  const onRedis = (backend === 'redis' || backend === 'tiered') && location !== undefined;
  const sizes: KeySize[] = [];
  for (let i = 0; i < found.length; i += BATCH) {
    const batch = found.slice(i, i + BATCH);
    const measured = await Promise.all(
      batch.map(async (key): Promise<KeySize | undefined> => {
        if (onRedis) {
          const conn = larder.connection(location);
          const [bytes, pttl] = await Promise.all([
            conn.send<number | null>(['MEMORY', 'USAGE', key], { key, readonly: true }),
            conn.send<number>(['PTTL', key], { key, readonly: true }),
          ]);
          // Gone between SCAN and now (expired, deleted): not listed.
          if (bytes === null || pttl === -2) return undefined;
          return { key, bytes: Number(bytes), ttlSeconds: pttl < 0 ? null : Math.ceil(pttl / 1000) };
        }
        const entry = await cache.backend.getEntry(key);
        if (!entry) return undefined;
        return {
          key,
          bytes: Buffer.byteLength(key) + Buffer.byteLength(entry.payload),
          ttlSeconds:
            entry.expiresAt === null ? null : Math.max(0, Math.ceil((entry.expiresAt - Date.now()) / 1000)),
        };
      }),
    );
    for (const size of measured) if (size) sizes.push(size);
  }
  sizes.sort((a, b) => b.bytes - a.bytes || (a.key < b.key ? -1 : 1));
  return {
    cache: name,
    backend,
    measure: onRedis ? 'MEMORY USAGE' : 'payload bytes',
    sampled: found.length,
    keys: sizes.slice(0, TOP_KEYS),
  };
}
