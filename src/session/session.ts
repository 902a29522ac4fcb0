/**
 * `Session`: Django's `SessionBase` API over any store — lazy (no store call until used),
 * tracking which fields changed so a save writes only those, with Django's expiry rules
 * (`setExpiry`, `getExpiryAge`, …), OWASP's idle + absolute timeouts and a size limit.
 *
 * Values are JSON-encoded (with larder's tags for `Date`, `Map`, `Set`, `BigInt`, bytes)
 * when they are set, so a value that cannot be stored fails at the call that set it, and
 * what is saved is what was set: mutate an object after `set` and `set` it again.
 */

import { parseValue, stringifyValue } from '../cache/serializers/json.js';
import {
  CacheValueError,
  LarderError,
  SessionInterruptedError,
  SessionTooLargeError,
  SessionUsageError,
} from '../errors.js';
import { newSessionId } from './ids.js';
import type { SessionMeta, SessionStore, SessionWrite, StoredSession } from './store.js';

/** Session data: field name → any JSON-safe value (plus larder's tagged types). */
export type SessionData = Record<string, unknown>;

/** What a `Session` needs from its owner: the store, the policy and a clock. */
export interface SessionPolicy {
  store: SessionStore;
  /** Idle timeout, ms. */
  maxAge: number;
  /** Absolute timeout from creation, ms; `null` = none. */
  absoluteMaxAge: number | null;
  expireAtBrowserClose: boolean;
  maxBytes: number;
  /**
   * Refresh an unmodified session's expiry at most this often, ms — and sooner when the
   * session lasts less: see `Session.pending`.
   */
  touchAfter: number;
  /**
   * The session cookie's `Max-Age`, ms, when `setExpiry` chose nothing (`sessions.cookie.maxAge`);
   * absent: the same as `maxAge`.
   */
  cookieMaxAge?: number;
  /**
   * When this process last touched each session id: concurrent requests of one session that
   * all find it due would otherwise each send a touch. Bounded by the owner.
   */
  touched?: Map<string, number>;
  saveEveryRequest: boolean;
  cookieName: string;
  now: () => number;
  log: (level: 'warn', message: string) => void;
}

/** Where the session came from: the cookie value the client sent, and its User-Agent. */
export interface SessionSource {
  /** The session cookie's value, if the request had one. */
  cookie?: string | undefined;
  userAgent?: string | undefined;
}

type State = 'unloaded' | 'new' | 'stored';

/** Bytes one field costs against `maxBytes`: its name and its encoded value. */
const fieldSize = (name: string, text: string) => Buffer.byteLength(name) + Buffer.byteLength(text);

/**
 * One request's session. Methods are async (the first one loads the session); `key`,
 * `modified` and `accessed` are plain properties.
 *
 * @example
 * type Shop = { cart: string[]; views: number }; // a type alias: an interface has no index signature
 * const session = req.session as Session<Shop>;
 * const cart = await session.get('cart', []);
 * await session.set('cart', [...cart, 'sku-1']);
 * await session.incr('views');
 */
export class Session<Data extends SessionData = SessionData> {
  /**
   * The session id (for the signed-cookie engine: the cookie value), or `null` for a
   * session not stored yet. Read-only to the app; `cycleKey` and `flush` change it.
   */
  key: string | null;
  /** True once anything changed the session in this request (Django's `modified`). */
  modified = false;
  /** True once the session's data was read or written (Django's `accessed`; adds `Vary: Cookie`). */
  accessed = false;

  readonly #policy: SessionPolicy;
  readonly #source: SessionSource;
  #state: State = 'unloaded';
  #loading: Promise<void> | undefined;
  #data = new Map<string, unknown>();
  /** Encoded bytes of each field, for `maxBytes`. */
  #sizes = new Map<string, number>();
  /** Encoded bytes of the data as the store last held it, to this request's knowledge (loaded or saved). */
  #storedBytes = 0;
  /** Encoded text of each field changed since the last save. */
  #dirty = new Map<string, string>();
  /** Fields deleted since the last save; made on the first delete (most requests delete nothing). */
  #deleted: Set<string> | undefined;
  #replace = false;
  /** Times `#replace` was set: a save clears it only if no `clear()` came while it ran. */
  #replacements = 0;
  #meta: SessionMeta | undefined;
  #metaDirty: Partial<SessionMeta> = {};
  /** A stored id to delete at the next save (`cycleKey`): it must still exist then. */
  #previousKey: string | undefined;
  #flushed = false;
  /** A user to add to the per-user index at the next save (`login`). */
  #pendingLogin: string | undefined;
  /**
   * The save (or flush) in flight. Saves of one session run one at a time: two at once
   * (`Promise.all([s.incr('a'), s.incr('b')])`) would both create a new session, or both
   * move a cycled one, and the second would fail.
   */
  #saving: Promise<void> | undefined;

  /** The id the client holds (its cookie), to know when a new one must be sent. */
  readonly #sentKey: string | null;

  constructor(policy: SessionPolicy, source: SessionSource = {}, candidateKey?: string) {
    this.#policy = policy;
    this.#source = source;
    this.key = candidateKey ?? null;
    this.#sentKey = this.key;
  }

  // ---- Django's mapping API ------------------------------------------------------------

  /** The value of `field`, or `defaultValue` when absent. */
  async get<K extends keyof Data & string>(field: K): Promise<Data[K] | undefined>;
  async get<K extends keyof Data & string>(field: K, defaultValue: Data[K]): Promise<Data[K]>;
  async get(field: string, defaultValue?: unknown): Promise<unknown> {
    const loading = this.#use();
    if (loading) await loading;
    return this.#data.has(field) ? this.#data.get(field) : defaultValue;
  }

  /** Sets `field` (Django's `session[field] = value`). Throws `SerializationError` for a value JSON cannot hold. */
  async set<K extends keyof Data & string>(field: K, value: Data[K]): Promise<void> {
    const loading = this.#use();
    if (loading) await loading;
    const text = encodeField(field, value);
    this.#data.set(field, value);
    this.#sizes.set(field, fieldSize(field, text));
    this.#dirty.set(field, text);
    this.#deleted?.delete(field);
    this.modified = true;
  }

  /** Removes `field`. Returns true if it was there. */
  async delete(field: keyof Data & string): Promise<boolean> {
    const loading = this.#use();
    if (loading) await loading;
    if (!this.#data.delete(field)) return false;
    this.#sizes.delete(field);
    this.#dirty.delete(field);
    this.#deleted ??= new Set();
    this.#deleted.add(field);
    this.modified = true;
    return true;
  }

  async has(field: keyof Data & string): Promise<boolean> {
    const loading = this.#use();
    if (loading) await loading;
    return this.#data.has(field);
  }

  /** Removes `field` and returns its value, or `defaultValue` when absent. */
  async pop<K extends keyof Data & string>(field: K, defaultValue?: Data[K]): Promise<Data[K] | undefined> {
    const loading = this.#use();
    if (loading) await loading;
    if (!this.#data.has(field)) return defaultValue;
    const value = this.#data.get(field) as Data[K];
    await this.delete(field);
    return value;
  }

  /** The value of `field`; when absent, sets it to `value` first (Django's `setdefault`). */
  async setDefault<K extends keyof Data & string>(field: K, value: Data[K]): Promise<Data[K]> {
    const loading = this.#use();
    if (loading) await loading;
    if (this.#data.has(field)) return this.#data.get(field) as Data[K];
    await this.set(field, value);
    return value;
  }

  /** Sets several fields (Django's `update`). */
  async update(values: Partial<Data>): Promise<void> {
    for (const [field, value] of Object.entries(values)) await this.set(field, value as Data[string]);
  }

  async keys(): Promise<Array<keyof Data & string>> {
    const loading = this.#use();
    if (loading) await loading;
    return [...this.#data.keys()];
  }

  async entries(): Promise<Array<[keyof Data & string, unknown]>> {
    const loading = this.#use();
    if (loading) await loading;
    return [...this.#data.entries()];
  }

  /**
   * True when the session holds nothing (and, unlike the other methods, never loads it just
   * to say so when there is no key). Once there is a key it counts as reading the session
   * (`accessed`, so `Vary: Cookie`): the answer then depends on that visitor's session, and a
   * page cache must not hand one visitor's "welcome back" page to the next.
   */
  async isEmpty(): Promise<boolean> {
    if (this.#state === 'unloaded' && this.key === null) return true;
    this.accessed = true;
    await this.#load();
    return this.#isEmpty();
  }

  /** Removes every field; the session keeps its id (Django's `clear`). */
  async clear(): Promise<void> {
    const loading = this.#use();
    if (loading) await loading;
    this.#data.clear();
    this.#sizes.clear();
    this.#dirty.clear();
    this.#deleted = undefined;
    this.#replace = true;
    this.#replacements++;
    this.modified = true;
  }

  /**
   * Atomically adds `delta` to the integer `field` (absent counts as 0) and returns the new
   * value — on the redis engine one HINCRBY, so concurrent requests never lose a count.
   * Throws `CacheValueError` when the field holds something other than an integer.
   */
  async incr(field: keyof Data & string, delta = 1): Promise<number> {
    if (!Number.isSafeInteger(delta)) {
      throw new CacheValueError(field, `session.incr needs a whole-number delta; got ${delta}.`);
    }
    checkFieldName(field);
    const loading = this.#use();
    if (loading) await loading;
    const current = this.#data.get(field);
    if (current !== undefined && !Number.isSafeInteger(current)) {
      throw new CacheValueError(
        field,
        `the session field holds ${typeof current}, not an integer; incr only counts integers.`,
      );
    }
    const store = this.#policy.store;
    if (store.kind === 'cookie') {
      await this.set(field, (((current as number | undefined) ?? 0) + delta) as Data[typeof field]);
      return this.#data.get(field) as number;
    }
    // The counter lives in the store: write any pending changes first, so the session exists.
    // (Each save waits for one in flight, then decides afresh: a concurrent incr's save may
    // have done the work already.)
    if (this.#needsWrite()) await this.#exclusive(() => this.#save({ touch: false }));
    if (this.#state !== 'stored' || this.key === null)
      await this.#exclusive(() => this.#save({ force: true, touch: false }));
    const now = this.#policy.now();
    const value = await store.incr(this.key as string, field, delta, {
      set: new Map(),
      delete: new Set(),
      replace: false,
      meta: { lastSeen: now },
      ttl: this.#storeTtl(now),
    });
    const text = String(value);
    this.#data.set(field, value);
    const bytes = fieldSize(field, text);
    this.#storedBytes += bytes - (this.#sizes.get(field) ?? 0);
    this.#sizes.set(field, bytes);
    (this.#meta as SessionMeta).lastSeen = now;
    this.modified = true;
    return value;
  }

  // ---- keys ------------------------------------------------------------------------------

  /**
   * Deletes the session from the store now, empties it and drops its id; the response
   * clears the cookie (Django's `flush`, what logout calls). A concurrent request still
   * holding the old id cannot save it back: it gets `SessionInterruptedError`.
   */
  async flush(): Promise<void> {
    this.accessed = true;
    await this.#exclusive(() => this.#flush());
  }

  async #flush(): Promise<void> {
    await this.#load();
    const store = this.#policy.store;
    const userId = this.#meta?.userId;
    if (store.kind === 'server') {
      const stored = [this.#state === 'stored' ? this.key : null, this.#previousKey];
      for (const id of stored) {
        if (id === null || id === undefined) continue;
        await store.destroy(id);
        if (userId && store.index) await store.index.remove(userId, id);
      }
    }
    this.#reset();
    this.key = null;
    this.#state = 'new';
    this.#flushed = true;
    this.modified = true;
  }

  /**
   * A new id for the same data; the old id stops working at the next save (Django's
   * `cycle_key` — call it on login to defeat session fixation; `login` does).
   */
  async cycleKey(): Promise<void> {
    const loading = this.#use();
    if (loading) await loading;
    // Not while a save is writing the current id (it would store the data under an id nobody holds).
    for (let wait = this.#inFlight(); wait; wait = this.#inFlight()) await wait;
    if (this.#policy.store.kind === 'server') {
      if (this.#state === 'stored' && this.#previousKey === undefined)
        this.#previousKey = this.key ?? undefined;
      this.key = newSessionId();
      this.#state = 'new';
      // The new id gets every field.
      this.#replace = true;
      this.#replacements++;
      for (const [field, value] of this.#data) this.#dirty.set(field, encodeField(field, value));
      this.#deleted = undefined;
    }
    this.modified = true;
  }

  /**
   * Logs `userId` in: `cycleKey`, then records the user (and this request's User-Agent)
   * in the per-user index at save, for `larder.sessions.forUser(userId)`.
   *
   * @example await req.session.login(String(user.id));
   */
  async login(userId: string): Promise<void> {
    if (typeof userId !== 'string' || userId === '') {
      throw new SessionUsageError(`session.login needs a non-empty string user id; got ${typeof userId}.`);
    }
    await this.cycleKey();
    // The absolute timeout counts from login: an authenticated session is a new session (OWASP).
    this.#metaDirty.created = this.#policy.now();
    this.#metaDirty.userId = userId;
    this.#metaDirty.userAgent = (this.#source.userAgent ?? '').slice(0, 512);
    this.#pendingLogin = userId;
  }

  /** The user recorded by `login`, if any. */
  async userId(): Promise<string | undefined> {
    const loading = this.#use();
    if (loading) await loading;
    return this.#metaDirty.userId || this.#meta?.userId || undefined;
  }

  // ---- expiry (Django's semantics) -------------------------------------------------------

  /**
   * Sets when the session expires: whole seconds of inactivity (as Django's `set_expiry`
   * takes an int: the cookie's `Max-Age` is whole seconds), a fixed `Date`, `0` for "when the
   * browser closes", or `null` for the configured policy. Throws a `SessionUsageError` — before
   * anything changes — for fractional or non-positive seconds, and for an expiry past the
   * last date JavaScript (and so a cookie's `Expires`) can hold.
   *
   * @example await req.session.setExpiry(remember ? 30 * 86_400 : 0);
   */
  async setExpiry(value: number | Date | 0 | null): Promise<void> {
    const loading = this.#use();
    if (loading) await loading;
    let expiry: string;
    if (value === null) expiry = '';
    else if (value === 0) expiry = '0';
    else if (value instanceof Date && Number.isFinite(value.getTime())) expiry = `d:${value.getTime()}`;
    else if (
      typeof value === 'number' &&
      Number.isSafeInteger(value) &&
      value > 0 &&
      Number.isFinite(new Date(this.#policy.now() + value * 1000).getTime())
    )
      expiry = `s:${value}`;
    else {
      const rounding =
        typeof value === 'number' && Number.isFinite(value) && value > 0 && !Number.isInteger(value)
          ? ` Round it: setExpiry(Math.round(${value})).`
          : '';
      throw new SessionUsageError(
        `session.setExpiry takes a whole number of seconds (> 0) that ends before the year 275760, a valid Date, ` +
          `0 (at browser close) or null (the configured policy); got ${String(value)}.${rounding}`,
      );
    }
    this.#metaDirty.expiry = expiry;
    this.modified = true;
  }

  /** Seconds until the session expires, counted from now (Django's `get_expiry_age`). */
  getExpiryAge(): number {
    const expiry = this.#expiry();
    if (expiry.startsWith('d:')) return Math.floor((Number(expiry.slice(2)) - this.#policy.now()) / 1000);
    // Whole seconds, as the cookie's Max-Age (a session stored before setExpiry refused fractions may hold one).
    if (expiry.startsWith('s:')) return Math.floor(Number(expiry.slice(2)));
    return Math.floor(this.#policy.maxAge / 1000);
  }

  /** When the session expires if unused from now (Django's `get_expiry_date`). */
  getExpiryDate(): Date {
    const expiry = this.#expiry();
    if (expiry.startsWith('d:')) return new Date(Number(expiry.slice(2)));
    return new Date(this.#policy.now() + this.getExpiryAge() * 1000);
  }

  /** @internal True when `setExpiry` chose an expiry (else the config's policy applies). */
  hasCustomExpiry(): boolean {
    return this.#expiry() !== '';
  }

  /** Whether the cookie lasts only until the browser closes (Django's `get_expire_at_browser_close`). */
  expireAtBrowserClose(): boolean {
    const expiry = this.#expiry();
    return expiry === '' ? this.#policy.expireAtBrowserClose : expiry === '0';
  }

  // ---- saving --------------------------------------------------------------------------

  /**
   * Writes what changed: on a server store only the changed fields (one round trip); an
   * empty session is deleted rather than stored. The middleware calls this before the
   * response headers go out; call it yourself only outside a request. Saves of one
   * session run one at a time: a save called while another runs waits for it, then writes
   * whatever is still pending (a change made during a save is kept for the next one).
   * Throws `SessionTooLargeError` (nothing stored) and `SessionInterruptedError`.
   */
  async save(): Promise<void> {
    return this.#exclusive(() => this.#save({}));
  }

  /**
   * One save. `force`: store the session even when it is empty (`incr` needs it to exist);
   * `touch: false`: no `saveEveryRequest` touch of an unchanged session (for `incr`'s saves).
   * Runs only through `#exclusive`, so `key`, `#previousKey` and the state do not change
   * under it; fields may (a `set` while it writes), and stay pending for the next save.
   */
  async #save(options: { force?: boolean; touch?: boolean }): Promise<void> {
    if (this.#state === 'unloaded') await this.#load();
    const store = this.#policy.store;
    if (store.kind === 'cookie') {
      this.cookieValue();
      return;
    }
    if (!this.#needsWrite() && !(options.force && this.#state !== 'stored')) {
      // saveEveryRequest on an unchanged session: refresh its expiry, don't rewrite it.
      if (this.#policy.saveEveryRequest && options.touch !== false) await this.touch();
      return;
    }
    const now = this.#policy.now();
    if (this.#isEmpty() && !options.force) {
      // Nothing to keep: an empty session is not stored (and no cookie is set for it).
      const stored = [this.#previousKey, this.#state === 'stored' ? this.key : null];
      this.#reset();
      this.key = null;
      this.#state = 'new';
      for (const id of stored) if (id !== undefined && id !== null) await store.destroy(id);
      return;
    }
    const size = this.#checkSize();
    const write = this.#write(now);
    // What this save takes from the pending changes; anything changed while it writes stays.
    const metaSent = { ...this.#metaDirty };
    const replacements = this.#replacements;
    const login = this.#pendingLogin;
    const previous = this.#previousKey;
    if (previous !== undefined) {
      // cycleKey: the old id must still exist (delete-wins), then the data moves whole.
      if (!(await store.destroy(previous))) throw new SessionInterruptedError();
      const userId = this.#meta?.userId;
      if (userId && store.index && login !== userId) await store.index.remove(userId, previous);
      this.#previousKey = undefined;
    }
    // Who the stored session must be listed under: the user logging in, or — when the data
    // moves to a new id (cycleKey without a login) — the user it carries over, or revokeAll
    // would miss it while it stays logged in.
    let listUnder = login;
    let key = this.key;
    if (this.#state === 'stored' && key !== null) {
      const userId = this.#meta?.userId;
      // A logged-in session keeps its user's index alive as long as itself (sent together).
      if (userId && store.index)
        await Promise.all([store.update(key, write), store.index.add(userId, key, write.ttl)]);
      else await store.update(key, write);
    } else {
      key = this.key ??= newSessionId();
      if (!(await store.create(key, { ...write, replace: true }))) {
        // 2^-256: a colliding id is never adopted, and never overwritten either.
        throw new LarderError(
          'A new session id collided with a stored one; nothing was saved. Retry the request.',
        );
      }
      listUnder ??= write.meta.userId || undefined;
    }
    if (listUnder !== undefined && store.index) await store.index.add(listUnder, key, write.ttl);
    // The store keeps no reference to the meta it loaded: update it in place.
    this.#meta = Object.assign(this.#meta ?? { created: now, lastSeen: now }, write.meta) as SessionMeta;
    this.#state = 'stored';
    this.#storedBytes = size;
    // Drop from the pending changes what was written, unless it changed again meanwhile.
    for (const [field, text] of write.set) if (this.#dirty.get(field) === text) this.#dirty.delete(field);
    if (this.#deleted !== undefined) {
      for (const field of write.delete) this.#deleted.delete(field);
      if (this.#deleted.size === 0) this.#deleted = undefined;
    }
    if (this.#replacements === replacements) this.#replace = false;
    if (hasKeys(metaSent)) {
      const pending = this.#metaDirty as Record<string, unknown>;
      for (const name in metaSent)
        if (pending[name] === metaSent[name as keyof SessionMeta]) delete pending[name];
    }
    if (this.#pendingLogin === login) this.#pendingLogin = undefined;
  }

  /**
   * Runs `op` as the session's only save or flush: after the one in flight, if any (then
   * checks again, as another caller may have started first).
   */
  #exclusive(op: () => Promise<void>): Promise<void> {
    const wait = this.#inFlight();
    if (wait !== undefined) return wait.then(() => this.#exclusive(op));
    const run = op();
    this.#saving = run;
    const done = () => {
      if (this.#saving === run) this.#saving = undefined;
    };
    run.then(done, done);
    return run;
  }

  /** Settles (never rejects) when the save or flush in flight does; `undefined` when none is. */
  #inFlight(): Promise<void> | undefined {
    return this.#saving?.then(noop, noop);
  }

  /**
   * The signed-cookie engine's cookie value for the current data (encodes and signs).
   * Throws `SessionTooLargeError` over the cookie limit. Only for `kind: 'cookie'` stores.
   * @internal
   */
  cookieValue(): string {
    const store = this.#policy.store;
    if (store.kind !== 'cookie')
      throw new SessionUsageError(
        "cookieValue() is for the signed-cookie engine; on a server-side engine the cookie holds the session's id (session.key).",
      );
    const now = this.#policy.now();
    const meta = { ...(this.#meta ?? { created: now, lastSeen: now }), ...this.#metaDirty, lastSeen: now };
    const fields = new Map<string, string>();
    for (const [field, value] of this.#data)
      fields.set(field, this.#dirty.get(field) ?? encodeField(field, value));
    const value = store.encode({ fields, meta: cleanMeta(meta) }, this.#policy.cookieName);
    this.key = value;
    this.#meta = cleanMeta(meta);
    this.#state = 'stored';
    this.#clearPending();
    return value;
  }

  /**
   * Refreshes expiry without rewriting data, when `touchAfter` has passed since the last
   * save or touch. Returns false when there was nothing to do or the session is gone.
   * @internal
   */
  async touch(): Promise<boolean> {
    const store = this.#policy.store;
    if (store.kind !== 'server' || this.#state !== 'stored' || this.key === null) return false;
    const now = this.#policy.now();
    const ttl = this.#storeTtl(now);
    const userId = this.#meta?.userId;
    const [ok] = await Promise.all([
      store.touch(this.key, now, ttl),
      userId && store.index ? store.index.add(userId, this.key, ttl) : undefined,
    ]);
    if (ok && this.#meta) this.#meta.lastSeen = now;
    return ok;
  }

  // ---- what the middleware asks ----------------------------------------------------------

  /** @internal 'untouched' | 'empty' | 'write' | 'touch' | 'none' — what committing this session needs. */
  pending(): 'untouched' | 'empty' | 'write' | 'touch' | 'none' {
    if (this.#state === 'unloaded') return 'untouched';
    if (this.#isEmpty()) {
      const had = this.#state === 'stored' || this.modified || this.#flushed || this.#sentKey !== null;
      return had ? 'empty' : 'none';
    }
    // A session stored under an id the client does not hold yet (saved early by incr or an
    // explicit save) still needs its cookie.
    if (this.#needsWrite() || this.#policy.saveEveryRequest || this.key !== this.#sentKey) return 'write';
    if (this.#state === 'stored' && this.#meta && this.key !== null) {
      const now = this.#policy.now();
      const seen = Math.max(this.#meta.lastSeen, this.#policy.touched?.get(this.key) ?? 0);
      if (now - seen >= this.#touchAfter()) {
        this.#policy.touched?.set(this.key, now);
        return 'touch';
      }
    }
    return 'none';
  }

  /** @internal Assigns the id a new session will be stored under, so the cookie can be set before the save. */
  reserveKey(): string | null {
    if (this.#policy.store.kind === 'server' && this.#state !== 'stored' && this.key === null)
      this.key = newSessionId();
    return this.key;
  }

  /** @internal Loads now (used by `saveEveryRequest`, whose headers depend on what is stored). */
  load(): Promise<void> {
    return this.#load();
  }

  // ---- internals -------------------------------------------------------------------------

  /**
   * Marks the session accessed; returns the load to wait for, or `undefined` once loaded —
   * so a method of a loaded session runs without a microtask hop (and calls made without
   * `await` still apply in call order).
   */
  #use(): Promise<void> | undefined {
    this.accessed = true;
    return this.#state === 'unloaded' ? this.#load() : undefined;
  }

  #load(): Promise<void> {
    if (this.#state !== 'unloaded') return RESOLVED;
    this.#loading ??= this.#fetch();
    return this.#loading;
  }

  async #fetch(): Promise<void> {
    try {
      const key = this.key;
      const store = this.#policy.store;
      const now = this.#policy.now();
      let stored: StoredSession | undefined;
      if (key !== null) {
        stored = store.kind === 'server' ? await store.load(key) : store.decode(key, now);
      }
      if (this.#state !== 'unloaded') return;
      if (stored && this.#isLive(stored.meta, now)) {
        try {
          let bytes = 0;
          for (const [field, text] of stored.fields) {
            this.#data.set(field, parseValue(text));
            const size = fieldSize(field, text);
            this.#sizes.set(field, size);
            bytes += size;
          }
          this.#storedBytes = bytes;
          this.#meta = stored.meta;
          this.#state = 'stored';
          return;
        } catch (error) {
          this.#policy.log(
            'warn',
            `larder: session data could not be decoded; starting a fresh session (${String(error)}).`,
          );
          this.#data.clear();
          this.#sizes.clear();
        }
      }
      if (stored && store.kind === 'server' && key !== null) await store.destroy(key);
      // Unknown, expired or corrupt: a fresh session under a new id — the client's id is never adopted.
      this.key = null;
      this.#state = 'new';
    } finally {
      this.#loading = undefined;
    }
  }

  #isLive(meta: SessionMeta, now: number): boolean {
    const { absoluteMaxAge } = this.#policy;
    if (absoluteMaxAge !== null && now >= meta.created + absoluteMaxAge) return false;
    const expiry = meta.expiry ?? '';
    if (expiry.startsWith('d:')) return now < Number(expiry.slice(2));
    const idle = expiry.startsWith('s:') ? Number(expiry.slice(2)) * 1000 : this.#policy.maxAge;
    return now < meta.lastSeen + idle;
  }

  /**
   * How long after its last save or touch an unchanged session is touched: `touchAfter`, but
   * at most half of how long it lives idle — the idle timeout (`maxAge` or `setExpiry`
   * seconds) and the cookie's `Max-Age` — so a visitor who comes back within that half is
   * never logged out by a throttled touch. A fixed expiry date is not extended by a touch.
   */
  #touchAfter(): number {
    const policy = this.#policy;
    const expiry = this.#expiry();
    if (expiry.startsWith('d:')) return policy.touchAfter;
    if (expiry.startsWith('s:')) return Math.min(policy.touchAfter, (Number(expiry.slice(2)) * 1000) / 2);
    let after = Math.min(policy.touchAfter, policy.maxAge / 2);
    // The cookie's Max-Age goes out in whole seconds (`sessions.cookie.maxAge`); none at browser close.
    if (policy.cookieMaxAge !== undefined && !this.expireAtBrowserClose())
      after = Math.min(after, (Math.floor(policy.cookieMaxAge / 1000) * 1000) / 2);
    return after;
  }

  /** The effective expiry setting: pending change, else stored, else ''. */
  #expiry(): string {
    return this.#metaDirty.expiry ?? this.#meta?.expiry ?? '';
  }

  /** Milliseconds the store should keep the session from `now`. */
  #storeTtl(now: number): number {
    const expiry = this.#expiry();
    let ttl = expiry.startsWith('d:')
      ? Number(expiry.slice(2)) - now
      : expiry.startsWith('s:')
        ? Number(expiry.slice(2)) * 1000
        : this.#policy.maxAge;
    const created = this.#metaDirty.created ?? this.#meta?.created ?? now;
    if (this.#policy.absoluteMaxAge !== null)
      ttl = Math.min(ttl, created + this.#policy.absoluteMaxAge - now);
    return Math.max(1, Math.ceil(ttl));
  }

  /** No data and no logged-in user: nothing worth storing. */
  #isEmpty(): boolean {
    return (
      this.#data.size === 0 &&
      !(this.#metaDirty.userId || (this.#metaDirty.userId === undefined && this.#meta?.userId))
    );
  }

  #needsWrite(): boolean {
    return (
      this.#dirty.size > 0 ||
      (this.#deleted?.size ?? 0) > 0 ||
      this.#replace ||
      this.#previousKey !== undefined ||
      hasKeys(this.#metaDirty) ||
      (this.#state === 'new' && !this.#isEmpty())
    );
  }

  /**
   * The data's encoded size; throws `SessionTooLargeError` when it is over `maxBytes` and
   * larger than what the store holds. Race condition: the limit is checked here, against the
   * session this request loaded, and the server stores write changed fields only — so
   * concurrent requests that each add a field can together store a session over the limit.
   * Such a session must not be stuck (every save refused until fields are deleted): a save
   * that does not grow it goes through, and one that grows it is refused.
   */
  #checkSize(): number {
    let size = 0;
    for (const bytes of this.#sizes.values()) size += bytes;
    if (size > this.#policy.maxBytes && size > this.#storedBytes)
      throw new SessionTooLargeError(size, this.#policy.maxBytes);
    return size;
  }

  #write(now: number): SessionWrite {
    const meta: Partial<SessionMeta> = { ...this.#metaDirty, lastSeen: now };
    if (this.#state !== 'stored' || this.#previousKey !== undefined) {
      meta.created = this.#metaDirty.created ?? this.#meta?.created ?? now;
      // A cycled session carries its bookkeeping to the new id.
      if (this.#meta?.expiry && meta.expiry === undefined) meta.expiry = this.#meta.expiry;
      if (this.#meta?.userId && meta.userId === undefined) meta.userId = this.#meta.userId;
      if (this.#meta?.userAgent && meta.userAgent === undefined) meta.userAgent = this.#meta.userAgent;
    }
    const fullWrite = this.#state !== 'stored' || this.#replace;
    const set = fullWrite ? new Map<string, string>() : new Map(this.#dirty);
    if (fullWrite) {
      for (const [field, value] of this.#data)
        set.set(field, this.#dirty.get(field) ?? encodeField(field, value));
    }
    const deleted = this.#deleted === undefined ? new Set<string>() : new Set(this.#deleted);
    return { set, delete: deleted, replace: fullWrite, meta, ttl: this.#storeTtl(now) };
  }

  #clearPending(): void {
    this.#dirty.clear();
    this.#deleted = undefined;
    this.#replace = false;
    if (hasKeys(this.#metaDirty)) this.#metaDirty = {};
    this.#pendingLogin = undefined;
  }

  #reset(): void {
    this.#data.clear();
    this.#sizes.clear();
    this.#storedBytes = 0;
    this.#meta = undefined;
    this.#previousKey = undefined;
    this.#clearPending();
  }
}

const noop = () => {};

/** One settled promise for the calls that complete without waiting. */
const RESOLVED: Promise<void> = Promise.resolve();

/** `Object.keys(object).length > 0`, without the array. */
function hasKeys(object: object): boolean {
  for (const _ in object) return true;
  return false;
}

/**
 * Refuses a field name with a lone surrogate: Redis keeps hash field names as UTF-8, where
 * it turns into U+FFFD — the field would come back under another name, and two such names
 * would overwrite each other.
 */
function checkFieldName(field: string): void {
  if (!field.isWellFormed()) {
    throw new CacheValueError(
      field,
      'a session field name must be well-formed Unicode (this one has a lone surrogate, which UTF-8 cannot hold).',
    );
  }
}

/** Encodes one field's value; the message names the field. */
function encodeField(field: string, value: unknown): string {
  checkFieldName(field);
  if (value === undefined) {
    throw new CacheValueError(
      field,
      `a session field cannot be set to undefined; use session.delete('${field}').`,
    );
  }
  try {
    return stringifyValue(value);
  } catch (error) {
    (error as Error).message = `session field '${field}': ${(error as Error).message}`;
    throw error;
  }
}

/** Meta without empty-string "remove" markers. */
function cleanMeta(meta: Partial<SessionMeta>): SessionMeta {
  const out = { ...meta } as SessionMeta;
  for (const name of ['expiry', 'userId', 'userAgent'] as const) if (out[name] === '') delete out[name];
  return out;
}
