/**
 * The Redis leaderboard store: a sorted set per bucket, `{hash tag}`-ed by board so every
 * call runs unchanged on Cluster. One round trip per call: a plain command where one does
 * (ordinal rank, ordinal `top`/`page`, `score`, `count`, plain `incr`), else a Lua script
 * from `scripts.ts`.
 */
import { BackendUnavailableError } from '../errors.js';
import type { RedisConnection } from '../redis/connection.js';
import { AMONG, COMBINE, RANGE, RANK, REMOVE_DENSE, WRITE } from './scripts.js';
import type { BoardShape, LeaderboardStore, RawEntry, Slice, WriteOutcome } from './store.js';

/**
 * Options of {@link redisLeaderboardStore}.
 *
 * @example
 * redisLeaderboardStore({ connection: larder.connection() });
 */
export interface RedisLeaderboardStoreOptions {
  connection: RedisConnection;
}

const RANKING_CODE = { ordinal: 'o', competition: 'c', dense: 'd' } as const;

/**
 * Below this, ZINCRBY on a finite score can never give ±Infinity: a sum of doubles rounds
 * to Infinity only at 2^1024 - 2^970 or more (MAX_VALUE plus half its ulp, 2^970), and
 * |score| ≤ MAX_VALUE = 2^1024 - 2^971. A larger delta goes through the WRITE script,
 * which refuses a non-finite result before writing, as the memory store does.
 */
const OVERFLOW_FREE = 2 ** 970;

/** The shape arguments every script takes first. */
function shapeArgs(shape: BoardShape): string[] {
  return [String(shape.radix), shape.desc ? '1' : '0', RANKING_CODE[shape.ranking]];
}

/** A score from Redis: a RESP3 double, or a `%.17g` string from Lua (`inf`, `-inf`, `nan` too). */
function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  const text = String(value);
  const n = Number(text);
  if (!Number.isNaN(n)) return n;
  if (/^\+?inf/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf/i.test(text)) return Number.NEGATIVE_INFINITY;
  return Number.NaN;
}

/** ZRANGE … WITHSCORES: RESP3 pairs `[[m, s], …]`, or a flat `[m, s, …]` from Lua. */
function toEntries(rows: unknown[], from = 0): RawEntry[] {
  const out: RawEntry[] = [];
  if (rows.length > from && Array.isArray(rows[from])) {
    for (let i = from; i < rows.length; i++) {
      const [member, stored] = rows[i] as [unknown, unknown];
      out.push({ member: String(member), stored: toNumber(stored) });
    }
    return out;
  }
  for (let i = from; i + 1 < rows.length; i += 2) {
    out.push({ member: String(rows[i]), stored: toNumber(rows[i + 1]) });
  }
  return out;
}

/**
 * A leaderboard store on a Redis connection (standalone, replicas, Sentinel or Cluster).
 * Reads go to the primary, so a member sees its own write in its next rank.
 *
 * @example
 * const store = redisLeaderboardStore({ connection: larder.connection() });
 */
export function redisLeaderboardStore({ connection: conn }: RedisLeaderboardStoreOptions): LeaderboardStore {
  const send = <T>(args: string[], key: string) => conn.send<T>(args, { key });

  const store: LeaderboardStore = {
    async write(keys, shape, op): Promise<WriteOutcome> {
      // A plain all-time board: ZADD / ZINCRBY alone (incr's maxDelta is the delta itself).
      if (shape.radix === 0 && shape.ranking !== 'dense' && keys.expireAt === undefined) {
        if (op.mode === 'incr' && Math.abs(op.value) < OVERFLOW_FREE) {
          if (op.maxDelta !== undefined && Math.abs(op.value) > op.maxDelta) {
            const before = await send<unknown>(['ZSCORE', keys.key, op.member], keys.key);
            const previous = before === null ? 0 : toNumber(before);
            return { ok: false, reason: 'max-delta', score: previous + op.value, previous };
          }
          const score = toNumber(
            await send<unknown>(['ZINCRBY', keys.key, String(op.value), op.member], keys.key),
          );
          // Only a score already infinite (written before this check existed) gives one here;
          // Infinity plus a finite delta is Infinity, so nothing changed.
          if (!Number.isFinite(score)) return { ok: false, reason: 'range', score, previous: score };
          return { ok: true, score };
        }
        if (op.mode === 'set' && op.maxDelta === undefined) {
          await send(['ZADD', keys.key, String(op.value), op.member], keys.key);
          return { ok: true, score: op.value };
        }
      }
      const [status, score, previous] = await WRITE.run<[string, string, string]>(
        conn,
        [keys.key, keys.aux, keys.seq],
        [
          ...shapeArgs(shape),
          op.mode,
          op.member,
          String(op.value),
          op.maxDelta === undefined ? '' : String(op.maxDelta),
          keys.expireAt === undefined ? '' : String(keys.expireAt),
          String(shape.maxScore),
        ],
      );
      if (status === 'ok') return { ok: true, score: toNumber(score) };
      return {
        ok: false,
        reason: status as 'max-delta' | 'range' | 'sequence',
        score: toNumber(score),
        previous: toNumber(previous),
      };
    },

    async remove(keys, shape, member) {
      if (shape.ranking === 'dense') {
        return (
          (await REMOVE_DENSE.run<number>(conn, [keys.key, keys.aux], [...shapeArgs(shape), member])) === 1
        );
      }
      return (await send<number>(['ZREM', keys.key, member], keys.key)) === 1;
    },

    async score(keys, member) {
      const value = await send<unknown>(['ZSCORE', keys.key, member], keys.key);
      return value === null ? undefined : toNumber(value);
    },

    async rank(keys, shape, member) {
      if (shape.ranking === 'ordinal') {
        const pos = await send<number | null>(
          [shape.desc ? 'ZREVRANK' : 'ZRANK', keys.key, member],
          keys.key,
        );
        return pos === null ? undefined : pos + 1;
      }
      const rank = await RANK.run<number | null>(conn, [keys.key, keys.aux], [...shapeArgs(shape), member]);
      return rank === null ? undefined : rank;
    },

    async range(keys, shape, start, stop): Promise<Slice> {
      if (shape.ranking === 'ordinal') {
        const args = ['ZRANGE', keys.key, String(start), String(stop)];
        if (shape.desc) args.push('REV');
        args.push('WITHSCORES');
        return { start, base: start + 1, entries: toEntries(await send<unknown[]>(args, keys.key)) };
      }
      const reply = await RANGE.run<string[]>(
        conn,
        [keys.key, keys.aux],
        [...shapeArgs(shape), 'range', String(start), String(stop)],
      );
      return { start: Number(reply[0]), base: Number(reply[1]), entries: toEntries(reply, 2) };
    },

    async around(keys, shape, member, radius): Promise<Slice> {
      const reply = await RANGE.run<string[]>(
        conn,
        [keys.key, keys.aux],
        [...shapeArgs(shape), 'around', member, String(radius)],
      );
      if (reply.length === 0) return { start: 0, base: 1, entries: [] };
      return { start: Number(reply[0]), base: Number(reply[1]), entries: toEntries(reply, 2) };
    },

    async count(keys) {
      return send<number>(['ZCARD', keys.key], keys.key);
    },

    async reset(keys) {
      await send(['DEL', keys.key, keys.aux, keys.seq], keys.key);
    },

    async combine(dest, sources, shape, aggregate, ttlMs) {
      return COMBINE.run<number>(
        conn,
        [dest.key, dest.aux, ...sources.map((s) => s.key)],
        [...shapeArgs(shape), aggregate.toUpperCase(), String(Math.max(1, Math.round(ttlMs)))],
      );
    },

    async among(keys, shape, members, limit) {
      const rows = await AMONG.run<string[]>(
        conn,
        [keys.key, `${keys.key}:friends:set`, `${keys.key}:friends:inter`],
        [...shapeArgs(shape), String(limit), ...members],
      );
      return toEntries(rows);
    },
  };
  // A write (AMONG and COMBINE write scratch keys too) refused for memory is a typed 503.
  for (const method of ['write', 'remove', 'reset', 'combine', 'among'] as const) {
    const run = store[method] as (...args: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) =>
      run(...args).catch((error: unknown) => {
        throw outOfMemory(conn.name, error);
      });
  }
  return store;
}

/**
 * An `OOM` reply (maxmemory reached under `noeviction`) as a BackendUnavailableError that says
 * what to do; any other error unchanged.
 */
function outOfMemory(backend: string, error: unknown): unknown {
  if (!(error instanceof Error) || !error.message.startsWith('OOM')) return error;
  return new BackendUnavailableError(
    backend,
    `Redis refused a leaderboard write: ${error.message}. The server reached maxmemory with 'noeviction': ` +
      'raise maxmemory, or give leaderboards a server of their own (they must never be evicted).',
    { cause: error },
  );
}
