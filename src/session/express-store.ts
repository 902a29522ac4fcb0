/**
 * `ExpressSessionStore`: larder's session engine (on Redis: a hash per session, one Lua call
 * per write) as an express-session `Store` — a drop-in for connect-redis.
 *
 * express-session hands `set` the whole session; each top-level property is one field (JSON
 * text, larder's json serializer). A session this store loaded is saved field by field — the
 * fields that changed are written and the ones deleted from `req.session` removed, in one
 * atomic call — so concurrent requests editing different properties keep each other's
 * writes; any other session is written whole. The TTL follows `cookie.expires` (one day
 * without a `maxAge`, as connect-redis); `touch` refreshes only the TTL.
 *
 * Where it differs from connect-redis (whole-session SET), on purpose: that field-level
 * merge; and a session loaded by a request and deleted meanwhile (logout elsewhere,
 * `clear()`, an admin revoke) is not recreated by the request's late save, which fails with
 * `SessionInterruptedError` (400) — as on larder's own `redis` engine.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { parseValue, stringifyValue } from '../cache/serializers/json.js';
import { ConfigError, LarderError, SessionTooLargeError, SessionUsageError } from '../errors.js';
import type { Larder } from '../larder.js';
import { createSessionStore } from './manager.js';
import type { ServerSessionStore, SessionWrite } from './store.js';

/**
 * Options of {@link ExpressSessionStore}.
 *
 * @example
 * const options: ExpressSessionStoreOptions = { larder, prefix: 'sess' };
 */
export interface ExpressSessionStoreOptions {
  larder: Larder;
  /**
   * Keep these sessions under `<prefix>:<sid>` instead of the engine's own keyspace (the
   * `:` is added; connect-redis's `'sess:'` is `'sess'` here). @default sessions.prefix
   */
  prefix?: string;
}

/**
 * A session as express-session hands it to a store: its data, and its cookie.
 *
 * @example
 * const session: ExpressSessionData = { cookie: { originalMaxAge: 60_000, expires: new Date() }, views: 1 };
 */
export interface ExpressSessionData {
  cookie?: { expires?: Date | string | null; originalMaxAge?: number | null; [key: string]: unknown };
  [field: string]: unknown;
}

/**
 * express-session's callback convention: `(error)` or `(null, value)`.
 *
 * @example store.get(sid, (error, session) => (error ? next(error) : use(session)));
 */
export type ExpressSessionCallback<T = unknown> = (error?: unknown, value?: T) => void;

/** connect-redis's TTL when the cookie has no `maxAge`/`expires`: one day. */
const DEFAULT_TTL = 86_400_000;
/** Sessions loaded (or deleted) in parallel by `all` and `clear`. */
const BATCH = 100;

/** express-session's `Store` class, once resolved. */
let storeBase: { prototype: { createSession(req: unknown, sess: unknown): unknown } } | undefined;

/**
 * An express-session store on larder's session engine: `app.use(session({ store: new
 * ExpressSessionStore({ larder }), … }))` where connect-redis's `new RedisStore({ client })`
 * stood. It extends express-session's `Store` (so `regenerate`, `load` and `createSession`
 * are express-session's own), resolved on first construction: larder never loads
 * express-session for apps that do not use this class.
 *
 * Runs on the configured session engine — `redis`, or `memory`/`cache` — and refuses
 * `signed-cookie` (which keeps nothing on the server).
 *
 * @example
 * import session from 'express-session';
 * import { ExpressSessionStore } from 'larder/session';
 * app.use(session({ store: new ExpressSessionStore({ larder }), secret, resave: false, saveUninitialized: false }));
 */
export class ExpressSessionStore extends EventEmitter {
  /** The larder store the sessions live in. */
  readonly store: ServerSessionStore;
  readonly #maxBytes: number;
  /**
   * Sessions this store loaded or stored → each field's JSON text as stored: their saves
   * write only what changed, and update (never recreate) the stored session.
   */
  readonly #stored = new WeakMap<object, Map<string, string>>();

  /** express-session's `Store#regenerate`: destroys the session and generates a new one. */
  declare regenerate: (req: unknown, callback: (error?: unknown) => void) => void;
  /** express-session's `Store#load`: `get`, then `createSession`. */
  declare load: (sid: string, callback: ExpressSessionCallback) => void;

  constructor(options: ExpressSessionStoreOptions) {
    super();
    inheritExpressSessionStore();
    const { larder, prefix } = options ?? {};
    if (!larder?.sessions) {
      throw new ConfigError('ExpressSessionStore.larder', larder, 'a Larder (createLarder(config))');
    }
    if (prefix !== undefined && (typeof prefix !== 'string' || prefix === '')) {
      throw new ConfigError('ExpressSessionStore.prefix', prefix, 'a non-empty string');
    }
    const config = larder.config.sessions;
    const store =
      prefix === undefined || prefix === config.prefix
        ? larder.sessions.store
        : createSessionStore(larder, { ...config, prefix }, Date.now);
    if (store.kind !== 'server') {
      throw new ConfigError(
        'sessions.engine',
        config.engine,
        "an engine that keeps sessions on the server for ExpressSessionStore: 'redis', 'memory' or 'cache'",
      );
    }
    this.store = store;
    this.#maxBytes = config.maxBytes;
  }

  /** The session stored under `sid`, or `undefined` when unknown or expired. One round trip. */
  get(sid: string, callback?: ExpressSessionCallback<ExpressSessionData | undefined>) {
    return settle(this.#get(sid), callback);
  }

  /**
   * Stores `session` under `sid` in one atomic write: a session this store loaded gets only
   * its changed fields, any other is written whole. A cookie already expired deletes it.
   */
  set(sid: string, session: ExpressSessionData, callback?: ExpressSessionCallback<void>) {
    return settle(this.#set(sid, session), callback);
  }

  /** Refreshes the session's TTL from its cookie without rewriting it. */
  touch(sid: string, session: ExpressSessionData, callback?: ExpressSessionCallback<void>) {
    return settle(this.#touch(sid, session), callback);
  }

  /** Deletes the session. */
  destroy(sid: string, callback?: ExpressSessionCallback<void>) {
    return settle(
      this.store.destroy(sid).then(() => undefined),
      callback,
    );
  }

  /** Every session id (scans; not for hot paths). */
  ids(callback?: ExpressSessionCallback<string[]>) {
    return settle(this.#ids(), callback);
  }

  /** Every session, each with its `id` (as connect-redis; scans). */
  all(callback?: ExpressSessionCallback<Array<ExpressSessionData & { id: string }>>) {
    return settle(this.#all(), callback);
  }

  /** How many sessions are stored (scans). */
  length(callback?: ExpressSessionCallback<number>) {
    return settle(
      this.#ids().then((ids) => ids.length),
      callback,
    );
  }

  /** Deletes every session in this store's keyspace. */
  clear(callback?: ExpressSessionCallback<void>) {
    return settle(this.#clear(), callback);
  }

  /** express-session's `Store#createSession`, remembering what was loaded so saves write only changes. */
  createSession(req: unknown, sess: ExpressSessionData): unknown {
    const loaded = this.#stored.get(sess);
    const base = (storeBase as NonNullable<typeof storeBase>).prototype;
    const session = base.createSession.call(this, req, sess);
    if (loaded && typeof session === 'object' && session !== null) this.#stored.set(session, loaded);
    return session;
  }

  async #get(sid: string): Promise<ExpressSessionData | undefined> {
    const stored = await this.store.load(sid);
    if (!stored) return undefined;
    const session: ExpressSessionData = {};
    for (const [field, text] of stored.fields) {
      // An own data property even for '__proto__': no prototype is ever set from stored data.
      Object.defineProperty(session, field, {
        value: parseValue(text),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    this.#stored.set(session, stored.fields);
    return session;
  }

  async #set(sid: string, session: ExpressSessionData): Promise<void> {
    const ttl = ttlOf(session);
    if (ttl <= 0) {
      await this.store.destroy(sid);
      return;
    }
    const fields = new Map<string, string>();
    let size = 0;
    for (const [field, value] of Object.entries(session)) {
      if (value === undefined) continue;
      const text = stringifyValue(value);
      fields.set(field, text);
      size += Buffer.byteLength(field) + Buffer.byteLength(text);
    }
    if (size > this.#maxBytes) throw new SessionTooLargeError(size, this.#maxBytes);
    const now = Date.now();
    const loaded = this.#stored.get(session);
    if (loaded) {
      // Loaded by this request: only the fields that changed, and only an update — a session
      // deleted meanwhile stays deleted, a field another request set meanwhile is kept.
      const changed = new Map<string, string>();
      for (const [field, text] of fields) if (loaded.get(field) !== text) changed.set(field, text);
      const removed = new Set<string>();
      for (const field of loaded.keys()) if (!fields.has(field)) removed.add(field);
      await this.store.update(sid, {
        set: changed,
        delete: removed,
        replace: false,
        meta: { lastSeen: now },
        ttl,
      });
    } else {
      const write: SessionWrite = {
        set: fields,
        delete: new Set(),
        replace: true,
        meta: { lastSeen: now },
        ttl,
      };
      if (!(await this.store.create(sid, { ...write, meta: { created: now, lastSeen: now } }))) {
        // An id express-session chose that is already stored: connect-redis's SET overwrites it.
        await this.store.update(sid, write);
      }
    }
    this.#stored.set(session, fields);
  }

  async #touch(sid: string, session: ExpressSessionData): Promise<void> {
    const ttl = ttlOf(session);
    if (ttl <= 0) await this.store.destroy(sid);
    // A session gone meanwhile is not recreated (connect-redis's EXPIRE is a no-op too).
    else await this.store.touch(sid, Date.now(), ttl);
  }

  async #ids(): Promise<string[]> {
    const store = this.store;
    if (!store.ids) {
      throw new SessionUsageError(
        `the '${store.name}' session store cannot list its sessions (all, length, clear): use the 'redis' or 'memory' engine.`,
      );
    }
    const ids: string[] = [];
    for await (const id of store.ids()) ids.push(id);
    // SCAN may return a key twice (during a rehash).
    return [...new Set(ids)];
  }

  async #all(): Promise<Array<ExpressSessionData & { id: string }>> {
    const ids = await this.#ids();
    const out: Array<ExpressSessionData & { id: string }> = [];
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH);
      const sessions = await Promise.all(batch.map((id) => this.#get(id)));
      sessions.forEach((session, j) => {
        // Expired between the scan and the read: not listed.
        if (session) out.push(Object.assign(session, { id: batch[j] }));
      });
    }
    return out;
  }

  async #clear(): Promise<void> {
    const ids = await this.#ids();
    for (let i = 0; i < ids.length; i += BATCH) {
      await Promise.all(ids.slice(i, i + BATCH).map((id) => this.store.destroy(id)));
    }
  }
}

/**
 * Puts express-session's `Store` under `ExpressSessionStore` (once): its prototype chain
 * becomes ExpressSessionStore → Store → EventEmitter, as `class … extends Store` would make.
 */
function inheritExpressSessionStore(): void {
  if (storeBase) return;
  let loaded: { Store?: unknown };
  try {
    loaded = createRequire(import.meta.url)('express-session');
  } catch (error) {
    throw new LarderError(
      'ExpressSessionStore needs the express-session package, which is not installed: npm install express-session',
      { cause: error },
    );
  }
  const base = loaded.Store;
  if (typeof base !== 'function') {
    throw new LarderError(
      'ExpressSessionStore: express-session does not export Store; use express-session 1.x.',
    );
  }
  Object.setPrototypeOf(ExpressSessionStore.prototype, base.prototype);
  Object.setPrototypeOf(ExpressSessionStore, base);
  storeBase = base as NonNullable<typeof storeBase>;
}

/** Milliseconds until the session's cookie expires, or a day when it has no expiry. */
function ttlOf(session: ExpressSessionData): number {
  const expires = session?.cookie?.expires;
  if (expires === undefined || expires === null || expires === '') return DEFAULT_TTL;
  const at = new Date(expires).getTime();
  return Number.isFinite(at) ? Math.ceil(at - Date.now()) : DEFAULT_TTL;
}

/**
 * Resolves `work`, and calls `callback` with its outcome as Node's `util.callbackify` does
 * (on the next tick, so an exception thrown by the callback is not taken for the store's).
 */
function settle<T>(work: Promise<T>, callback: ExpressSessionCallback<T> | undefined): Promise<T> {
  if (callback) {
    work.then(
      (value) => process.nextTick(callback, null, value),
      (error) => process.nextTick(callback, error),
    );
  }
  return work;
}
