/**
 * `Cache`: Django's BaseCache semantics, async and typed. The facade owns policy — key
 * making and validation, timeouts, versions, serialization, outage behaviour — and a
 * backend (`CacheBackend`) only translates to its store.
 */
import { randomBytes } from 'node:crypto';
import { ErrorReply } from 'redis';
import { DURATION_EXPECTED, parseDuration } from '../config/duration.js';
import type { ResolvedCacheConfig } from '../config/schema.js';
import {
  BackendUnavailableError,
  CacheCommandError,
  CacheLoadTimeoutError,
  CacheMissError,
  CacheValueError,
  ConfigError,
  SerializationError,
} from '../errors.js';
import type { CacheOp, CacheStatsSource, CacheTimers, Metrics } from '../metrics/metrics.js';
import { UNTIMED } from '../metrics/op-timer.js';
import { within } from '../within.js';
import type { CacheBackend, LocalEntry, LocalTier, Payload, ReadEntry, TtlMs } from './backend.js';
import { type Codec, samePayload } from './codec.js';
import { type EnvelopeHeader, isEnvelope, unwrap, wrap } from './envelope.js';
import { KeyMaker, regionalPrefix } from './keys.js';
import { CacheLock, type LockOptions } from './lock.js';
import { localWaker, refreshEarly, type Waker } from './stampede.js';

/** A per-call timeout: seconds, a duration string, `null` (never expires), or 0/negative (don't store). */
export type Timeout = number | string | null;

/** The trailing options object every key-taking method accepts (Django's `version=`). */
export interface VersionOptions {
  version?: number;
}

export interface SetOptions extends VersionOptions {
  /** Seconds, `'500ms'`/`'15m'`…, `null` = never expires; 0 or negative = not stored. @default the cache's timeout (300 s) */
  timeout?: Timeout;
  /** Tags: `invalidateTags([tag])` makes every value stored with `tag` a miss, in every process. */
  tags?: string[];
}

/**
 * `getOrSet`'s options: `set`'s, plus stampede protection (docs/cache.md, "Stampede").
 *
 * @example
 * await cache.getOrSet('catalog:eu', load, { timeout: '5m', grace: '1h', softTimeout: '200ms', hardTimeout: '5s' });
 */
export interface GetOrSetOptions extends SetOptions {
  /**
   * Keep the value this long past its timeout. Meanwhile it is *stale*: `get` misses it, but
   * `getOrSet` serves it while one caller refreshes it (others don't wait), and serves it
   * when the loader fails (stale-if-error). @default 0
   */
  grace?: Timeout;
  /** With a stale value at hand: serve it if the loader takes longer than this (the load finishes in the background). */
  softTimeout?: Timeout;
  /** Stop waiting for the loader after this long: the stale value if any, else `CacheLoadTimeoutError`. */
  hardTimeout?: Timeout;
  /** How long a load holds the cross-process lock at most (a crashed loader frees it then). @default 10 s */
  lockTimeout?: Timeout;
  /**
   * Probabilistic early refresh (XFetch): while a value is fresh, a caller may refresh it in
   * the background shortly before it expires — earlier for slow loaders. `true` = β 1;
   * a number is β (larger refreshes earlier). @default false
   */
  earlyRefresh?: boolean | number;
}

/** What `getEntry` reports. */
export interface CacheEntry<T = unknown> {
  value: T | undefined;
  /** `hit` from the store, `hit-local` from an in-process tier, `stale` past its soft expiry, `miss`. */
  status: 'hit' | 'hit-local' | 'stale' | 'miss';
  /** Seconds since the value was stored: known for values stored with tags or by `getOrSet`. */
  age: number | undefined;
  /** When the entry stops being fresh (epoch ms), `null` if never, `undefined` on a miss. */
  expiresAt: number | null | undefined;
}

/**
 * Counters a cache keeps about itself, read by `larder.metrics`: every hit (`localHits`, from
 * the tiered backend's in-process tier, included), stale values served within a grace
 * period, misses, errors and undecodable payloads.
 */
export type CacheStats = CacheStatsSource;

export interface CacheDeps {
  backend: CacheBackend;
  codec: Codec;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Builds this cache's twin in another region (set when the config has a region map). */
  forRegion?: (region: string) => Cache;
  /** Wakes `getOrSet` callers waiting for another caller's load. @default in-process wake-ups */
  waker?: Waker;
  /** Counts and times this cache's calls (`larder.metrics`); absent or disabled: nothing is timed. */
  metrics?: Metrics;
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
  readonly stats: CacheStats = { hits: 0, localHits: 0, staleHits: 0, misses: 0, errors: 0, decodeErrors: 0 };
  readonly #codec: Codec;
  readonly #defaultTtl: TtlMs | typeof EXPIRED;
  readonly #log: NonNullable<CacheDeps['log']>;
  readonly #inflight = new Map<string, Promise<unknown>>();
  /** getShared's decoded values by store key, with the payload they came from. */
  readonly #shared = new Map<string, { payload: Payload; value: unknown }>();
  /**
   * getShared's reads in flight on a remote store, by store key, with the write epoch they
   * were sent in: a caller of the same key in the same epoch joins the read instead of
   * sending its own (a hot page costs one GET per round trip, not one per request).
   */
  readonly #reading: Map<string, SharedRead> | undefined;
  /**
   * Bumped by every write this cache sends: a read sent before a write in this process is
   * never joined after it, so a page deleted or replaced here is never served from a read
   * that raced the change.
   */
  #epoch = 0;
  readonly #forRegion: CacheDeps['forRegion'];
  readonly #local: LocalTier | undefined;
  /** Made keys of the default version, by user key (bounded): see `#memoKey`. */
  readonly #madeKeys = new Map<string, string>();
  readonly #waker: Waker;
  /** This cache's timers by operation (`larder.metrics`), or undefined when metrics are off. */
  readonly #ops: CacheTimers | undefined;
  /** The start of a timed call (`performance.now()`), or {@link UNTIMED} for an in-process backend. */
  #clock: () => number = now;
  /**
   * Set once this cache has seen an entry envelope (a value with tags or a grace period,
   * written here or by another process): reads then go through `backend.read`, which
   * returns the remaining life and the tags' tokens in the same round trip. Until then a
   * read is a plain GET.
   */
  #enveloped = false;
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
    this.#local = deps.backend.local;
    this.#waker = deps.waker ?? localWaker(deps.backend);
    this.#ops = deps.metrics?.cacheTimers(config.name, this.stats);
    // An in-process call takes a microsecond or two: two clock reads would add a fifth to it
    // (bench/cache.ts, metrics overhead). Such calls are counted in the first latency bucket,
    // untimed, as the tiered backend's local hits are; getOrSet, whose loader may be slow, is timed.
    if (config.backend === 'memory' || config.backend === 'null') this.#clock = untimed;
    // In-process stores answer in the same turn: nothing to join.
    else if (this.#local === undefined) this.#reading = new Map();
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
   * On a tiered cache a hit may come from this process's memory: that value is frozen and
   * shared by every caller — don't mutate it.
   *
   * @example const cart = await cache.get('cart:42', []);
   */
  get<T = unknown>(key: string, defaultValue?: T, options?: VersionOptions): Promise<T | undefined> {
    let made: string;
    if (this.#local !== undefined) {
      try {
        made = this.#memoKey(key, options?.version);
      } catch (error) {
        this.#ops?.get.instant();
        return Promise.reject(error);
      }
      const hit = this.#local.get(made);
      if (this.#isLocalHit(hit)) return Promise.resolve(hit.value as T);
      // Not held (or stale): #find need not ask the tier again when it holds nothing.
      const start = this.#ops === undefined ? -1 : this.#clock();
      return this.#getFound(made, defaultValue, false, hit === undefined, start);
    }
    // One check when metrics are off; a start time (-1: not timed) carried to the result.
    const start = this.#ops === undefined ? -1 : this.#clock();
    try {
      made = this.keyMaker.make(key, options?.version);
    } catch (error) {
      this.#got(start);
      return Promise.reject(error);
    }
    if (this.#enveloped) return this.#getFound(made, defaultValue, false, false, start);
    // The hot path: one backend call and one continuation, no async-function frame.
    return this.backend.get(made).then(
      (payload) => {
        if (payload !== undefined && payload !== null && isEnvelope(payload)) {
          this.#enveloped = true;
          return this.#getFound(made, defaultValue, false, false, start);
        }
        const value = this.#valueOf<T>(payload, made, defaultValue);
        this.#got(start);
        return value;
      },
      (error) => {
        this.#got(start);
        this.#failed(error, 'get');
        return defaultValue;
      },
    );
  }

  /**
   * The store key for `key`, for the calls that must cost less than validating a key (a
   * tier hit, the page cache's reads): made keys of the default version are remembered.
   */
  #memoKey(key: string, version: number | undefined): string {
    const memo = version === undefined ? this.#madeKeys.get(key) : undefined;
    if (memo !== undefined) return memo;
    const made = this.keyMaker.make(key, version);
    if (version === undefined) {
      if (this.#madeKeys.size >= MAX_MADE_KEYS) this.#madeKeys.clear();
      this.#madeKeys.set(key, made);
    }
    return made;
  }

  /** True (and counted as a local hit) when the in-process tier holds a fresh copy. */
  #isLocalHit(hit: LocalEntry | undefined): hit is LocalEntry {
    if (hit === undefined || (hit.staleAt !== undefined && hit.staleAt <= Date.now())) return false;
    this.stats.hits++;
    this.stats.localHits++;
    // Synchronous and sub-microsecond: counted in the first latency bucket without
    // reading the clock twice, which would cost as much as the hit itself.
    this.#ops?.get.instant();
    return true;
  }

  /** Records a `get` that started at `start` (-1: not timed). */
  #got(start: number): void {
    if (start >= 0) this.#ops!.get.done(start);
  }

  /** `get` through `#find` (in-process tier, envelopes, tags); `start` as in `#got`. */
  #getFound<T>(
    made: string,
    defaultValue: T | undefined,
    shared: boolean,
    notLocal = false,
    start = -1,
  ): Promise<T | undefined> {
    return this.#find(made, false, shared, notLocal).then(
      (found) => {
        this.#got(start);
        if (found === undefined) {
          this.stats.misses++;
          return defaultValue;
        }
        this.stats.hits++;
        if (found.status === 'hit-local') this.stats.localHits++;
        return found.value as T;
      },
      (error) => {
        this.#got(start);
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
   * Not in DESIGN §4.1, whose names it leaves as they are: an addition for the page cache
   * (§4.2), whose hit budget — one round trip, near hello world — a decode per hit and a GET
   * per request on a hot page would not meet. On a remote store, concurrent callers of one
   * key join the read in flight until a write through this cache (docs/cache.md#getshared).
   *
   * @example const page = await cache.getShared<StoredPage>('views.decorators.cache.cache_page…');
   */
  getShared<T = unknown>(key: string, options?: VersionOptions): Promise<T | undefined> {
    let made: string;
    try {
      made = this.#memoKey(key, options?.version);
    } catch (error) {
      return Promise.reject(error);
    }
    // A tiered cache's values are decoded once already; enveloped values are memoized in #find.
    if (this.#local !== undefined || this.#enveloped) return this.get<T>(key, undefined, options);
    const reading = this.#reading;
    const joined = reading?.get(made);
    if (joined !== undefined && joined.epoch === this.#epoch) {
      // The same promise: the read counts its joiners as hits or misses when it lands.
      joined.joiners++;
      return joined.read as Promise<T | undefined>;
    }
    // Timed as a `get`: it is one, decoded once.
    const start = this.#ops === undefined ? -1 : this.#clock();
    let entry: SharedRead | undefined;
    const read = this.backend.get(made).then(
      (payload) => {
        this.#readDone(made, entry);
        const joiners = entry?.joiners ?? 0;
        if (payload === undefined || payload === null) {
          this.#shared.delete(made);
          this.#got(start);
          this.stats.misses += joiners;
          return this.#valueOf<T>(payload, made, undefined);
        }
        if (isEnvelope(payload)) {
          this.#enveloped = true;
          return this.#getFound<T>(made, undefined, true, false, start).then((value) => {
            if (value === undefined) this.stats.misses += joiners;
            else this.stats.hits += joiners;
            return value;
          });
        }
        const value = this.#sharedValue(made, payload);
        this.#got(start);
        if (value === MISS) {
          this.stats.misses += 1 + joiners;
          return undefined;
        }
        this.stats.hits += 1 + joiners;
        return value as T;
      },
      (error) => {
        this.#readDone(made, entry);
        this.#got(start);
        this.#failed(error, 'get');
        return undefined;
      },
    );
    if (reading !== undefined) {
      entry = { epoch: this.#epoch, read, joiners: 0 };
      reading.set(made, entry);
    }
    return read;
  }

  /**
   * `getShared` answered in the calling turn when this process holds the answer — a memory
   * cache, or a tiered cache whose in-process tier has a fresh copy — else
   * {@link NOT_IN_PROCESS}: ask `getShared`, which needs a round trip. Counted as `getShared`
   * counts; an invalid key throws ({@link InvalidCacheKeyError}).
   *
   * Not in DESIGN §4.1, as `getShared` is not: an addition for the page cache (§4.2), where a
   * hit that needs no round trip is sent without waiting for a later turn (on Hono, that keeps
   * a page on @hono/node-server's synchronous path).
   *
   * @example const page = cache.getSharedNow<StoredPage>(key);
   */
  getSharedNow<T = unknown>(key: string, options?: VersionOptions): T | undefined | typeof NOT_IN_PROCESS {
    const made = this.#memoKey(key, options?.version);
    if (this.#local !== undefined) {
      const hit = this.#local.get(made);
      return this.#isLocalHit(hit) ? (hit.value as T) : NOT_IN_PROCESS;
    }
    const backend = this.backend;
    if (backend.getNow === undefined) return NOT_IN_PROCESS;
    const start = this.#ops === undefined ? -1 : this.#clock();
    const payload = backend.getNow(made);
    // A value with tags or a grace period needs its envelope opened: the asynchronous path.
    if (payload !== undefined && payload !== null && isEnvelope(payload)) {
      this.#enveloped = true;
      return NOT_IN_PROCESS;
    }
    this.#got(start);
    const value = payload === undefined || payload === null ? MISS : this.#sharedValue(made, payload);
    if (value === MISS) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    return value as T;
  }

  /** A getShared read has landed: later callers send their own (unless a newer one took its place). */
  #readDone(made: string, entry: SharedRead | undefined): void {
    if (entry !== undefined && this.#reading?.get(made) === entry) this.#reading.delete(made);
  }

  /** The decoded value of `payload`, decoded once per distinct payload (MISS when undecodable). */
  #sharedValue(made: string, payload: Payload): unknown {
    const memo = this.#shared.get(made);
    if (memo && samePayload(memo.payload, payload)) return memo.value;
    const value = this.#decode(payload, made);
    if (value !== MISS) {
      if (this.#shared.size >= MAX_SHARED) this.#shared.clear();
      this.#shared.set(made, { payload, value });
    }
    return value;
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
   * The entry at `made`, wherever it is: the in-process tier, else the store (one round
   * trip; a second only on Cluster for a tagged value's tokens). `undefined` on a miss — a
   * value whose tag was invalidated, or that cannot be decoded, is a miss. A value past its
   * timeout but within its grace period is returned only with `allowStale` (status 'stale').
   * With a tier, what the store returned is frozen and offered to the tier. `notLocal`: the
   * caller has just found the tier empty for `made`.
   */
  async #find(
    made: string,
    allowStale: boolean,
    shared = false,
    notLocal = false,
  ): Promise<Found | undefined> {
    const local = this.#local;
    if (local !== undefined && !notLocal) {
      const hit = local.get(made);
      if (hit !== undefined) {
        const now = Date.now();
        const stale = hit.staleAt !== undefined && hit.staleAt <= now;
        if (stale && !allowStale) return undefined;
        const freshUntil = hit.staleAt ?? hit.expiresAt;
        return {
          value: hit.value,
          status: stale ? 'stale' : 'hit-local',
          freshUntil,
          header: hit.header,
        };
      }
    }
    const since = local?.mark(made) ?? 0;
    const read = await this.backend.read(made);
    if (read === undefined) return undefined;
    const opened = await this.#open(read, made, shared);
    if (opened === undefined) return undefined;
    const { header } = opened;
    let { value } = opened;
    const now = Date.now();
    const grace = header?.g ?? 0;
    const freshMs = read.pttl === null ? null : read.pttl - grace;
    const stale = freshMs !== null && freshMs <= 0;
    if (local !== undefined) {
      value = deepFreeze(value);
      local.remember(
        made,
        {
          value,
          expiresAt: read.pttl === null ? null : now + read.pttl,
          ...(grace > 0 && freshMs !== null ? { staleAt: now + freshMs } : {}),
          bytes: byteLength(read.payload),
          ...(header?.t?.length ? { tagKeys: header.t.map(([tagKey]) => tagKey) } : {}),
          ...(header ? { header } : {}),
        },
        since,
      );
    }
    if (stale && !allowStale) return undefined;
    return {
      value,
      status: stale ? 'stale' : 'hit',
      freshUntil: freshMs === null ? null : now + freshMs,
      header,
    };
  }

  /**
   * Opens a payload the store returned: unwraps an envelope, checks its tags against their
   * current tokens (from the same round trip when the backend could read them), decodes.
   */
  async #open(
    read: ReadEntry,
    made: string,
    shared: boolean,
  ): Promise<{ value: unknown; header: EnvelopeHeader | undefined } | undefined> {
    let inner = read.payload;
    let header: EnvelopeHeader | undefined;
    if (isEnvelope(inner)) {
      this.#enveloped = true;
      try {
        ({ header, inner } = unwrap(inner));
      } catch (error) {
        this.#decodeFailed(error, made);
        return undefined;
      }
      const tags = header.t;
      if (tags?.length) {
        const tokens = read.tagTokens ?? (await this.#tokens(tags.map(([tagKey]) => tagKey)));
        for (let i = 0; i < tags.length; i++) if (tokens[i] !== tags[i]![1]) return undefined;
      }
    }
    const value = shared ? this.#sharedValue(made, inner) : this.#decode(inner, made);
    return value === MISS ? undefined : { value, header };
  }

  /**
   * The value with its status, freshness and age, in one round trip (none when the
   * in-process tier holds it). A value within its grace period is reported `stale`.
   *
   * @example const { value, status, expiresAt } = await cache.getEntry('k');
   */
  async getEntry<T = unknown>(key: string, options?: VersionOptions): Promise<CacheEntry<T>> {
    const timer = this.#ops?.getEntry;
    const start = timer === undefined ? 0 : this.#clock();
    try {
      const made = this.keyMaker.make(key, options?.version);
      const miss: CacheEntry<T> = { value: undefined, status: 'miss', age: undefined, expiresAt: undefined };
      let found: Found | undefined;
      try {
        found = await this.#find(made, true);
      } catch (error) {
        this.#failed(error, 'getEntry');
        return miss;
      }
      if (found === undefined) {
        this.stats.misses++;
        return miss;
      }
      this.stats.hits++;
      if (found.status === 'hit-local') this.stats.localHits++;
      const lifetime = found.header?.l;
      const age =
        lifetime !== undefined && found.freshUntil !== null
          ? Math.max(0, (lifetime - (found.freshUntil - Date.now())) / 1000)
          : undefined;
      return { value: found.value as T, status: found.status, age, expiresAt: found.freshUntil };
    } finally {
      timer?.done(start);
    }
  }

  /**
   * Stores `value` at `key`. A timeout of 0 or less stores nothing and removes what was
   * there (Django's semantics). With `tags`, `invalidateTags` of any of them makes the value
   * a miss everywhere.
   *
   * @example await cache.set('product:42', product, { timeout: '15m', tags: ['products', 'product:42'] });
   */
  async set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    const timer = this.#ops?.set;
    const start = timer === undefined ? 0 : this.#clock();
    try {
      const made = this.keyMaker.make(key, options?.version);
      const ttl = this.#ttl(options?.timeout);
      if (ttl === EXPIRED) {
        await this.#attempt('set', false, () => this.backend.delete(made));
        return;
      }
      const tagKeys = this.#tagKeys(options?.tags);
      let payload = this.#encode(value);
      await this.#attempt('set', undefined, async () => {
        if (tagKeys) payload = this.#wrap(payload, ttl, { t: await this.#stamp(tagKeys) });
        await this.backend.set(made, payload, ttl);
      });
    } finally {
      timer?.done(start);
    }
  }

  /**
   * Stores only if `key` is absent; returns whether it stored. A timeout of 0 returns
   * true and stores nothing, as Django. A value `get` misses — its tag invalidated, or past
   * its timeout within a grace period — counts as absent: it is replaced.
   *
   * @example if (await cache.add('lock:report', 1, { timeout: 60 })) runReport();
   */
  async add(key: string, value: unknown, options?: SetOptions): Promise<boolean> {
    const timer = this.#ops?.add;
    const start = timer === undefined ? 0 : this.#clock();
    try {
      const made = this.keyMaker.make(key, options?.version);
      const ttl = this.#ttl(options?.timeout);
      const tagKeys = this.#tagKeys(options?.tags);
      let payload = this.#encode(value);
      if (ttl === EXPIRED) return true;
      return await this.#attempt('add', false, async () => {
        if (tagKeys) payload = this.#wrap(payload, ttl, { t: await this.#stamp(tagKeys) });
        // A value that is there but dead — its tag invalidated, or past its timeout within
        // its grace — is absent for `get`, so it is for `add`: it is deleted if it is still
        // that value (atomically) and the add tried again. Otherwise add would refuse until
        // the store dropped it, which for a value without a timeout is never.
        for (let attempt = 0; attempt < 3; attempt++) {
          if (await this.backend.add(made, payload, ttl)) return true;
          const read = await this.backend.read(made);
          if (read === undefined) continue; // gone meanwhile
          if (await this.#isLive(read, made)) return false;
          await this.backend.deleteIfEquals(made, read.payload);
        }
        return false;
      });
    } finally {
      timer?.done(start);
    }
  }

  /**
   * True when `get` would return the value `read` holds: a plain payload, or an envelope
   * whose tags are current and that is not past its timeout (within its grace).
   */
  async #isLive(read: ReadEntry, made: string): Promise<boolean> {
    if (!isEnvelope(read.payload)) return true;
    const opened = await this.#open(read, made, false);
    if (opened === undefined) return false;
    const grace = opened.header?.g ?? 0;
    return read.pttl === null || read.pttl - grace > 0;
  }

  /**
   * Makes every value stored with one of `tags` a miss, in every process (each tag's token
   * is deleted: one round trip per Cluster slot group, whatever the number of values).
   * `tags` is an array (or another iterable) of tags; a lone string is a `CacheValueError`,
   * as it is for `set`'s `tags` — spread, it would be its characters.
   *
   * @example await cache.invalidateTags(['products']);
   */
  // `& object`: a string is an Iterable<string> too, and would be read as its characters;
  // a primitive is not an object, so `invalidateTags('products')` does not type-check.
  async invalidateTags(tags: Iterable<string> & object): Promise<void> {
    const timer = this.#ops?.invalidateTags;
    const start = timer === undefined ? 0 : this.#clock();
    try {
      // Checked before spreading (untyped callers): 'products' would invalidate 'p', 'r', 'o', …
      if (typeof tags === 'string' || tags === null || typeof tags !== 'object' || !(Symbol.iterator in tags))
        throw new CacheValueError(
          String(tags),
          typeof tags === 'string'
            ? `invalidateTags takes an array of tags: invalidateTags(['${tags}']), not a string (its characters would be the tags).`
            : `invalidateTags takes an array (or another iterable) of tags; got ${tags === null ? 'null' : typeof tags}.`,
        );
      const tagKeys = this.#tagKeys([...tags]);
      if (!tagKeys) return;
      await this.#attempt('invalidateTags', 0, () => this.backend.deleteMany(tagKeys));
    } finally {
      timer?.done(start);
    }
  }

  /** The store keys of `tags` (validated like keys; version-independent), or undefined for none. */
  #tagKeys(tags: readonly string[] | undefined): string[] | undefined {
    if (tags === undefined) return undefined;
    // A string is iterable: 'abc' would quietly become the tags 'a', 'b' and 'c'.
    if (!Array.isArray(tags))
      throw new CacheValueError(
        String(tags),
        `tags must be an array of strings (tags: ['catalog']); got ${typeof tags}.`,
      );
    if (tags.length === 0) return undefined;
    return [...new Set(tags)].map((tag) => {
      if (typeof tag !== 'string' || tag === '')
        throw new CacheValueError(String(tag), 'a tag must be a non-empty string.');
      return this.keyMaker.make(`${TAG_PREFIX}${tag}`, TAG_VERSION);
    });
  }

  /**
   * The current token of each tag key, creating the ones that are missing — taken before
   * the value is computed, so an invalidation that lands in between wins.
   */
  async #stamp(tagKeys: readonly string[]): Promise<Array<[string, string]>> {
    // One SET NX GET per tag, sent together: one round trip (per node on Cluster).
    return Promise.all(
      tagKeys.map(async (tagKey): Promise<[string, string]> => {
        const fresh = randomBytes(9).toString('base64url');
        const existing = await this.backend.addOrGet(tagKey, fresh, null);
        return [tagKey, existing === undefined || existing === null ? fresh : existing.toString()];
      }),
    );
  }

  /** Current tokens of `tagKeys` (`null` when absent). */
  async #tokens(tagKeys: readonly string[]): Promise<Array<string | null>> {
    const tokens = await this.backend.getMany(tagKeys);
    return tokens.map((t) => (t === undefined || t === null ? null : t.toString()));
  }

  /** Wraps `payload` in an entry envelope; the caller stores it for `ttl` + the grace. */
  #wrap(payload: Payload, ttl: TtlMs, header: EnvelopeHeader): Payload {
    this.#enveloped = true;
    if (ttl !== null) header.l = ttl;
    return wrap(payload, header);
  }

  /** Deletes `key`; true if it was there. @example await cache.delete('k') */
  async delete(key: string, options?: VersionOptions): Promise<boolean> {
    const timer = this.#ops?.delete;
    const start = timer === undefined ? 0 : this.#clock();
    try {
      const made = this.keyMaker.make(key, options?.version);
      return await this.#attempt('delete', false, () => this.backend.delete(made));
    } finally {
      timer?.done(start);
    }
  }

  /**
   * True when `get` would find a value at `key` (Django's `has_key`, which is `get` too): a
   * value whose tag was invalidated, or past its timeout within its grace, is not there.
   *
   * @example await cache.has('k')
   */
  async has(key: string, options?: VersionOptions): Promise<boolean> {
    const timer = this.#ops?.has;
    const start = timer === undefined ? 0 : this.#clock();
    try {
      const made = this.keyMaker.make(key, options?.version);
      // Not EXISTS, even before this cache has met an envelope: another process may have
      // stored one, and only its header says whether `get` would take it.
      return await this.#attempt('has', false, async () => (await this.#find(made, false)) !== undefined);
    } finally {
      timer?.done(start);
    }
  }

  /**
   * The values of the keys found, in one round trip (per Cluster slot group).
   *
   * @example const found = await cache.getMany(['a', 'b']); found.get('a')
   */
  async getMany<T = unknown>(keys: Iterable<string>, options?: VersionOptions): Promise<Map<string, T>> {
    const timer = this.#ops?.getMany;
    const start = timer === undefined ? 0 : this.#clock();
    try {
      const userKeys = [...keys];
      const made = userKeys.map((k) => this.keyMaker.make(k, options?.version));
      const found = new Map<string, T>();
      if (made.length === 0) return found;
      // Plain values: one MGET per slot group. Envelopes (seen before, or in this reply) and
      // tier fills go through #find, all sent in one tick: one round trip per node.
      let viaFind: number[] = [];
      if (this.#local === undefined && !this.#enveloped) {
        let payloads: Array<Payload | undefined>;
        try {
          payloads = await this.backend.getMany(made);
        } catch (error) {
          this.#failed(error, 'getMany');
          return found;
        }
        for (let i = 0; i < userKeys.length; i++) {
          const payload = payloads[i];
          if (payload === undefined || payload === null) {
            this.stats.misses++;
            continue;
          }
          if (isEnvelope(payload)) {
            this.#enveloped = true;
            viaFind.push(i);
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
      } else {
        viaFind = made.map((_, i) => i);
      }
      if (viaFind.length === 0) return found;
      let results: Array<Found | undefined>;
      try {
        results = await Promise.all(viaFind.map((i) => this.#find(made[i]!, false)));
      } catch (error) {
        this.#failed(error, 'getMany');
        return found;
      }
      // In key order, as the plain path (a Map keeps insertion order).
      const ordered = new Map<string, T>();
      const byIndex = new Map<number, Found | undefined>();
      for (let j = 0; j < viaFind.length; j++) byIndex.set(viaFind[j]!, results[j]);
      for (let i = 0; i < userKeys.length; i++) {
        const key = userKeys[i]!;
        if (!byIndex.has(i)) {
          if (found.has(key)) ordered.set(key, found.get(key)!);
          continue;
        }
        const hit = byIndex.get(i);
        if (hit === undefined) {
          this.stats.misses++;
          continue;
        }
        this.stats.hits++;
        if (hit.status === 'hit-local') this.stats.localHits++;
        ordered.set(key, hit.value as T);
      }
      return ordered;
    } finally {
      timer?.done(start);
    }
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
    const timer = this.#ops?.setMany;
    const start = timer === undefined ? 0 : this.#clock();
    try {
      const pairs = batchPairs(entries);
      const ttl = this.#ttl(options?.timeout);
      const byMade = new Map<string, string>();
      const encoded: Array<readonly [string, Payload]> = [];
      for (const [key, value] of pairs) {
        const made = this.keyMaker.make(key, options?.version);
        byMade.set(made, key);
        encoded.push([made, this.#encode(value)]);
      }
      if (encoded.length === 0) return [];
      const tagKeys = this.#tagKeys(options?.tags);
      this.#epoch++;
      try {
        if (ttl === EXPIRED) {
          await this.backend.deleteMany(encoded.map(([made]) => made));
          return [];
        }
        if (tagKeys) {
          const header = { t: await this.#stamp(tagKeys) };
          for (let i = 0; i < encoded.length; i++)
            encoded[i] = [encoded[i]![0], this.#wrap(encoded[i]![1], ttl, { ...header })];
        }
        const failed = await this.backend.setMany(encoded, ttl);
        return failed.map((made) => byMade.get(made) ?? made);
      } catch (error) {
        this.#failed(error, 'setMany');
        return pairs.map(([key]) => key);
      }
    } finally {
      timer?.done(start);
    }
  }

  /** Deletes several keys; returns how many existed. @example await cache.deleteMany(['a', 'b']) */
  async deleteMany(keys: Iterable<string>, options?: VersionOptions): Promise<number> {
    const timer = this.#ops?.deleteMany;
    const start = timer === undefined ? 0 : this.#clock();
    try {
      const made = [...keys].map((k) => this.keyMaker.make(k, options?.version));
      if (made.length === 0) return 0;
      return await this.#attempt('deleteMany', 0, () => this.backend.deleteMany(made));
    } finally {
      timer?.done(start);
    }
  }

  /**
   * Removes this cache's keys only (every version) — never the rest of a shared database.
   *
   * @example await larder.cache('pages').clear()
   */
  async clear(): Promise<void> {
    const timer = this.#ops?.clear;
    const start = timer === undefined ? 0 : this.#clock();
    try {
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
    } finally {
      timer?.done(start);
    }
  }

  /**
   * Atomically adds `delta` to an integer value; returns the new value. A missing key is a
   * `CacheMissError`, a non-integer value a `CacheValueError`. The expiry is kept.
   *
   * @example await cache.set('views', 0); await cache.incr('views'); // 1
   */
  async incr(key: string, delta = 1, options?: VersionOptions): Promise<number> {
    const timer = this.#ops?.incr;
    const start = timer === undefined ? 0 : this.#clock();
    try {
      if (!Number.isSafeInteger(delta))
        throw new CacheValueError(key, `delta must be an integer; got ${delta}.`);
      const made = this.keyMaker.make(key, options?.version);
      let result: number | undefined;
      this.#epoch++;
      try {
        result = await this.backend.incr(made, delta);
      } catch (error) {
        if (error instanceof CacheValueError)
          throw new CacheValueError(key, stripKey(error.message), { cause: error });
        this.#failed(error, 'incr', true);
      }
      if (result === undefined) throw new CacheMissError(key, delta >= 0 ? 'incr' : 'decr');
      return result;
    } finally {
      timer?.done(start);
    }
  }

  /** `incr(key, -delta)`. @example await cache.decr('stock:sku-1') */
  decr(key: string, delta = 1, options?: VersionOptions): Promise<number> {
    return this.incr(key, -delta, options);
  }

  /**
   * Sets a new timeout on an existing key (default: the cache's). False when missing. A
   * value stored with a grace period stays fresh for the new timeout, then stale for its grace.
   *
   * @example await cache.touch('session-data', 3600)
   */
  async touch(key: string, timeout?: Timeout, options?: VersionOptions): Promise<boolean> {
    const timer = this.#ops?.touch;
    const start = timer === undefined ? 0 : this.#clock();
    try {
      const made = this.keyMaker.make(key, options?.version);
      const ttl = this.#ttl(timeout);
      return await this.#attempt('touch', false, () =>
        ttl === EXPIRED ? this.backend.delete(made) : this.backend.touch(made, ttl),
      );
    } finally {
      timer?.done(start);
    }
  }

  /**
   * The value at `key`; on a miss, `valueOrLoader` (a value, or a function, maybe async)
   * is stored and returned. A loader that returns `undefined` stores nothing.
   *
   * Stampede protection (docs/cache.md): concurrent callers share one load — in this
   * process, and across processes through a lock in the store, with waiters woken by the
   * winner rather than polling. With `grace`, a value past its timeout is served while one
   * caller refreshes it and when the loader fails; `softTimeout`/`hardTimeout` bound the
   * wait; `earlyRefresh` refreshes a value shortly before it expires.
   *
   * @example
   * const products = await cache.getOrSet('products:eu', () => db.products('eu'), {
   *   timeout: '5m', grace: '1h', softTimeout: '250ms', tags: ['products'],
   * });
   */
  getOrSet<T>(key: string, valueOrLoader: T | (() => T | Promise<T>), options?: GetOrSetOptions): Promise<T> {
    const timer = this.#ops?.getOrSet;
    if (timer === undefined) return this.#getOrSet(key, valueOrLoader, options);
    // Timed to the caller's result (a stale value served, a load joined, a timeout).
    const start = performance.now();
    return this.#getOrSet(key, valueOrLoader, options).finally(() => timer.done(start));
  }

  async #getOrSet<T>(
    key: string,
    valueOrLoader: T | (() => T | Promise<T>),
    options?: GetOrSetOptions,
  ): Promise<T> {
    const made = this.keyMaker.make(key, options?.version);
    const plan = this.#plan(key, made, valueOrLoader, options);
    let found: Found | undefined;
    try {
      found = await this.#find(made, plan.grace > 0);
    } catch (error) {
      this.#failed(error, 'getOrSet');
    }
    if (found !== undefined && found.status !== 'stale') {
      this.stats.hits++;
      if (found.status === 'hit-local') this.stats.localHits++;
      if (plan.beta > 0 && found.freshUntil !== null && !this.#inflight.has(made)) {
        const delta = found.header?.d ?? 0;
        if (refreshEarly(found.freshUntil - Date.now(), delta, plan.beta)) {
          this.#load(plan, found).catch((error) => this.#loadFailed(plan, error));
        }
      }
      return found.value as T;
    }
    this.stats.misses++;
    if (found !== undefined) {
      // Stale, within grace: a refresh is under way here → serve stale at once.
      if (this.#inflight.has(made)) return this.#served(found);
      const refresh = this.#load(plan, found);
      let settled: Promise<T> = refresh.catch((error) => {
        this.#loadFailed(plan, error);
        return this.#served(found);
      });
      const wait = plan.softTimeout ?? plan.hardTimeout;
      // A caller's own bounded wait: its timer keeps the process alive, and is cleared once
      // the load settles (one per call left to run out would hold the process that long).
      if (wait !== undefined)
        settled = within(settled, wait, () => this.#served<T>(found), { keepAlive: true });
      return settled;
    }
    const load = this.#inflight.get(made) ?? this.#load(plan, undefined);
    if (plan.hardTimeout === undefined) return load as Promise<T>;
    return within(
      load as Promise<T>,
      plan.hardTimeout,
      () => {
        throw new CacheLoadTimeoutError(key, plan.hardTimeout!);
      },
      { keepAlive: true },
    );
  }

  /** `getOrSet`'s options, parsed once per call. */
  #plan<T>(
    key: string,
    made: string,
    valueOrLoader: T | (() => T | Promise<T>),
    options?: GetOrSetOptions,
  ): Plan<T> {
    const ms = (value: Timeout | undefined, name: string, zeroOk = false): number | undefined => {
      if (value === undefined || value === null) return undefined;
      // grace 0 is the documented default (no grace) and softTimeout 0 serves a stale value
      // at once while the refresh runs; a negative one is a mistake, not "none".
      const parsed = parseDuration(value, `getOrSet ${name}`, { allowZeroOrNegative: zeroOk }) ?? 0;
      if (parsed < 0) throw new ConfigError(`getOrSet ${name}`, value, `0 or more: ${DURATION_EXPECTED}`);
      return parsed;
    };
    const early = options?.earlyRefresh;
    const beta = early === true ? 1 : typeof early === 'number' ? early : 0;
    if (!(Number.isFinite(beta) && beta >= 0))
      throw new ConfigError('getOrSet earlyRefresh', early, 'true, false or a number β ≥ 0');
    return {
      key,
      made,
      loader:
        typeof valueOrLoader === 'function'
          ? (valueOrLoader as () => T | Promise<T>)
          : () => valueOrLoader as T,
      options,
      ttl: this.#ttl(options?.timeout),
      grace: ms(options?.grace, 'grace', true) ?? 0,
      softTimeout: ms(options?.softTimeout, 'softTimeout', true),
      hardTimeout: ms(options?.hardTimeout, 'hardTimeout'),
      lockTtl: ms(options?.lockTimeout, 'lockTimeout') ?? 10_000,
      beta,
    };
  }

  /** A stale value served within its grace period. */
  #served<T>(found: Found): T {
    this.stats.staleHits++;
    return found.value as T;
  }

  #loadFailed(plan: Plan<unknown>, error: unknown): void {
    this.#log(
      'warn',
      `cache ${this.name}: refreshing ${plan.made} failed (${(error as Error)?.message ?? error}); serving the stale value.`,
    );
  }

  /**
   * The one load of `plan.made` in this process (joined by later callers), leading or
   * waiting across processes: take the store lock and load, or — when another process holds
   * it — serve `stale` if there is one, else wait for its wake-up and read what it stored.
   */
  #load<T>(plan: Plan<T>, stale: Found | undefined): Promise<T> {
    const running = this.#inflight.get(plan.made);
    if (running) return running as Promise<T>;
    // Registered before it can settle: the body starts on the next microtask.
    const load = Promise.resolve()
      .then(() => this.#leadOrWait(plan, stale))
      .finally(() => this.#inflight.delete(plan.made));
    this.#inflight.set(plan.made, load);
    return load as Promise<T>;
  }

  async #leadOrWait<T>(plan: Plan<T>, stale: Found | undefined): Promise<T> {
    const lockKey = `${plan.made}${LOCK_SUFFIX}`;
    for (let attempt = 0; ; attempt++) {
      const token = randomBytes(12).toString('base64url');
      let held: boolean;
      try {
        held = await this.backend.add(lockKey, token, plan.lockTtl);
      } catch (error) {
        // No store to coordinate through (ignoreErrors): load here, alone.
        this.#failed(error, 'getOrSet');
        return this.#runLoader(plan, undefined);
      }
      if (held) return this.#runLoader(plan, token);
      if (stale) return this.#served(stale);
      // Another process loads: listen first, look once more, then sleep until woken (or
      // until its lock would have expired, if it died without waking anyone).
      const { wait, cancel } = await this.#waker.listen(plan.made, plan.lockTtl);
      let found = await this.#find(plan.made, false).catch(() => undefined);
      if (found === undefined) {
        await wait;
        found = await this.#find(plan.made, false).catch(() => undefined);
      } else {
        cancel();
      }
      if (found !== undefined) return found.value as T;
      // The loader failed or stored nothing: compete again; after three rounds, load here.
      if (attempt >= 2) return this.#runLoader(plan, undefined);
    }
  }

  /** Runs the loader, stores its value, then releases the lock (`token`) and wakes waiters. */
  async #runLoader<T>(plan: Plan<T>, token: string | undefined): Promise<T> {
    try {
      // Tag tokens before the load: an invalidation during the load makes this value a miss.
      const tagKeys = this.#tagKeys(plan.options?.tags);
      let tags: Array<[string, string]> | undefined;
      // With ignoreErrors and the store down, the tokens cannot be read: load anyway and
      // serve the value, but do not store it untagged (no invalidation could reach it).
      let storable = true;
      if (tagKeys) {
        try {
          tags = await this.#stamp(tagKeys);
        } catch (error) {
          this.#failed(error, 'getOrSet');
          storable = false;
        }
      }
      const started = performance.now();
      const value = await plan.loader();
      const took = Math.round(performance.now() - started);
      if (storable && value !== undefined && plan.ttl !== EXPIRED) {
        let payload = this.#encode(value);
        const enveloped = tags !== undefined || plan.grace > 0 || plan.beta > 0;
        if (enveloped) {
          const header: EnvelopeHeader = { d: took };
          if (tags) header.t = tags;
          if (plan.grace > 0) header.g = plan.grace;
          payload = this.#wrap(payload, plan.ttl, header);
        }
        const ttl = plan.ttl === null ? null : plan.ttl + plan.grace;
        await this.#attempt('getOrSet', undefined, () => this.backend.set(plan.made, payload, ttl));
      }
      return value;
    } finally {
      if (token !== undefined) {
        const lockKey = `${plan.made}${LOCK_SUFFIX}`;
        await this.backend.deleteIfEquals(lockKey, token).catch(() => false);
        await this.#waker.wake(plan.made);
      }
    }
  }

  /**
   * Seconds left before `key` expires: `null` if it never does, `0` if it is missing. For a
   * value stored with a grace period, the seconds it stays fresh (the grace not counted).
   *
   * @example await cache.ttl('k') // 299.981
   */
  async ttl(key: string, options?: VersionOptions): Promise<number | null> {
    const timer = this.#ops?.ttl;
    const start = timer === undefined ? 0 : this.#clock();
    try {
      const made = this.keyMaker.make(key, options?.version);
      const ms = await this.#attempt<number | null>('ttl', 0, () => this.backend.ttl(made));
      return ms === null ? null : ms / 1000;
    } finally {
      timer?.done(start);
    }
  }

  /** Gives an existing key a new timeout (django-redis `expire`). @example await cache.expire('k', 60) */
  expire(key: string, timeout: Timeout, options?: VersionOptions): Promise<boolean> {
    return this.touch(key, timeout, options);
  }

  /** Removes the timeout of an existing key. @example await cache.persist('k') */
  async persist(key: string, options?: VersionOptions): Promise<boolean> {
    const timer = this.#ops?.persist;
    const start = timer === undefined ? 0 : this.#clock();
    try {
      const made = this.keyMaker.make(key, options?.version);
      return await this.#attempt('persist', false, () => this.backend.persist(made));
    } finally {
      timer?.done(start);
    }
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
    const glob = this.keyMaker.pattern(pattern, version);
    try {
      for await (const batch of this.backend.scan(glob, SCAN_BATCH)) {
        for (const made of batch) {
          // getOrSet's lock keys end in a control character no user key may hold: not listed.
          if (made.endsWith(LOCK_SUFFIX)) continue;
          const key = this.keyMaker.isDefaultFormat ? this.keyMaker.strip(made, version) : made;
          if (key !== undefined) yield key;
        }
      }
    } catch (error) {
      // The outage policy, as for every read: with ignoreErrors an unreachable store lists
      // nothing more (logged, counted) instead of throwing. A throw in the caller's loop body
      // does not land here (the loop ends the iterator with return(), not throw()).
      this.#failed(error, 'keys');
    }
  }

  /** Deletes every key matching the glob `pattern`; returns how many. @example await cache.deletePattern('cart:*') */
  async deletePattern(pattern: string, options?: VersionOptions): Promise<number> {
    const timer = this.#ops?.deletePattern;
    const start = timer === undefined ? 0 : this.#clock();
    try {
      return await this.#attempt('deletePattern', 0, () =>
        this.backend.deletePattern(this.keyMaker.pattern(pattern, options?.version)),
      );
    } finally {
      timer?.done(start);
    }
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
    this.#epoch++;
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
      this.#decodeFailed(error, made);
      return MISS;
    }
  }

  #decodeFailed(error: unknown, made: string): void {
    this.stats.decodeErrors++;
    this.#log(
      'warn',
      `cache ${this.name}: could not decode the value at ${made} (${(error as Error).message}); treated as a miss.`,
    );
  }

  /** Runs one backend call under the outage policy, with `fallback` when it is ignored. */
  async #attempt<T>(op: CacheOp, fallback: T, run: () => Promise<T>): Promise<T> {
    // Every write but setMany, incr and incrVersion goes through here (they bump it
    // themselves); `has`, the one read that does, ends no sharing.
    if (op !== 'has') this.#epoch++;
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
  #failed(error: unknown, op: CacheOp | 'keys', alwaysThrow = false): void {
    this.stats.errors++;
    // keys/iterKeys are counted in `errors` but have no timer of their own (metrics' CACHE_OPS).
    if (op !== 'keys') this.#ops?.[op].fail();
    if (error instanceof SerializationError) throw error;
    // A reply error (WRONGTYPE, OOM, a failed script) becomes a typed error that says what
    // to do. OOM is the server unable to store anything now: with ignoreErrors, a no-op.
    const refused =
      error instanceof ErrorReply
        ? new CacheCommandError(this.name, op, error.message, { cause: error })
        : undefined;
    const ignorable = error instanceof BackendUnavailableError || refused?.reply.startsWith('OOM') === true;
    if (!alwaysThrow && this.config.ignoreErrors && ignorable) {
      const now = Date.now();
      if (now - this.#lastLoggedError > 1000) {
        this.#lastLoggedError = now;
        this.#log('warn', `cache ${this.name}: ${op} ignored: ${(error as Error).message}`);
      }
      return;
    }
    throw refused ?? error;
  }
}

/**
 * `setMany`'s argument as [key, value] pairs: a Map, an iterable of pairs, or a plain object.
 * Anything else (null, a string, a number, an array of non-pairs) is a CacheValueError, before
 * anything is written.
 */
function batchPairs(entries: unknown): Array<readonly [string, unknown]> {
  const refuse = (got: string) =>
    new CacheValueError(
      '(setMany)',
      `setMany takes a Map, an iterable of [key, value] pairs or a plain object of key → value; got ${got}.`,
    );
  if (entries === null || typeof entries !== 'object')
    throw refuse(entries === null ? 'null' : typeof entries);
  if (entries instanceof Map) return [...entries];
  if (!(Symbol.iterator in entries)) return Object.entries(entries);
  const pairs: Array<readonly [string, unknown]> = [];
  for (const pair of entries as Iterable<unknown>) {
    if (!Array.isArray(pair) || pair.length !== 2)
      throw refuse(`an entry that is not a [key, value] pair (${String(pair)})`);
    pairs.push(pair as [string, unknown]);
  }
  return pairs;
}

/** `OpTimer.done(UNTIMED)` counts a call in the first latency bucket without reading the clock. */
const untimed = () => UNTIMED;
const now = () => performance.now();

const MISS: unique symbol = Symbol('miss');

/** A getShared read in flight: the write epoch it was sent in, and how many callers joined it. */
interface SharedRead {
  readonly epoch: number;
  readonly read: Promise<unknown>;
  joiners: number;
}

/**
 * {@link Cache.getSharedNow}'s answer when only the store can tell: call `getShared`. A
 * registered symbol, the same in every copy of this module (an app whose caches come from
 * one build of larder and its adapters from another still agrees on it).
 */
export const NOT_IN_PROCESS: unique symbol = Symbol.for('larder.cache.notInProcess');
/** Tag keys: `keyMaker.make('larder.tag:' + tag, 0)` — outside every version a user reads. */
const TAG_PREFIX = 'larder.tag:';
const TAG_VERSION = 0;
/** `getOrSet`'s lock key is the value's key plus this: a control character no user key may hold. */
const LOCK_SUFFIX = '\u001flock';

/** What `#find` returns for a value it found. */
interface Found {
  value: unknown;
  status: 'hit' | 'hit-local' | 'stale';
  /** When the value stops being fresh (epoch ms), `null` if never. */
  freshUntil: number | null;
  header: EnvelopeHeader | undefined;
}

/** One `getOrSet` call, with its options parsed. */
interface Plan<T> {
  key: string;
  made: string;
  loader: () => T | Promise<T>;
  options: GetOrSetOptions | undefined;
  ttl: TtlMs | typeof EXPIRED;
  grace: number;
  softTimeout: number | undefined;
  hardTimeout: number | undefined;
  lockTtl: number;
  beta: number;
}

/**
 * Freezes `value` and everything reachable from it, so a value shared by every caller of
 * the in-process tier cannot be changed through one of them. Maps and Sets also refuse
 * `set`/`add`/`delete`/`clear`. Byte arrays cannot be frozen (a JavaScript rule) and Dates
 * keep their setters: treat them as read-only.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  if (ArrayBuffer.isView(value)) return value;
  if (value instanceof Map) {
    for (const [k, v] of value) {
      deepFreeze(k);
      deepFreeze(v);
    }
    for (const method of ['set', 'delete', 'clear'] as const)
      Object.defineProperty(value, method, { value: readOnly });
  } else if (value instanceof Set) {
    for (const v of value) deepFreeze(v);
    for (const method of ['add', 'delete', 'clear'] as const)
      Object.defineProperty(value, method, { value: readOnly });
  }
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}

function readOnly(): never {
  throw new TypeError('This cached value is shared by every reader of the in-process tier and is read-only.');
}

function byteLength(payload: Payload): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
}
/** Made keys a tiered cache remembers before starting over. */
const MAX_MADE_KEYS = 10_000;
/** Entries getShared keeps per cache before starting over. */
const MAX_SHARED = 1000;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const EXPIRED: unique symbol = Symbol('expired');

function stripKey(message: string): string {
  return message.replace(/^Key '[^']*': /, '');
}
