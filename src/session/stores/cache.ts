/** @module larder/session/stores/cache — sessions kept whole in any named cache (Django's `sessions/backends/cache.py`). */
import type { Cache } from '../../cache/cache.js';
import { escapeGlob } from '../../cache/glob.js';
import { CacheValueError, SessionInterruptedError } from '../../errors.js';
import type { ServerSessionStore, SessionMeta, SessionWrite, StoredSession } from '../store.js';

/**
 * Options of {@link cacheSessionStore}.
 *
 * @example
 * const options: CacheSessionStoreOptions = { cache: larder.cache('sessions'), prefix: 'session' };
 */
export interface CacheSessionStoreOptions {
  /** The cache holding the sessions; it adds its own key prefix and version. */
  cache: Cache;
  /** Sessions live under `${prefix}:${id}` in that cache. @default 'session' */
  prefix?: string;
}

/** What one cache value holds: fields (name → JSON text) and meta. */
interface CachedSession {
  f: Record<string, string>;
  m: SessionMeta;
}

/** A field's JSON text when it holds an integer. */
const INTEGER = /^-?\d+$/;
/** Meta fields that `''` removes. */
const REMOVABLE = ['expiry', 'userId', 'userAgent'] as const;

/**
 * A server session store over a `Cache`: each session is one cache value, read and
 * rewritten whole. Its writes are read-modify-writes, serialized per session within one
 * process; across processes two requests saving the same session at once can lose one's
 * changes, and a write racing a destroy can bring the session back — the `redis` engine
 * (a hash per session, atomic scripts) has neither problem. Likewise `incr` is atomic
 * within one process only; the redis engine's is atomic across processes. There is no
 * per-user index (`forUser`): that needs the `redis` or `memory` engine.
 *
 * @example
 * const store = cacheSessionStore({ cache: larder.cache('default') });
 * await store.create(id, { set: new Map([['cart', '[]']]), delete: new Set(), replace: true, meta, ttl: 3_600_000 });
 * await store.load(id); // { fields: Map(1) { 'cart' => '[]' }, meta }
 */
export function cacheSessionStore(options: CacheSessionStoreOptions): ServerSessionStore {
  const { cache, prefix = 'session' } = options;
  const keyOf = (id: string) => `${prefix}:${id}`;
  // Cache timeouts are seconds; fractions keep the millisecond ttl (parseDuration rounds to ms).
  const timeout = (ttl: number) => ({ timeout: ttl / 1000 });

  const read = async (id: string): Promise<StoredSession | undefined> =>
    fromCached(await cache.get(keyOf(id)));

  const readOrInterrupt = async (id: string): Promise<StoredSession> => {
    const stored = await read(id);
    if (!stored) throw new SessionInterruptedError();
    return stored;
  };

  const write = (id: string, session: StoredSession, ttl: number) =>
    cache.set(keyOf(id), toCached(session), timeout(ttl));

  // Race condition: two read-modify-writes of one session that overlap (two `incr`s read the
  // same count) lose one's change. Within this process they run one after another, per id.
  const queues = new Map<string, Promise<unknown>>();
  const serial = <T>(id: string, op: () => Promise<T>): Promise<T> => {
    const run = (queues.get(id) ?? Promise.resolve()).then(op);
    const tail = run.catch(() => undefined);
    queues.set(id, tail);
    void tail.then(() => {
      if (queues.get(id) === tail) queues.delete(id);
    });
    return run;
  };

  return {
    kind: 'server',
    name: `cache ${cache.name}`,

    load: read,

    create(id, change) {
      const now = Date.now();
      const empty: StoredSession = { fields: new Map(), meta: { created: now, lastSeen: now } };
      return cache.add(keyOf(id), toCached(apply(empty, change)), timeout(change.ttl));
    },

    update(id, change) {
      return serial(id, async () => {
        const stored = await readOrInterrupt(id);
        await write(id, apply(stored, change), change.ttl);
      });
    },

    incr(id, field, delta, change) {
      return serial(id, async () => {
        const session = apply(await readOrInterrupt(id), change);
        const text = session.fields.get(field);
        const current = text === undefined ? 0 : INTEGER.test(text) ? Number(text) : Number.NaN;
        const next = current + delta;
        if (!Number.isSafeInteger(current) || !Number.isSafeInteger(next)) {
          // Named by the field, as Session does: the session id is a credential and stays out of messages.
          throw new CacheValueError(
            field,
            `the session field holds ${text}, not an integer (or the sum leaves the safe range); incr only counts integers.`,
          );
        }
        session.fields.set(field, String(next));
        await write(id, session, change.ttl);
        return next;
      });
    },

    touch(id, lastSeen, ttl) {
      return serial(id, async () => {
        const stored = await read(id);
        if (!stored) return false;
        stored.meta.lastSeen = lastSeen;
        await write(id, stored, ttl);
        return true;
      });
    },

    // In the queue too: a destroy never lands between another request's read and write.
    destroy(id) {
      return serial(id, () => cache.delete(keyOf(id)));
    },

    async *ids() {
      const head = `${prefix}:`;
      for await (const key of cache.iterKeys(`${escapeGlob(head)}*`)) {
        if (key.startsWith(head)) yield key.slice(head.length);
      }
    },
  };
}

/** `session` (a copy just read from the cache, so changed in place) with `change` applied. */
function apply(session: StoredSession, change: SessionWrite): StoredSession {
  const fields = change.replace ? new Map<string, string>() : session.fields;
  for (const name of change.delete) fields.delete(name);
  for (const [name, text] of change.set) fields.set(name, text);
  const { meta } = session;
  const patch = change.meta;
  if (patch.created !== undefined) meta.created = patch.created;
  if (patch.lastSeen !== undefined) meta.lastSeen = patch.lastSeen;
  for (const name of REMOVABLE) {
    const value = patch[name];
    if (value === '') delete meta[name];
    else if (value !== undefined) meta[name] = value;
  }
  return { fields, meta };
}

function toCached(session: StoredSession): CachedSession {
  // fromEntries defines own properties: a field named "__proto__" stays a plain key.
  return { f: Object.fromEntries(session.fields), m: session.meta };
}

/** The session a cache value holds, or `undefined` for a miss or anything not shaped like one. */
function fromCached(value: unknown): StoredSession | undefined {
  if (!isRecord(value) || !isRecord(value.f) || !isRecord(value.m)) return undefined;
  const { created, lastSeen } = value.m;
  if (!Number.isFinite(created) || !Number.isFinite(lastSeen)) return undefined;
  const meta: SessionMeta = { created: created as number, lastSeen: lastSeen as number };
  for (const name of REMOVABLE) {
    const item = value.m[name];
    if (typeof item === 'string' && item) meta[name] = item;
  }
  const fields = new Map<string, string>();
  for (const [name, text] of Object.entries(value.f)) {
    if (typeof text !== 'string') return undefined;
    fields.set(name, text);
  }
  return { fields, meta };
}

/** A plain object, as the cache's serializers decode one (an own "__proto__" key does not change that). */
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}
