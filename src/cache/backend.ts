/**
 * The cache backend contract. `Cache` (the facade) owns policy — key making and
 * validation, timeouts, versions, serialization — and hands a backend made keys, encoded
 * payloads and timeouts in milliseconds. A backend only translates these calls to its
 * store, as Django's `RedisCacheClient` does for `RedisCache`.
 */

import type { EnvelopeHeader } from './envelope.js';

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

/**
 * A read with the entry's remaining life, for callers that need more than the payload
 * (`getEntry`, entries carrying tags or a grace period, an in-process tier's fill).
 */
export interface ReadEntry {
  payload: Payload;
  /** Milliseconds left in the store (the store's own clock), `null` when it never expires. */
  pttl: number | null;
  /**
   * The current tokens of the tag keys named in the payload's entry envelope, in the
   * envelope's order (`null` for a tag key that is absent), when the backend could read
   * them in the same round trip. Absent: the facade reads them itself.
   */
  tagTokens?: Array<string | null>;
}

/**
 * An in-process tier of decoded values (the `tiered` backend's L1). The facade decodes a
 * payload once, freezes the value and offers it here; every later hit returns that same
 * object with no round trip, no parse and no clone.
 *
 * Coherence is the tier's job: it drops an entry when the shared store says the key
 * changed (Redis client tracking), and refuses to keep a value read before such a change.
 * The protocol for a fill is: `since = mark(key)` before the shared read, then
 * `remember(key, entry, since)` with what came back; `remember` ignores the entry if `key`
 * was invalidated (or tracking was down) at any moment after `mark`.
 */
export interface LocalTier {
  /** The live entry for `key` (expired entries are dropped and not returned). */
  get(key: string): LocalEntry | undefined;
  /** A token to take before reading `key` from the shared store. */
  mark(key: string): number;
  /** Keeps `entry` for `key` unless `key` was invalidated since `mark` returned `since`. */
  remember(key: string, entry: LocalEntry, since: number): void;
  /** Drops `key` (this process is about to write it). */
  forget(key: string): void;
  /** Drops everything (`clear`, tracking lost). */
  forgetAll(): void;
}

/** What the in-process tier holds for one key. */
export interface LocalEntry {
  /** The value's entry envelope header (tags, grace, load time), when it had one. */
  readonly header?: EnvelopeHeader;
  /** The decoded value, deeply frozen. */
  readonly value: unknown;
  /** Epoch ms (this process's clock) after which the entry is gone; `null` = no expiry of its own. */
  readonly expiresAt: number | null;
  /** Epoch ms after which the value is stale (within a grace period); absent = never stale before expiry. */
  readonly staleAt?: number;
  /** Payload size in bytes, for the tier's byte bound. */
  readonly bytes: number;
  /** Store keys of the tags the value carries: invalidating one of them drops the entry. */
  readonly tagKeys?: readonly string[];
}

export interface CacheBackend {
  /** Short description for errors and health (`memory`, `redis redis://…/1`). */
  readonly name: string;

  /** The in-process tier of decoded values, for backends that have one (`tiered`). */
  readonly local?: LocalTier;

  /**
   * The payload with its remaining life (and, when the backend can, the current tokens of
   * the tags named in an entry envelope), or `undefined` when absent. One round trip.
   */
  read(key: string): Promise<ReadEntry | undefined>;

  /**
   * The payload stored at `key`, or `undefined` when absent or expired (a backend may
   * resolve `null` instead; the facade treats both as a miss).
   */
  get(key: string): Promise<Payload | undefined>;

  /**
   * `get` answered in the calling turn, for a backend that holds its data in this process
   * (memory). Remote backends leave it out; callers then go through `get`.
   */
  getNow?(key: string): Payload | undefined;

  /** The payload and its expiry, or `undefined` when absent. One round trip. */
  getEntry(key: string): Promise<StoredEntry | undefined>;

  /** Stores `payload` at `key`, replacing what was there. */
  set(key: string, payload: Payload, ttl: TtlMs): Promise<void>;

  /** Stores only if `key` is absent. Returns true if it stored. */
  add(key: string, payload: Payload, ttl: TtlMs): Promise<boolean>;

  /**
   * Stores only if `key` is absent, and returns what was there: `undefined` when it stored
   * (Redis 7 `SET NX GET`: one command). Tag tokens are made this way.
   */
  addOrGet(key: string, payload: Payload, ttl: TtlMs): Promise<Payload | undefined>;

  /** Returns true if the key was deleted, false if it was not there. */
  delete(key: string): Promise<boolean>;

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

  /**
   * Sets a new timeout on an existing key. Returns false when the key is missing. `ttl` is
   * how long the value stays fresh: an entry envelope's grace period (`graceOf`) is added
   * to it, so the value is still kept stale for its grace afterwards (`null`: never expires).
   */
  touch(key: string, ttl: TtlMs): Promise<boolean>;

  /**
   * Milliseconds the value stays fresh: a number > 0, `null` when the key never expires,
   * `0` when missing (django-redis' convention, in milliseconds here; the facade converts
   * to seconds). For an entry envelope with a grace period, the store's TTL less the grace
   * (`0` once only the grace is left: `get` misses it then).
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
