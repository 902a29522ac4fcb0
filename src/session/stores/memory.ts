/**
 * The in-process session store: the embedded default, with the redis engine's semantics
 * (field-level writes, delete-wins, atomic `incr`, per-user index) for one process.
 * Sessions are held as encoded text, so what survives here survives a real store.
 */
import { CacheValueError, SessionInterruptedError } from '../../errors.js';
import type {
  ServerSessionStore,
  SessionMeta,
  SessionWrite,
  StoredSession,
  UserSessionInfo,
} from '../store.js';

/**
 * Options of {@link memorySessionStore}.
 *
 * @example
 * const options: MemorySessionStoreOptions = { now: () => fakeClock };
 */
export interface MemorySessionStoreOptions {
  /** The clock, epoch ms; tests pass a fake one. @default Date.now */
  now?: () => number;
}

interface Entry {
  fields: Map<string, string>;
  meta: SessionMeta;
  expiresAt: number;
}

const INTEGER = /^-?\d+$/;

/**
 * Sessions in a Map, expired lazily (and swept on `create`).
 *
 * @example
 * const store = memorySessionStore();
 * await store.create(newSessionId(), write);
 */
export function memorySessionStore(options: MemorySessionStoreOptions = {}): ServerSessionStore {
  const now = options.now ?? Date.now;
  const sessions = new Map<string, Entry>();
  const users = new Map<string, Set<string>>();
  let writes = 0;

  const live = (id: string): Entry | undefined => {
    const entry = sessions.get(id);
    if (entry && entry.expiresAt <= now()) {
      sessions.delete(id);
      return undefined;
    }
    return entry;
  };
  const sweep = () => {
    const t = now();
    for (const [id, entry] of sessions) if (entry.expiresAt <= t) sessions.delete(id);
  };
  const apply = (entry: Entry, write: SessionWrite) => {
    if (write.replace) entry.fields.clear();
    for (const field of write.delete) entry.fields.delete(field);
    for (const [field, text] of write.set) entry.fields.set(field, text);
    const meta = { ...entry.meta, ...write.meta } as SessionMeta;
    for (const name of ['expiry', 'userId', 'userAgent'] as const) if (meta[name] === '') delete meta[name];
    entry.meta = meta;
    entry.expiresAt = now() + write.ttl;
  };

  return {
    kind: 'server',
    name: 'memory',
    async load(id) {
      const entry = live(id);
      return entry
        ? ({ fields: new Map(entry.fields), meta: { ...entry.meta } } satisfies StoredSession)
        : undefined;
    },
    async create(id, write) {
      // Sweep now and then, so abandoned sessions do not pile up in a long-lived process.
      if (++writes % 1000 === 0) sweep();
      if (live(id)) return false;
      const entry: Entry = { fields: new Map(), meta: { created: now(), lastSeen: now() }, expiresAt: 0 };
      apply(entry, write);
      sessions.set(id, entry);
      return true;
    },
    async update(id, write) {
      const entry = live(id);
      if (!entry) throw new SessionInterruptedError();
      apply(entry, write);
    },
    async incr(id, field, delta, write) {
      const entry = live(id);
      if (!entry) throw new SessionInterruptedError();
      const current = entry.fields.get(field) ?? '0';
      if (!INTEGER.test(current)) {
        throw new CacheValueError(
          field,
          `the session field holds ${current.slice(0, 40)}, not an integer; incr only counts integers.`,
        );
      }
      const value = Number(current) + delta;
      if (!Number.isSafeInteger(value)) {
        throw new CacheValueError(
          field,
          'the session field would leave the safe integer range; nothing was changed.',
        );
      }
      apply(entry, { ...write, set: new Map([...write.set, [field, String(value)]]) });
      return value;
    },
    async touch(id, lastSeen, ttl) {
      const entry = live(id);
      if (!entry) return false;
      entry.meta.lastSeen = lastSeen;
      entry.expiresAt = now() + ttl;
      return true;
    },
    async destroy(id) {
      const existed = live(id) !== undefined;
      sessions.delete(id);
      return existed;
    },
    async *ids() {
      for (const id of [...sessions.keys()]) if (live(id)) yield id;
    },
    async count(onProgress) {
      sweep();
      onProgress?.(sessions.size);
      return sessions.size;
    },
    index: {
      async add(userId, id) {
        const ids = users.get(userId) ?? new Set<string>();
        users.set(userId, ids.add(id));
      },
      async remove(userId, id) {
        const ids = users.get(userId);
        const had = ids?.delete(id) ?? false;
        if (ids?.size === 0) users.delete(userId);
        return had;
      },
      async list(userId) {
        const ids = users.get(userId);
        const out: UserSessionInfo[] = [];
        for (const id of ids ?? []) {
          const entry = live(id);
          if (!entry) {
            ids?.delete(id);
            continue;
          }
          out.push({
            id,
            created: new Date(entry.meta.created),
            lastSeen: new Date(entry.meta.lastSeen),
            userAgent: entry.meta.userAgent,
          });
        }
        if (ids?.size === 0) users.delete(userId);
        return out.sort((a, b) => b.lastSeen.getTime() - a.lastSeen.getTime());
      },
    },
  };
}
