/**
 * The cache backend contract. `Cache` (the facade) owns policy — key making and
 * validation, timeouts, versions, serialization — and hands a backend made keys, encoded
 * payloads and timeouts in milliseconds. A backend only translates these calls to its
 * store, as Django's `RedisCacheClient` does for `RedisCache`.
 */

/** What a backend stores: the codec's output (text for JSON and integers, bytes otherwise). */
export type Payload = string | Buffer;

/**
 * A timeout as backends see it: milliseconds > 0, or `null` for "never expires".
 * The facade never passes 0 or a negative number (it deletes instead, as Django).
 */
export type TtlMs = number | null;

/** A stored payload with its absolute expiry. */
export interface StoredEntry {
  payload: Payload;
  /** Epoch milliseconds; `null` when the entry never expires. */
  expiresAt: number | null;
}

export interface CacheBackend {
  /** Short description for errors and health (`memory`, `redis redis://…/1`). */
  readonly name: string;

  /**
   * The payload stored at `key`, or `undefined` when absent or expired (a backend may
   * resolve `null` instead; the facade treats both as a miss).
   */
  get(key: string): Promise<Payload | undefined>;

  /** The payload and its expiry, or `undefined` when absent. One round trip. */
  getEntry(key: string): Promise<StoredEntry | undefined>;

  /** Stores `payload` at `key`, replacing what was there. */
  set(key: string, payload: Payload, ttl: TtlMs): Promise<void>;

  /** Stores only if `key` is absent. Returns true if it stored. */
  add(key: string, payload: Payload, ttl: TtlMs): Promise<boolean>;

  /** Returns true if the key was deleted, false if it was not there. */
  delete(key: string): Promise<boolean>;

  /** True when `key` is present and not expired. */
  has(key: string): Promise<boolean>;

  /** Payloads in the order of `keys`; `undefined` for each missing key. */
  getMany(keys: readonly string[]): Promise<Array<Payload | undefined>>;

  /** Stores every entry with one timeout. Returns the keys that failed (`[]` on success). */
  setMany(entries: ReadonlyArray<readonly [string, Payload]>, ttl: TtlMs): Promise<string[]>;

  /** Deletes every key; returns how many existed. */
  deleteMany(keys: readonly string[]): Promise<number>;

  /**
   * Atomically adds `delta` to the integer at `key`, keeping its expiry.
   * Returns the new value, or `undefined` when the key is missing.
   * Throws `CacheValueError` when the stored value is not an integer.
   */
  incr(key: string, delta: number): Promise<number | undefined>;

  /** Sets a new timeout on an existing key. Returns false when the key is missing. */
  touch(key: string, ttl: TtlMs): Promise<boolean>;

  /**
   * Milliseconds left: a number > 0, `null` when the key never expires, `0` when missing
   * (django-redis' convention, in milliseconds here; the facade converts to seconds).
   */
  ttl(key: string): Promise<number | null>;

  /** Removes the timeout. Returns false when the key is missing. */
  persist(key: string): Promise<boolean>;

  /**
   * Yields batches of keys that match a Redis glob `pattern` (`*`, `?`, `[…]`, `\` escapes),
   * without blocking the store (SCAN on Redis, never KEYS).
   */
  scan(pattern: string, batchSize: number): AsyncIterable<string[]>;

  /** Deletes every key matching `pattern`, in batches. Returns how many were deleted. */
  deletePattern(pattern: string): Promise<number>;

  /**
   * Deletes this cache's keys only. `pattern` matches them (e.g. `shop:*`). A backend
   * that owns its whole store (memory) may simply empty it.
   */
  clear(pattern: string): Promise<void>;

  /**
   * Deletes `key` only if it still holds exactly `payload` (a lock's token), atomically.
   * Returns true if it deleted.
   */
  deleteIfEquals(key: string, payload: Payload): Promise<boolean>;

  /** Releases connections and timers. Optional: a no-op is correct for memory. */
  close?(): Promise<void>;
}
