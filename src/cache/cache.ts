/**
 * `Cache`: Django's BaseCache semantics, async and typed. The facade owns policy — key
 * making and validation, timeouts, versions, serialization, outage behaviour — and a
 * backend (`CacheBackend`) only translates to its store.
 */
import { parseDuration } from '../config/duration.js';
import type { ResolvedCacheConfig } from '../config/schema.js';
import {
  BackendUnavailableError,
  CacheMissError,
  CacheValueError,
  ConfigError,
  SerializationError,
} from '../errors.js';
import type { CacheBackend, Payload, TtlMs } from './backend.js';
import { type Codec, samePayload } from './codec.js';
import { KeyMaker } from './keys.js';
import { CacheLock, type LockOptions } from './lock.js';

/** A per-call timeout: seconds, a duration string, `null` (never expires), or 0/negative (don't store). */
export type Timeout = number | string | null;

/** The trailing options object every key-taking method accepts (Django's `version=`). */
export interface VersionOptions {
  version?: number;
}

export interface SetOptions extends VersionOptions {
  /** Seconds, `'500ms'`/`'15m'`…, `null` = never expires; 0 or negative = not stored. @default the cache's timeout (300 s) */
  timeout?: Timeout;
  /** Tags for `invalidateTags` (tiered and Redis caches; see docs/cache.md). */
  tags?: string[];
}

/** What `getEntry` reports. */
export interface CacheEntry<T = unknown> {
  value: T | undefined;
  /** `hit` from the store, `hit-local` from an in-process tier, `stale` past its soft expiry, `miss`. */
  status: 'hit' | 'hit-local' | 'stale' | 'miss';
  /** Seconds since the value was stored, when the store knows it. */
  age: number | undefined;
  /** When the entry expires (epoch ms), `null` if never, `undefined` on a miss. */
  expiresAt: number | null | undefined;
}

/** Counters a cache keeps about itself (the metrics module exports them). */
export interface CacheStats {
  hits: number;
  misses: number;
  errors: number;
  decodeErrors: number;
}

export interface CacheDeps {
  backend: CacheBackend;
  codec: Codec;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Builds this cache's twin in another region (set when the config has a region map). */
  forRegion?: (region: string) => Cache;
}

const SCAN_BATCH = 500;

/**
 * A named cache (`larder.cache('default')`), with Django's low-level API.
 *
 * @example
 * const cache = larder.cache('default');
 * await cache.set('my_key', 'my_value', { timeout: 60 * 5 });
 * await cache.get('non_existent_key', 'default');   // 'default'
 * await cache.getOrSet('products:eu', () => loadProducts('eu'), { timeout: '15m' });
 */
export class Cache {
  readonly name: string;
  readonly config: ResolvedCacheConfig;
  readonly backend: CacheBackend;
  readonly keyMaker: KeyMaker;
  readonly stats: CacheStats = { hits: 0, misses: 0, errors: 0, decodeErrors: 0 };
  readonly #codec: Codec;
  readonly #defaultTtl: TtlMs | typeof EXPIRED;
  readonly #log: NonNullable<CacheDeps['log']>;
  readonly #inflight = new Map<string, Promise<unknown>>();
  /** getShared's decoded values by store key, with the payload they came from. */
  readonly #shared = new Map<string, { payload: Payload; value: unknown }>();
  readonly #forRegion: CacheDeps['forRegion'];
  #lastLoggedError = 0;

  constructor(config: ResolvedCacheConfig, deps: CacheDeps) {
    this.name = config.name;
    this.config = config;
    this.backend = deps.backend;
    this.#codec = deps.codec;
    this.#log = deps.log ?? (() => {});
    this.keyMaker = new KeyMaker({ ...config, keyPrefix: regionalPrefix(config.keyPrefix, config.region) });
    // A cache-wide timeout of 0 or less means Django's "don't cache": every set is a delete.
    this.#defaultTtl = config.timeout !== null && config.timeout <= 0 ? EXPIRED : config.timeout;
    this.#forRegion = deps.forRegion;
  }

  /** The region this cache's location was picked for (`LARDER_REGION`), if any. */
  get region(): string | undefined {
    return this.config.region;
  }

  /**
   * The same cache on another region's server (a location given as
   * `{ regions: { us: url, eu: url } }`): same options, that region's Redis, and
   * `{region}` in `keyPrefix` replaced by that region.
   *
   * @example
   * // LARDER_REGION=us: reads go to the nearby server; a write for EU goes to EU's.
   * await larder.cache().forRegion('eu').set('products:123', product);
   */
  forRegion(region: string): Cache {
    if (!this.#forRegion) {
      throw new ConfigError(
        `caches.${this.name}.location`,
        this.config.location ? 'a single location' : this.config.backend,
        'a region map ({ regions: { us: url, eu: url } }) to use forRegion()',
      );
    }
    return this.#forRegion(region);
  }

  /** The store key for `key` (`prefix:version:key`), validated. */
  makeKey(key: string, options?: VersionOptions): string {
    return this.keyMaker.make(key, options?.version);
  }

  /**
   * The value at `key`, or `defaultValue` (else `undefined`) on a miss. `null` is a value.
   *
   * @example const cart = await cache.get('cart:42', []);
   */
  get<T = unknown>(key: string, defaultValue?: T, options?: VersionOptions): Promise<T | undefined> {
    let made: string;
    try {
      made = this.keyMaker.make(key, options?.version);
    } catch (error) {
      return Promise.reject(error);
    }
    // The hot path: one backend call and one continuation, no async-function frame.
    return this.backend.get(made).then(
      (payload) => this.#valueOf<T>(payload, made, defaultValue),
      (error) => {
        this.#failed(error, 'get');
        return defaultValue;
      },
    );
  }

  /**
   * Like `get`, but a stored payload is decoded once: while the store holds the same
   * bytes, every caller in this process gets the same object. For values that are only
   * read (the page cache's stored pages); do not mutate what it returns.
   *
   * @example const page = await cache.getShared<StoredPage>('views.decorators.cache.cache_page…');
   */
  getShared<T = unknown>(key: string, options?: VersionOptions): Promise<T | undefined> {
    let made: string;
    try {
      made = this.keyMaker.make(key, options?.version);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.backend.get(made).then(
      (payload) => {
        if (payload === undefined || payload === null) {
          this.#shared.delete(made);
          return this.#valueOf<T>(payload, made, undefined);
        }
        const memo = this.#shared.get(made);
        if (memo && samePayload(memo.payload, payload)) {
          this.stats.hits++;
          return memo.value as T;
        }
        const value = this.#valueOf<T>(payload, made, undefined);
        if (value !== undefined) {
          if (this.#shared.size >= MAX_SHARED) this.#shared.clear();
          this.#shared.set(made, { payload, value });
        }
        return value;
      },
      (error) => {
        this.#failed(error, 'get');
        return undefined;
      },
    );
  }

  #valueOf<T>(payload: Payload | null | undefined, made: string, defaultValue: T | undefined): T | undefined {
    if (payload === undefined || payload === null) {
      this.stats.misses++;
      return defaultValue;
    }
    const value = this.#decode(payload, made);
    if (value === MISS) {
      this.stats.misses++;
      return defaultValue;
    }
    this.stats.hits++;
    return value as T;
  }

  /**
   * The value with its status and expiry, in one round trip.
   *
   * @example const { value, status, expiresAt } = await cache.getEntry('k');
   */
  async getEntry<T = unknown>(key: string, options?: VersionOptions): Promise<CacheEntry<T>> {
    const made = this.keyMaker.make(key, options?.version);
    const miss: CacheEntry<T> = { value: undefined, status: 'miss', age: undefined, expiresAt: undefined };
    let entry: Awaited<ReturnType<CacheBackend['getEntry']>>;
    try {
      entry = await this.backend.getEntry(made);
    } catch (error) {
      this.#failed(error, 'getEntry');
      return miss;
    }
    if (!entry) {
      this.stats.misses++;
      return miss;
    }
    const value = this.#decode(entry.payload, made);
    if (value === MISS) {
      this.stats.misses++;
      return miss;
    }
    this.stats.hits++;
    return { value: value as T, status: 'hit', age: undefined, expiresAt: entry.expiresAt };
  }

  /**
   * Stores `value` at `key`. A timeout of 0 or less stores nothing and removes what was
   * there (Django's semantics).
   *
   * @example await cache.set('k', { a: 1 }, { timeout: '15m' });
   */
  async set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    if (options?.tags?.length) this.#tagsNotYet();
    const made = this.keyMaker.make(key, options?.version);
    const ttl = this.#ttl(options?.timeout);
    const payload = ttl === EXPIRED ? undefined : this.#encode(value);
    try {
      if (ttl === EXPIRED) await this.backend.delete(made);
      else await this.backend.set(made, payload!, ttl);
    } catch (error) {
      this.#failed(error, 'set');
    }
  }

  /**
   * Stores only if `key` is absent; returns whether it stored. A timeout of 0 returns
   * true and stores nothing, as Django.
   *
   * @example if (await cache.add('lock:report', 1, { timeout: 60 })) runReport();
   */
  async add(key: string, value: unknown, options?: SetOptions): Promise<boolean> {
    if (options?.tags?.length) this.#tagsNotYet();
    const made = this.keyMaker.make(key, options?.version);
    const ttl = this.#ttl(options?.timeout);
    const payload = this.#encode(value);
    if (ttl === EXPIRED) return true;
    return this.#attempt('add', false, () => this.backend.add(made, payload, ttl));
  }

  /** Deletes `key`; true if it was there. @example await cache.delete('k') */
  async delete(key: string, options?: VersionOptions): Promise<boolean> {
    const made = this.keyMaker.make(key, options?.version);
    return this.#attempt('delete', false, () => this.backend.delete(made));
  }

  /** True when `key` holds a value (Django's `has_key`). @example await cache.has('k') */
  async has(key: string, options?: VersionOptions): Promise<boolean> {
    const made = this.keyMaker.make(key, options?.version);
    return this.#attempt('has', false, () => this.backend.has(made));
  }

  /**
   * The values of the keys found, in one round trip (per Cluster slot group).
   *
   * @example const found = await cache.getMany(['a', 'b']); found.get('a')
   */
  async getMany<T = unknown>(keys: Iterable<string>, options?: VersionOptions): Promise<Map<string, T>> {
    const userKeys = [...keys];
    const made = userKeys.map((k) => this.keyMaker.make(k, options?.version));
    const found = new Map<string, T>();
    if (made.length === 0) return found;
    let payloads: Array<Payload | undefined>;
    try {
      payloads = await this.backend.getMany(made);
    } catch (error) {
      this.#failed(error, 'getMany');
      return found;
    }
    for (let i = 0; i < userKeys.length; i++) {
      const payload = payloads[i];
      if (payload === undefined) {
        this.stats.misses++;
        continue;
      }
      const value = this.#decode(payload, made[i]!);
      if (value === MISS) {
        this.stats.misses++;
        continue;
      }
      this.stats.hits++;
      found.set(userKeys[i]!, value as T);
    }
    return found;
  }

  /**
   * Stores several values with one timeout; returns the keys that failed (`[]` on success).
   * Every value is encoded before anything is written, so a bad value writes nothing.
   *
   * @example await cache.setMany({ a: 1, b: 2 }, { timeout: 60 })
   */
  async setMany(
    entries: Record<string, unknown> | Map<string, unknown> | Iterable<readonly [string, unknown]>,
    options?: SetOptions,
  ): Promise<string[]> {
    if (options?.tags?.length) this.#tagsNotYet();
    const pairs: Array<readonly [string, unknown]> =
      entries instanceof Map || Symbol.iterator in (entries as object)
        ? [...(entries as Iterable<readonly [string, unknown]>)]
        : Object.entries(entries as Record<string, unknown>);
    const ttl = this.#ttl(options?.timeout);
    const byMade = new Map<string, string>();
    const encoded: Array<readonly [string, Payload]> = [];
    for (const [key, value] of pairs) {
      const made = this.keyMaker.make(key, options?.version);
      byMade.set(made, key);
      encoded.push([made, this.#encode(value)]);
    }
    if (encoded.length === 0) return [];
    try {
      if (ttl === EXPIRED) {
        await this.backend.deleteMany(encoded.map(([made]) => made));
        return [];
      }
      const failed = await this.backend.setMany(encoded, ttl);
      return failed.map((made) => byMade.get(made) ?? made);
    } catch (error) {
      this.#failed(error, 'setMany');
      return pairs.map(([key]) => key);
    }
  }

  /** Deletes several keys; returns how many existed. @example await cache.deleteMany(['a', 'b']) */
  async deleteMany(keys: Iterable<string>, options?: VersionOptions): Promise<number> {
    const made = [...keys].map((k) => this.keyMaker.make(k, options?.version));
    if (made.length === 0) return 0;
    return this.#attempt('deleteMany', 0, () => this.backend.deleteMany(made));
  }

  /**
   * Removes this cache's keys only (every version) — never the rest of a shared database.
   *
   * @example await larder.cache('pages').clear()
   */
  async clear(): Promise<void> {
    await this.#attempt('clear', undefined, async () => {
      if (!this.keyMaker.isDefaultFormat) return this.backend.clear(this.#clearPattern());
      // `shop:*:*` would also match the keys of a cache prefixed `shop:eu`: scan, then keep
      // only keys whose next part is a version number.
      const ours = new RegExp(`^${escapeRegExp(this.keyMaker.keyPrefix)}:-?\\d+:`);
      for await (const batch of this.backend.scan(this.#clearPattern(), SCAN_BATCH)) {
        const mine = batch.filter((key) => ours.test(key));
        if (mine.length) await this.backend.deleteMany(mine);
      }
    });
  }

  /**
   * Atomically adds `delta` to an integer value; returns the new value. A missing key is a
   * `CacheMissError`, a non-integer value a `CacheValueError`. The expiry is kept.
   *
   * @example await cache.set('views', 0); await cache.incr('views'); // 1
   */
  async incr(key: string, delta = 1, options?: VersionOptions): Promise<number> {
    if (!Number.isSafeInteger(delta))
      throw new CacheValueError(key, `delta must be an integer; got ${delta}.`);
    const made = this.keyMaker.make(key, options?.version);
    let result: number | undefined;
    try {
      result = await this.backend.incr(made, delta);
    } catch (error) {
      if (error instanceof CacheValueError)
        throw new CacheValueError(key, stripKey(error.message), { cause: error });
      this.#failed(error, 'incr', true);
    }
    if (result === undefined) throw new CacheMissError(key, delta >= 0 ? 'incr' : 'decr');
    return result;
  }

  /** `incr(key, -delta)`. @example await cache.decr('stock:sku-1') */
  decr(key: string, delta = 1, options?: VersionOptions): Promise<number> {
    return this.incr(key, -delta, options);
  }

  /**
   * Sets a new timeout on an existing key (default: the cache's). False when missing.
   *
   * @example await cache.touch('session-data', 3600)
   */
  async touch(key: string, timeout?: Timeout, options?: VersionOptions): Promise<boolean> {
    const made = this.keyMaker.make(key, options?.version);
    const ttl = this.#ttl(timeout);
    return this.#attempt('touch', false, () =>
      ttl === EXPIRED ? this.backend.delete(made) : this.backend.touch(made, ttl),
    );
  }

  /**
   * The value at `key`; on a miss, `valueOrLoader` (a value, or a function, maybe async)
   * is stored and returned. Concurrent callers in this process share one load. A loader
   * that returns `undefined` stores nothing.
   *
   * @example const products = await cache.getOrSet('products:eu', () => db.products('eu'), { timeout: 900 });
   */
  async getOrSet<T>(
    key: string,
    valueOrLoader: T | (() => T | Promise<T>),
    options?: SetOptions,
  ): Promise<T> {
    const found = await this.get<T>(key, MISS as T, options);
    if (found !== MISS) return found as T;
    const made = this.keyMaker.make(key, options?.version);
    const running = this.#inflight.get(made);
    if (running) return running as Promise<T>;
    // The load starts on the next microtask, so it is registered before it can finish (a
    // loader that throws synchronously must not leave a settled entry behind).
    const load = Promise.resolve().then(async () => {
      try {
        const value =
          typeof valueOrLoader === 'function'
            ? await (valueOrLoader as () => T | Promise<T>)()
            : valueOrLoader;
        if (value !== undefined) await this.set(key, value, options);
        return value;
      } finally {
        this.#inflight.delete(made);
      }
    });
    this.#inflight.set(made, load);
    return load;
  }

  /**
   * Seconds left before `key` expires: `null` if it never does, `0` if it is missing.
   *
   * @example await cache.ttl('k') // 299.981
   */
  async ttl(key: string, options?: VersionOptions): Promise<number | null> {
    const made = this.keyMaker.make(key, options?.version);
    const ms = await this.#attempt<number | null>('ttl', 0, () => this.backend.ttl(made));
    return ms === null ? null : ms / 1000;
  }

  /** Gives an existing key a new timeout (django-redis `expire`). @example await cache.expire('k', 60) */
  expire(key: string, timeout: Timeout, options?: VersionOptions): Promise<boolean> {
    return this.touch(key, timeout, options);
  }

  /** Removes the timeout of an existing key. @example await cache.persist('k') */
  async persist(key: string, options?: VersionOptions): Promise<boolean> {
    const made = this.keyMaker.make(key, options?.version);
    return this.#attempt('persist', false, () => this.backend.persist(made));
  }

  /**
   * A lock named `name`, held in this cache's store with a token and a TTL; release only
   * deletes it if this holder still owns it.
   *
   * @example
   * const lock = cache.lock('rebuild-index', { timeout: 30 });
   * if (await lock.acquire()) try { await rebuild(); } finally { await lock.release(); }
   */
  lock(name: string, options: LockOptions = {}): CacheLock {
    return new CacheLock(this.backend, this.keyMaker.make(`lock:${name}`), this.#codec, options);
  }

  /**
   * Every key matching the glob `pattern` (SCAN, never KEYS), prefix and version stripped.
   *
   * @example await cache.keys('session:*')
   */
  async keys(pattern = '*', options?: VersionOptions): Promise<string[]> {
    const out: string[] = [];
    for await (const key of this.iterKeys(pattern, options)) out.push(key);
    return out;
  }

  /** `keys`, as an async iterator over batches the store yields. @example for await (const k of cache.iterKeys('a*')) {} */
  async *iterKeys(pattern = '*', options?: VersionOptions): AsyncIterable<string> {
    const version = options?.version;
    for await (const batch of this.backend.scan(this.keyMaker.pattern(pattern, version), SCAN_BATCH)) {
      for (const made of batch) {
        const key = this.keyMaker.isDefaultFormat ? this.keyMaker.strip(made, version) : made;
        if (key !== undefined) yield key;
      }
    }
  }

  /** Deletes every key matching the glob `pattern`; returns how many. @example await cache.deletePattern('cart:*') */
  async deletePattern(pattern: string, options?: VersionOptions): Promise<number> {
    return this.#attempt('deletePattern', 0, () =>
      this.backend.deletePattern(this.keyMaker.pattern(pattern, options?.version)),
    );
  }

  /**
   * Moves `key` to version `version + delta` (keeping its expiry); returns the new
   * version. A missing key is a `CacheMissError`.
   *
   * @example await cache.incrVersion('catalog') // 2
   */
  async incrVersion(key: string, delta = 1, options?: VersionOptions): Promise<number> {
    const version = options?.version ?? this.keyMaker.version;
    const from = this.keyMaker.make(key, version);
    const to = this.keyMaker.make(key, version + delta);
    const entry = await this.backend.getEntry(from);
    if (!entry) throw new CacheMissError(key, 'incrVersion');
    const ttl = entry.expiresAt === null ? null : Math.max(1, entry.expiresAt - Date.now());
    await this.backend.set(to, entry.payload, ttl);
    await this.backend.delete(from);
    return version + delta;
  }

  /** `incrVersion(key, -delta)`. @example await cache.decrVersion('catalog') */
  decrVersion(key: string, delta = 1, options?: VersionOptions): Promise<number> {
    return this.incrVersion(key, -delta, options);
  }

  /** Releases the backend's connections (a shared Redis connection is closed by `larder.close()`). */
  async close(): Promise<void> {
    await this.backend.close?.();
  }

  /** Every version of this cache's keys: `prefix:*:*` (with a keyFunction, what it makes of '*'). */
  #clearPattern(): string {
    return this.keyMaker.pattern('*', '*');
  }

  #ttl(timeout: Timeout | undefined): TtlMs | typeof EXPIRED {
    if (timeout === undefined) return this.#defaultTtl;
    const ms = parseDuration(timeout, 'timeout', { allowNull: true, allowZeroOrNegative: true });
    if (ms === null) return null;
    return ms <= 0 ? EXPIRED : ms;
  }

  #encode(value: unknown): Payload {
    return this.#codec.encode(value);
  }

  #decode(payload: Payload, made: string): unknown {
    try {
      return this.#codec.decode(payload);
    } catch (error) {
      this.stats.decodeErrors++;
      this.#log(
        'warn',
        `cache ${this.name}: could not decode the value at ${made} (${(error as Error).message}); treated as a miss.`,
      );
      return MISS;
    }
  }

  #warnedTags = false;

  /** Tags are accepted for forward compatibility; say once that nothing acts on them yet. */
  #tagsNotYet(): void {
    if (this.#warnedTags) return;
    this.#warnedTags = true;
    this.#log(
      'warn',
      `cache ${this.name}: tags are stored nowhere yet (invalidateTags arrives with the tiered/tags release); ` +
        'values are cached without them.',
    );
  }

  /** Runs one backend call under the outage policy, with `fallback` when it is ignored. */
  async #attempt<T>(op: string, fallback: T, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      this.#failed(error, op);
      return fallback;
    }
  }

  /**
   * Outage policy: with `ignoreErrors`, a backend that is unavailable turns reads into
   * misses and writes into no-ops (logged at most once a second, counted). Otherwise, and
   * for any other error, it is thrown.
   */
  #failed(error: unknown, op: string, alwaysThrow = false): void {
    this.stats.errors++;
    if (error instanceof SerializationError) throw error;
    if (!alwaysThrow && this.config.ignoreErrors && error instanceof BackendUnavailableError) {
      const now = Date.now();
      if (now - this.#lastLoggedError > 1000) {
        this.#lastLoggedError = now;
        this.#log('warn', `cache ${this.name}: ${op} ignored: ${error.message}`);
      }
      return;
    }
    throw error;
  }
}

const MISS: unique symbol = Symbol('miss');
/** Entries getShared keeps per cache before starting over. */
const MAX_SHARED = 1000;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const EXPIRED: unique symbol = Symbol('expired');

/** `keyPrefix` with `{region}` replaced (`'shop:{region}'` → `'shop:eu'`). */
function regionalPrefix(prefix: string, region: string | undefined): string {
  return region === undefined ? prefix : prefix.replaceAll('{region}', region);
}

function stripKey(message: string): string {
  return message.replace(/^Key '[^']*': /, '');
}
