/**
 * `larder.sessions`: the configured engine's store, sessions opened per request, and the
 * per-user index (`forUser`). The engine is chosen by `sessions.engine` (DESIGN §4.3):
 * `redis` (hashes, field-level writes), `cache` (a named cache), `signed-cookie`, `memory`.
 */
import type { ResolvedSessionsConfig } from '../config/index.js';
import { SessionUsageError } from '../errors.js';
import type { Larder } from '../larder.js';
import { isSessionId } from './ids.js';
import { instrumentSessionStore } from './instrumented.js';
import { Session, type SessionData, type SessionPolicy, type SessionSource } from './session.js';
import type { SessionStore, UserSessionInfo } from './store.js';
import { cacheSessionStore } from './stores/cache.js';
import { memorySessionStore } from './stores/memory.js';
import { redisSessionStore } from './stores/redis.js';
import { signedCookieStore } from './stores/signed-cookie.js';

/** Longest cookie value considered at all (browsers cap a cookie at 4096 bytes). */
const MAX_COOKIE_VALUE = 8192;

/**
 * Options of {@link SessionManager} beyond the config.
 *
 * @example new SessionManager(larder, { now: () => clock });
 */
export interface SessionManagerOptions {
  /** A store to use instead of the configured engine's. */
  store?: SessionStore;
  /** The clock, epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * A user's sessions, from the per-user index.
 *
 * @example
 * const devices = larder.sessions.forUser('42');
 * for (const s of await devices.list()) console.log(s.userAgent, s.lastSeen);
 * await devices.revokeAll();
 */
export interface UserSessions {
  /** Live sessions, most recently seen first. */
  list(): Promise<UserSessionInfo[]>;
  /** Ends one of this user's sessions. Returns false when `id` is not one of them. */
  revoke(id: string): Promise<boolean>;
  /** Ends every session of this user (except `keep`, e.g. the current one). Returns how many. */
  revokeAll(options?: { keep?: string | null }): Promise<number>;
}

/**
 * Sessions for one Larder.
 *
 * @example
 * const session = larder.sessions.open({ cookie: cookies.sessionid });
 * await session.set('cart', ['sku-1']);
 * await session.save();
 */
export class SessionManager {
  readonly config: ResolvedSessionsConfig;
  readonly store: SessionStore;
  readonly #policy: SessionPolicy;

  constructor(larder: Larder, options: SessionManagerOptions = {}) {
    const config = larder.config.sessions;
    this.config = config;
    const now = options.now ?? Date.now;
    // Counted where calls reach the store (`larder.metrics`): requests, revokes, the bridge.
    this.store = instrumentSessionStore(
      options.store ?? createSessionStore(larder, config, now),
      larder.metrics.sessions(),
    );
    this.#policy = {
      store: this.store,
      maxAge: config.maxAge,
      absoluteMaxAge: config.absoluteMaxAge,
      expireAtBrowserClose: config.expireAtBrowserClose,
      maxBytes: config.maxBytes,
      touchAfter: config.touchAfter,
      cookieMaxAge: config.cookie.maxAge,
      touched: new BoundedMap(10_000),
      saveEveryRequest: config.saveEveryRequest,
      cookieName: config.cookie.name,
      now,
      log: (level, message) => larder.log(level, message),
    };
  }

  /**
   * The session for a request that sent `source.cookie` (the session cookie's value). A
   * value that is not one of our ids starts a fresh session; nothing is loaded yet.
   */
  open<Data extends SessionData = SessionData>(source: SessionSource = {}): Session<Data> {
    const value = source.cookie;
    let candidate: string | undefined;
    if (value !== undefined && value !== '' && value.length <= MAX_COOKIE_VALUE) {
      if (this.store.kind === 'cookie' || isSessionId(value)) candidate = value;
    }
    return new Session<Data>(this.#policy, source, candidate);
  }

  /** A user's sessions (needs the redis or memory engine: they keep the index). */
  forUser(userId: string): UserSessions {
    const store = this.store;
    if (store.kind !== 'server' || !store.index) {
      throw new SessionUsageError(
        `sessions.forUser needs an engine that keeps a per-user index ('redis' or 'memory'); this one is '${this.config.engine}'.`,
      );
    }
    const index = store.index;
    return {
      list: () => index.list(userId),
      async revoke(id) {
        if (!(await index.remove(userId, id))) return false;
        await store.destroy(id);
        return true;
      },
      async revokeAll(options = {}) {
        let count = 0;
        for (const { id } of await index.list(userId)) {
          if (id === options.keep) continue;
          await index.remove(userId, id);
          if (await store.destroy(id)) count += 1;
        }
        return count;
      },
    };
  }

  /**
   * How many sessions the engine holds now (`larder sessions count`): a SCAN on Redis (every
   * Cluster primary), the map's live entries in memory, a scan of the cache's keys on the
   * cache engine. Signed-cookie sessions live in browsers and cannot be counted.
   *
   * @example console.log(await larder.sessions.count(), 'sessions');
   */
  async count(options: { onProgress?: (n: number) => void } = {}): Promise<number> {
    const store = this.store;
    if (store.kind !== 'server' || (!store.count && !store.ids)) {
      throw new SessionUsageError(
        `sessions.count needs sessions kept on the server; engine '${this.config.engine}' keeps them in the browser's cookie.`,
      );
    }
    if (store.count) return store.count(options.onProgress);
    let total = 0;
    for await (const _ of store.ids!()) {
      total += 1;
      options.onProgress?.(1);
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.store.kind === 'server') await this.store.close?.();
  }
}

/** The store for the configured engine. */
export function createSessionStore(
  larder: Larder,
  config: ResolvedSessionsConfig,
  now: () => number,
): SessionStore {
  switch (config.engine) {
    case 'redis':
      return redisSessionStore({
        connection: larder.connection(config.location),
        prefix: config.prefix,
        durability: config.durability,
        // A WAIT holds its socket until a replica answers: durable writes get a connection of
        // their own (a distinct commandTimeout makes a distinct one), off every other command's path.
        ...(config.durability === 'replicated' && config.location
          ? {
              writeConnection: larder.connections.get(config.location, 'commands', {
                commandTimeout: config.location.commandTimeout,
              }),
            }
          : {}),
      });
    case 'cache':
      return cacheSessionStore({ cache: larder.cache(config.cache), prefix: config.prefix });
    case 'signed-cookie':
      return signedCookieStore({ secrets: config.secrets, maxBytes: config.maxBytes });
    case 'memory':
      return memorySessionStore({ now });
  }
}

/** A Map that forgets everything once it holds `limit` entries (cheap, and enough for touch dedup). */
class BoundedMap<K, V> extends Map<K, V> {
  readonly #limit: number;
  constructor(limit: number) {
    super();
    this.#limit = limit;
  }
  override set(key: K, value: V): this {
    if (this.size >= this.#limit) this.clear();
    return super.set(key, value);
  }
}
