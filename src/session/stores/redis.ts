/**
 * The Redis session store: one hash per session (`<prefix>:<id>`), data fields as
 * `d:<name>` and bookkeeping as `m:<name>`, so a save writes only the fields that changed
 * and concurrent requests editing different fields keep each other's writes. Every write
 * is one Lua call that first checks the hash still exists: a session destroyed by logout
 * or revoke is never recreated by a late request (delete-wins). One key per call, so it
 * runs unchanged on Cluster.
 */
import { BackendUnavailableError, CacheValueError, SessionInterruptedError } from '../../errors.js';
import type { RedisCommands, RedisConnection } from '../../redis/connection.js';
import { defineScript, type LuaScript } from '../../redis/script.js';
import type {
  ServerSessionStore,
  SessionMeta,
  SessionWrite,
  StoredSession,
  UserSessionInfo,
} from '../store.js';

/**
 * Options of {@link redisSessionStore}.
 *
 * @example
 * redisSessionStore({ connection: larder.connection(location), prefix: 'session' });
 */
export interface RedisSessionStoreOptions {
  connection: RedisConnection;
  /** Key prefix (Django's `SESSION_REDIS['PREFIX']`). @default 'session' */
  prefix?: string;
  /**
   * `'replicated'`: every write is followed by `WAIT 1 <commandTimeout>` on the same socket
   * and fails with `BackendUnavailableError` unless a replica acknowledged it. @default 'async'
   */
  durability?: 'async' | 'replicated';
  /**
   * The connection durable writes go over (default: `connection`). A WAIT holds its socket
   * until a replica answers, so a separate one keeps that wait off every other command.
   */
  writeConnection?: RedisConnection;
}

/** Hash field of each meta entry. */
const META: Record<keyof SessionMeta, string> = {
  created: 'm:c',
  lastSeen: 'm:s',
  expiry: 'm:e',
  userId: 'm:u',
  userAgent: 'm:a',
};

// Field pairs are written in batches: Lua's unpack() has a stack limit of a few thousand values.
const HSET_PAIRS = `
local function hset_from(key, first)
  local last = #ARGV
  local i = first
  while i <= last do
    local j = math.min(i + 199, last)
    redis.call('HSET', key, unpack(ARGV, i, j))
    i = j + 1
  end
end
`;

// create: KEYS[1] = session; ARGV = ttl ms, then field/value pairs.
// Only when absent: an id is never adopted or overwritten.
const CREATE = defineScript(
  1,
  `${HSET_PAIRS}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
hset_from(KEYS[1], 2)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`,
);

// update: KEYS[1] = session; ARGV = ttl ms, replace ('1'/'0'), n, n fields to delete,
// then field/value pairs to set. Returns 0 (writing nothing) when the session is gone.
// PEXPIRE is the existence check (0: no such key), so a save costs Redis one call less.
const UPDATE = defineScript(
  1,
  `${HSET_PAIRS}
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[2] == '1' then
  -- clear(): drop every data field, keep the bookkeeping
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(field, 1, 2) == 'd:' then redis.call('HDEL', KEYS[1], field) end
  end
end
local n = tonumber(ARGV[3])
for i = 4, 3 + n do redis.call('HDEL', KEYS[1], ARGV[i]) end
hset_from(KEYS[1], 4 + n)
-- A deletion may have emptied the hash (Redis then drops the key) before HSET made it anew.
if ARGV[2] == '1' or n > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1`,
);

// update, the usual save (fields set; none deleted, no clear()): KEYS[1] = session; ARGV =
// ttl ms, then field/value pairs, at most UPDATE_SET_MAX values. UPDATE's answers for less of
// Redis's time (no function to define, no loop): INFO commandstats measured EVALSHA at 6.5 µs
// per call against UPDATE's 7.1 on bench/session.ts's read+write (a plain SET: 1.2 µs).
const UPDATE_SET = defineScript(
  1,
  `if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1`,
);
/** Values UPDATE_SET passes to one HSET through unpack() (Lua's stack holds a few thousand). */
const UPDATE_SET_MAX = 400;

// incr: KEYS[1] = session; ARGV = ttl ms, field, delta, lastSeen. HINCRBY refuses a
// non-integer field before anything is written. The result travels as text (exact).
const INCR = defineScript(
  1,
  `if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local n = redis.call('HINCRBY', KEYS[1], ARGV[2], ARGV[3])
if n > 9007199254740991 or n < -9007199254740991 then
  redis.call('HINCRBY', KEYS[1], ARGV[2], -tonumber(ARGV[3]))
  return redis.error_reply('ERR larder: result out of the safe integer range')
end
redis.call('HSET', KEYS[1], 'm:s', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return tostring(n)`,
);

// touch: KEYS[1] = session; ARGV = ttl ms, lastSeen. Never recreates a deleted session
// (PEXPIRE answers 0 for a missing key, and then nothing is written).
const TOUCH = defineScript(
  1,
  `if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'm:s', ARGV[2])
return 1`,
);

// index add: KEYS[1] = the user's set of session ids; ARGV = id, now, ttl ms. The index
// lives at least as long as the longest session in it.
const INDEX_ADD = defineScript(
  1,
  `redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1`,
);

/**
 * Sends `command` and `WAIT 1 <waitMs>` pipelined on one socket — WAIT counts the replicas
 * that have this connection's last write, so it must follow the write on the same
 * connection — and resolves the command's reply and the replica count.
 */
function sendAndWait<T>(
  conn: RedisConnection,
  key: string,
  command: string[],
  waitMs: number,
): Promise<[T, number]> {
  const wait = ['WAIT', '1', String(waitMs)];
  const pair = async (send: (args: string[]) => Promise<unknown>): Promise<[T, number]> => {
    const write = send(command);
    const acked = send(wait);
    acked.catch(() => {});
    return [(await write) as T, Number(await acked)];
  };
  // The deadline covers the write and the longest the WAIT may hold the socket: its timeout,
  // which Redis checks at its \`hz\` (10 times a second by default), so up to 100 ms late.
  const timeout = conn.commandTimeout + waitMs + 100;
  return conn.run(
    (c: RedisCommands) => {
      switch (conn.topology) {
        case 'cluster':
          // Both carry the session key, so both go to the node that owns it.
          return pair((args) => c.sendCommand(key, false, args));
        case 'sentinel':
          // The master pool may hold several sockets: lease one for the pair.
          return c.use((leased: RedisCommands) => pair((args) => leased.sendCommand(false, args)));
        default:
          return pair((args) => c.sendCommand(args));
      }
    },
    false,
    timeout,
  );
}

/**
 * Sessions in Redis hashes.
 *
 * @example
 * const store = redisSessionStore({ connection: larder.connection() });
 */
export function redisSessionStore(options: RedisSessionStoreOptions): ServerSessionStore {
  const conn = options.connection;
  const prefix = options.prefix ?? 'session';
  const keyOf = (id: string) => `${prefix}:${id}`;
  const userKey = (userId: string) => `${prefix}:user:${userId}`;
  // Sessions are read from the primary: a replica may not have the write a redirect relies on.
  const primary = { readonly: false } as const;
  const writeConn = options.writeConnection ?? conn;
  // How long a durable write waits for a replica: the connection's command timeout.
  const waitMs = conn.commandTimeout;

  /**
   * A write (`script` with `args`, or `args` as a command) that counts only once a replica
   * has it. Otherwise it throws; the write itself stays on the primary (WAIT cannot undo it).
   */
  const durableWrite = async <T>(
    key: string,
    script: LuaScript | undefined,
    args: Array<string | number>,
  ) => {
    const text = args.map(String);
    // Connected first, so that the time to connect does not eat into the WAIT's budget.
    if (!writeConn.isReady) await writeConn.ready(writeConn.commandTimeout);
    let reply: T;
    let replicas: number;
    try {
      const command = script ? ['EVALSHA', script.sha1, '1', key, ...text] : text;
      [reply, replicas] = await sendAndWait<T>(writeConn, key, command, waitMs);
    } catch (error) {
      // A server that lost its scripts (restarted, failed over): once more as EVAL, with
      // its own deadline, as the WAIT that followed the refused EVALSHA used up the first.
      if (!script || !String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      [reply, replicas] = await sendAndWait<T>(
        writeConn,
        key,
        ['EVAL', script.source, '1', key, ...text],
        waitMs,
      );
    }
    if (replicas < 1) {
      throw new BackendUnavailableError(
        writeConn.name,
        `no replica acknowledged the session write within ${waitMs} ms (sessions.durability 'replicated'); ` +
          'it is on the primary only and may be lost on a failover. Check that a replica is connected (INFO replication).',
      );
    }
    return reply;
  };
  const writeWith = <T>(key: string, script: LuaScript | undefined, args: Array<string | number>) => {
    if (options.durability === 'replicated') return durableWrite<T>(key, script, args);
    return script ? script.run<T>(conn, [key], args) : conn.send<T>(args.map(String), { key });
  };

  /** Appends `write`'s field/value pairs to set (data, then meta) to `out`. */
  const pushSets = (out: Array<string | number>, write: SessionWrite) => {
    for (const [field, text] of write.set) out.push(`d:${field}`, text);
    const meta = write.meta;
    for (const name in meta) {
      const value = meta[name as keyof SessionMeta];
      if (value !== undefined && value !== '') out.push(META[name as keyof SessionMeta], String(value));
    }
    return out;
  };

  return {
    kind: 'server',
    name: `redis ${conn.name}`,
    async load(id) {
      const key = keyOf(id);
      const hash = await conn.send<Record<string, string> | string[] | null>(['HGETALL', key], {
        key,
        readonly: false,
      });
      return readSession(hash);
    },
    async create(id, write) {
      const done = await writeWith<number>(keyOf(id), CREATE, pushSets([write.ttl], write));
      return done === 1;
    },
    async update(id, write) {
      if (!write.replace && write.delete.size === 0 && !clearsMeta(write.meta)) {
        const args = pushSets([write.ttl], write);
        if (args.length > 1 && args.length <= UPDATE_SET_MAX + 1) {
          if ((await writeWith<number>(keyOf(id), UPDATE_SET, args)) !== 1)
            throw new SessionInterruptedError();
          return;
        }
      }
      // ARGV: ttl, replace, n, the n fields to delete (data, then meta set to ''), then the pairs.
      const args: Array<string | number> = [write.ttl, write.replace ? '1' : '0', 0];
      for (const field of write.delete) args.push(`d:${field}`);
      const meta = write.meta;
      for (const name in meta)
        if (meta[name as keyof SessionMeta] === '') args.push(META[name as keyof SessionMeta]);
      args[2] = args.length - 3;
      if ((await writeWith<number>(keyOf(id), UPDATE, pushSets(args, write))) !== 1)
        throw new SessionInterruptedError();
    },
    async incr(id, field, delta, write) {
      let text: string | null;
      try {
        text = await writeWith<string | null>(keyOf(id), INCR, [
          write.ttl,
          `d:${field}`,
          delta,
          write.meta.lastSeen ?? Date.now(),
        ]);
      } catch (error) {
        const message = String((error as Error)?.message);
        if (/not an integer|out of the safe integer range|overflow/.test(message)) {
          throw new CacheValueError(field, `the session field cannot be incremented: ${message}`, {
            cause: error,
          });
        }
        throw error;
      }
      if (text === null || text === undefined) throw new SessionInterruptedError();
      return Number(text);
    },
    async touch(id, lastSeen, ttl) {
      return (await TOUCH.run<number>(conn, [keyOf(id)], [ttl, lastSeen])) === 1;
    },
    async destroy(id) {
      return (await writeWith<number>(keyOf(id), undefined, ['DEL', keyOf(id)])) === 1;
    },
    async count(onProgress) {
      let total = 0;
      for (const node of await conn.nodes()) {
        let cursor = '0';
        do {
          // TYPE hash: the per-user indexes (`<prefix>:user:<id>`) are sorted sets.
          const reply: { cursor: string | number; keys: string[] } = await conn.run(
            (c) => c.scan(cursor, { MATCH: `${escapeGlob(prefix)}:*`, COUNT: 1000, TYPE: 'hash' }),
            false,
            undefined,
            false,
            node,
          );
          cursor = String(reply.cursor);
          total += reply.keys.length;
          if (reply.keys.length > 0) onProgress?.(reply.keys.length);
        } while (cursor !== '0');
      }
      return total;
    },
    async *ids() {
      const skip = prefix.length + 1;
      for (const node of await conn.nodes()) {
        let cursor = '0';
        do {
          const reply: { cursor: string | number; keys: string[] } = await conn.run(
            (c) => c.scan(cursor, { MATCH: `${escapeGlob(prefix)}:*`, COUNT: 500, TYPE: 'hash' }),
            false,
            undefined,
            false,
            node,
          );
          cursor = String(reply.cursor);
          for (const key of reply.keys.map(String)) {
            const id = key.slice(skip);
            if (!id.startsWith('user:')) yield id;
          }
        } while (cursor !== '0');
      }
    },
    index: {
      async add(userId, id, ttl) {
        await INDEX_ADD.run(conn, [userKey(userId)], [id, Date.now(), ttl]);
      },
      async remove(userId, id) {
        return (await conn.send<number>(['ZREM', userKey(userId), id], { key: userKey(userId) })) === 1;
      },
      async list(userId) {
        const key = userKey(userId);
        const ids = await conn.send<string[]>(['ZRANGE', key, '0', '-1'], { key, ...primary });
        // One HMGET per session, sent together (pipelined on one connection; one per slot on Cluster).
        const metas = await Promise.all(
          ids.map((id) =>
            conn.send<Array<string | null>>(
              ['HMGET', keyOf(id), META.created, META.lastSeen, META.userAgent],
              {
                key: keyOf(id),
                ...primary,
              },
            ),
          ),
        );
        const out: UserSessionInfo[] = [];
        const dead: string[] = [];
        ids.forEach((id, i) => {
          const [created, lastSeen, userAgent] = metas[i];
          if (created === null || lastSeen === null) dead.push(id);
          else
            out.push({
              id,
              created: new Date(Number(created)),
              lastSeen: new Date(Number(lastSeen)),
              userAgent: userAgent ?? undefined,
            });
        });
        if (dead.length > 0) await conn.send(['ZREM', key, ...dead], { key });
        return out.sort((a, b) => b.lastSeen.getTime() - a.lastSeen.getTime());
      },
    },
  };
}

/** True when `meta` removes a bookkeeping field (a value of ''). */
function clearsMeta(meta: SessionWrite['meta']): boolean {
  for (const name in meta) if (meta[name as keyof SessionMeta] === '') return true;
  return false;
}

/**
 * The session in an HGETALL reply — RESP2's flat `[name, value, …]` list or RESP3's map —
 * or `undefined` for a hash without bookkeeping, which is not one of ours (or half of one)
 * and is not adopted. Reads the reply in place (no entry arrays).
 */
function readSession(hash: Record<string, string> | string[] | null): StoredSession | undefined {
  const fields = new Map<string, string>();
  const meta: Partial<SessionMeta> = {};
  if (Array.isArray(hash)) {
    for (let i = 0; i + 1 < hash.length; i += 2) take(fields, meta, hash[i]!, hash[i + 1]!);
  } else if (hash) {
    for (const name in hash) take(fields, meta, name, hash[name]!);
  }
  if (!Number.isFinite(meta.created) || !Number.isFinite(meta.lastSeen)) return undefined;
  return { fields, meta: meta as SessionMeta };
}

/** Files one hash field: data (`d:…`) or bookkeeping (`m:…`). */
function take(fields: Map<string, string>, meta: Partial<SessionMeta>, name: string, value: string): void {
  if (name.startsWith('d:')) fields.set(name.slice(2), value);
  else if (name === META.created) meta.created = Number(value);
  else if (name === META.lastSeen) meta.lastSeen = Number(value);
  else if (name === META.expiry) meta.expiry = value;
  else if (name === META.userId) meta.userId = value;
  else if (name === META.userAgent) meta.userAgent = value;
}

/** A literal prefix inside a SCAN MATCH pattern. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
