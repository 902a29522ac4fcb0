/**
 * The `tiered` cache backend: the Redis backend with an in-process tier (`local`) in
 * front of it. The facade serves hits from `local` and offers it what it decodes; this
 * backend only keeps the tier coherent with its own writes (forget before sending and
 * again when the write settles, so a fill that raced the write is refused) and subscribes
 * the tier to Redis client tracking, which covers everyone else's writes.
 */
import { BackendUnavailableError } from '../../errors.js';
import type { TrackingHub } from '../../redis/tracking.js';
import type { CacheBackend, Payload, ReadEntry, StoredEntry, TtlMs } from '../backend.js';
import { LocalTier, type LocalTierOptions } from '../local-tier.js';
import { type RedisBackendOptions, redisBackend } from './redis.js';

export interface TieredBackendOptions extends RedisBackendOptions {
  /**
   * The tracking hub of the cache's location, asked for at each subscription
   * (`() => larder.connections.tracking(location)`): a hub closes when its last cache
   * leaves, so a hub taken ahead of time may be closed by the time this cache first reads.
   */
  tracking: () => TrackingHub;
  /**
   * Every store key of this cache (values and tag keys) starts with it: tracking asks Redis
   * only for keys under it. `undefined` = every key (a custom `keyFunction`).
   */
  trackPrefix: string | undefined;
  /** Bounds of the in-process tier (the cache's resolved `l1`). @default { maxEntries: 1000, ttl: null } */
  l1?: LocalTierOptions;
}

class TieredBackend implements CacheBackend {
  readonly name: string;
  readonly local: LocalTier;
  readonly #inner: CacheBackend;
  readonly #hub: () => TrackingHub;
  readonly #prefix: string | undefined;
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(options: TieredBackendOptions) {
    this.#inner = redisBackend(options);
    this.name = `tiered ${options.connection.name}`;
    this.local = new LocalTier(options.l1);
    this.#hub = options.tracking;
    this.#prefix = options.trackPrefix;
  }

  /**
   * Subscribes the tier on the first read (connections stay lazy until then). When no hub
   * can be had (the Larder was closed) the tier stays down — it refuses fills, so every
   * read goes to Redis and fails there as the outage policy says — and the next read tries
   * again. Never throws: reads must reject, not throw.
   */
  #track(): void {
    if (this.#unsubscribe || this.#closed) return;
    try {
      this.#unsubscribe = this.#hub().subscribe({ prefix: this.#prefix, store: this.local });
    } catch (error) {
      if (!(error instanceof BackendUnavailableError)) throw error;
    }
  }

  read(key: string): Promise<ReadEntry | undefined> {
    if (!this.#unsubscribe) this.#track();
    return this.#inner.read(key);
  }

  get(key: string): Promise<Payload | undefined> {
    if (!this.#unsubscribe) this.#track();
    return this.#inner.get(key);
  }

  getEntry(key: string): Promise<StoredEntry | undefined> {
    if (!this.#unsubscribe) this.#track();
    return this.#inner.getEntry(key);
  }

  getMany(keys: readonly string[]): Promise<Array<Payload | undefined>> {
    if (!this.#unsubscribe) this.#track();
    return this.#inner.getMany(keys);
  }

  ttl(key: string): Promise<number | null> {
    return this.#inner.ttl(key);
  }

  set(key: string, payload: Payload, ttl: TtlMs): Promise<void> {
    return this.#write(key, () => this.#inner.set(key, payload, ttl));
  }

  add(key: string, payload: Payload, ttl: TtlMs): Promise<boolean> {
    return this.#write(key, () => this.#inner.add(key, payload, ttl));
  }

  delete(key: string): Promise<boolean> {
    return this.#write(key, () => this.#inner.delete(key));
  }

  incr(key: string, delta: number): Promise<number | undefined> {
    return this.#write(key, () => this.#inner.incr(key, delta));
  }

  touch(key: string, ttl: TtlMs): Promise<boolean> {
    return this.#write(key, () => this.#inner.touch(key, ttl));
  }

  persist(key: string): Promise<boolean> {
    return this.#write(key, () => this.#inner.persist(key));
  }

  addOrGet(key: string, payload: Payload, ttl: TtlMs): Promise<Payload | undefined> {
    return this.#write(key, () => this.#inner.addOrGet(key, payload, ttl));
  }

  deleteIfEquals(key: string, payload: Payload): Promise<boolean> {
    return this.#write(key, () => this.#inner.deleteIfEquals(key, payload));
  }

  setMany(entries: ReadonlyArray<readonly [string, Payload]>, ttl: TtlMs): Promise<string[]> {
    const keys = entries.map(([key]) => key);
    return this.#writeMany(keys, () => this.#inner.setMany(entries, ttl));
  }

  deleteMany(keys: readonly string[]): Promise<number> {
    return this.#writeMany(keys, () => this.#inner.deleteMany(keys));
  }

  scan(pattern: string, batchSize: number): AsyncIterable<string[]> {
    return this.#inner.scan(pattern, batchSize);
  }

  deletePattern(pattern: string): Promise<number> {
    return this.#writeAll(() => this.#inner.deletePattern(pattern));
  }

  clear(pattern: string): Promise<void> {
    return this.#writeAll(() => this.#inner.clear(pattern));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#inner.close?.();
  }

  // Forgetting before sending keeps this process from serving the old value while the
  // write is in flight; forgetting again when it settles refuses a fill whose read left
  // before the write landed and came back after the first forget (race: read-then-write).
  #write<T>(key: string, send: () => Promise<T>): Promise<T> {
    const local = this.local;
    local.forget(key);
    return send().finally(() => local.forget(key));
  }

  #writeMany<T>(keys: readonly string[], send: () => Promise<T>): Promise<T> {
    const local = this.local;
    for (const key of keys) local.forget(key);
    return send().finally(() => {
      for (const key of keys) local.forget(key);
    });
  }

  #writeAll<T>(send: () => Promise<T>): Promise<T> {
    const local = this.local;
    local.forgetAll();
    return send().finally(() => local.forgetAll());
  }
}

/**
 * The tiered backend: Redis with an in-process tier kept coherent by client tracking.
 *
 * @example
 * const backend = tieredBackend({
 *   connection: larder.connection(location),
 *   tracking: () => larder.connections.tracking(location),
 *   trackPrefix: 'shop:',
 *   l1: { maxEntries: 10_000, ttl: 60_000 },
 * });
 */
export const tieredBackend = (options: TieredBackendOptions): CacheBackend & { readonly local: LocalTier } =>
  new TieredBackend(options);
