/**
 * The session store contract. `Session` owns policy — lazy loading, change tracking,
 * expiry, size limits, value encoding — and hands a store encoded fields (JSON text per
 * field) and absolute times. A store only translates, as Django's `SessionBase` /
 * `SessionStore` split does.
 *
 * Two kinds: a `server` store keeps sessions under an id (Redis, a cache, memory); a
 * `cookie` store keeps the whole session in the cookie value itself (signed-cookie).
 */

/** Bookkeeping stored beside the data of every session. Times are epoch milliseconds. */
export interface SessionMeta {
  /** When the session was first saved (for `absoluteMaxAge`). */
  created: number;
  /** When it was last saved or touched (for the idle timeout). */
  lastSeen: number;
  /**
   * What `setExpiry` chose, encoded: absent = the config's policy, `'0'` = at browser
   * close, `'s:<seconds>'` = idle seconds, `'d:<epoch ms>'` = a fixed date.
   */
  expiry?: string;
  /** The user recorded by `session.login(userId)` (per-user index). */
  userId?: string;
  /** The User-Agent of the request that logged in, for "your devices". */
  userAgent?: string;
}

/** A session as a store holds it: field name → JSON text, and its bookkeeping. */
export interface StoredSession {
  fields: Map<string, string>;
  meta: SessionMeta;
}

/** What one save changes. Only the named fields are written. */
export interface SessionWrite {
  /** Fields to set, name → JSON text. */
  set: Map<string, string>;
  /** Fields to remove. */
  delete: Set<string>;
  /** Remove every field not in `set` first (after `clear()`, or a whole-session write). */
  replace: boolean;
  /** Meta fields to write; `userId`/`userAgent`/`expiry` set to `''` remove them. */
  meta: Partial<SessionMeta>;
  /** Milliseconds until the stored session expires (> 0). */
  ttl: number;
}

/** One entry of a user's session list (`larder.sessions.forUser(id).list()`). */
export interface UserSessionInfo {
  /** The session id. Show a hash of it, not the id, to anyone but its owner. */
  id: string;
  created: Date;
  lastSeen: Date;
  userAgent: string | undefined;
}

/** A store that keeps sessions under an id. */
export interface ServerSessionStore {
  readonly kind: 'server';
  /** Short description for errors and health (`redis redis://…/2`, `memory`). */
  readonly name: string;

  /**
   * The session stored under `id`, or `undefined` when unknown or expired. One round trip.
   * The result is the caller's own (fresh objects): `Session` keeps and updates its `meta`.
   */
  load(id: string): Promise<StoredSession | undefined>;

  /** Stores a new session under `id`. Returns false (storing nothing) if `id` is taken. */
  create(id: string, write: SessionWrite): Promise<boolean>;

  /**
   * Applies `write` to the session under `id`. Throws `SessionInterruptedError` when it no
   * longer exists (destroyed or expired meanwhile) — a late request never recreates it.
   * Atomic on the redis and memory stores; the cache store reads then writes (as Django's
   * cache engine), so a destroy racing a save can lose there.
   */
  update(id: string, write: SessionWrite): Promise<void>;

  /**
   * Atomically adds `delta` to the integer field `field` (absent = 0) and applies `write`'s
   * meta and ttl. Throws `SessionInterruptedError` when the session is gone and
   * `CacheValueError` when the field holds a non-integer. Returns the new value.
   */
  incr(id: string, field: string, delta: number, write: SessionWrite): Promise<number>;

  /**
   * Refreshes the expiry and `lastSeen` without rewriting data. Returns false when the
   * session is gone (nothing is recreated).
   */
  touch(id: string, lastSeen: number, ttl: number): Promise<boolean>;

  /** Deletes the session. Returns true if it existed. */
  destroy(id: string): Promise<boolean>;

  /** Every session id, for `ExpressSessionStore.all/length/clear`. Scans; not for hot paths. */
  ids?(): AsyncIterable<string>;

  /**
   * How many sessions are stored (`larder sessions count`): SCAN on Redis (every Cluster
   * primary), the live entries in memory. Not for hot paths. `onProgress` gets each batch's count.
   */
  count?(onProgress?: (n: number) => void): Promise<number>;

  /**
   * The per-user index: record `id` under `userId` (login), drop it (logout), list the
   * user's live sessions. Optional: a store without it makes `forUser` throw.
   */
  index?: {
    add(userId: string, id: string, ttl: number): Promise<void>;
    /** Returns true if `id` was recorded under `userId`. */
    remove(userId: string, id: string): Promise<boolean>;
    list(userId: string): Promise<UserSessionInfo[]>;
  };

  close?(): Promise<void>;
}

/** A store that keeps the whole session in the cookie (signed-cookie). */
export interface CookieSessionStore {
  readonly kind: 'cookie';
  readonly name: string;
  /** The session carried by a cookie value, or `undefined` when tampered or malformed (expiry is `Session`'s check). */
  decode(value: string, now: number): StoredSession | undefined;
  /** The cookie value carrying `session`. Throws `SessionTooLargeError` over the cookie limit. */
  encode(session: StoredSession, cookieName: string): string;
}

export type SessionStore = ServerSessionStore | CookieSessionStore;
