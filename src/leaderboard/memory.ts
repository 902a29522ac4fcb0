/**
 * The in-memory leaderboard store (the embedded default): one indexable skip list per
 * bucket, so writes, ranks and slices are O(log n) like a Redis sorted set, and ties are
 * ordered exactly as Redis orders them (by member bytes). Dense boards keep a second list
 * of distinct scores, as the Redis driver keeps a second sorted set. Expiry follows the
 * facade's clock (`now` on every call), so windows can be tested on a fake clock.
 */
import { decode, encode, span } from './scoring.js';
import { SkipList } from './skiplist.js';
import type {
  Aggregate,
  BoardShape,
  BucketKeys,
  LeaderboardStore,
  RawEntry,
  Slice,
  WriteOp,
  WriteOutcome,
} from './store.js';

interface Bucket {
  list: SkipList;
  scores: Map<string, number>;
  /** Dense boards: distinct scores (as `stored`, member '') and how many members hold each. */
  distinct: SkipList;
  holders: Map<number, number>;
  /** The last first-achiever sequence number handed out. */
  seq: number;
  expireAt: number | undefined;
}

const newBucket = (): Bucket => ({
  list: new SkipList(),
  scores: new Map(),
  distinct: new SkipList(),
  holders: new Map(),
  seq: 0,
  expireAt: undefined,
});

/** Options of {@link memoryLeaderboardStore}. */
export interface MemoryLeaderboardStoreOptions {
  /** Sweep expired buckets every this many writes. @default 1000 */
  sweepEvery?: number;
}

/**
 * A leaderboard store in this process's memory.
 *
 * @example
 * const store = memoryLeaderboardStore();
 */
export function memoryLeaderboardStore(options: MemoryLeaderboardStoreOptions = {}): LeaderboardStore {
  const buckets = new Map<string, Bucket>();
  const sweepEvery = options.sweepEvery ?? 1000;
  let writes = 0;

  const live = (key: string, now: number): Bucket | undefined => {
    const bucket = buckets.get(key);
    if (bucket?.expireAt !== undefined && bucket.expireAt <= now) {
      buckets.delete(key);
      return undefined;
    }
    return bucket;
  };

  const sweep = (now: number) => {
    for (const [key, bucket] of buckets) {
      if (bucket.expireAt !== undefined && bucket.expireAt <= now) buckets.delete(key);
    }
  };

  /** Position (0 = best) of the element at ascending index `index`. */
  const position = (bucket: Bucket, index: number, shape: BoardShape) =>
    shape.desc ? bucket.list.size - 1 - index : index;

  /** Rank of an element with stored score `stored` at position `pos`, under the board's ranking. */
  const rankAt = (bucket: Bucket, shape: BoardShape, stored: number, pos: number): number => {
    if (shape.ranking === 'ordinal') return pos + 1;
    const score = decode(stored, shape);
    if (shape.ranking === 'competition') {
      const [lo, hi] = span(score, shape);
      const better = shape.desc
        ? bucket.list.size - bucket.list.countBelow(hi, true)
        : bucket.list.countBelow(lo, false);
      return better + 1;
    }
    const better = shape.desc
      ? bucket.distinct.size - bucket.distinct.countBelow(score, true)
      : bucket.distinct.countBelow(score, false);
    return better + 1;
  };

  const hold = (bucket: Bucket, score: number, by: 1 | -1) => {
    const n = (bucket.holders.get(score) ?? 0) + by;
    if (n === 0) {
      bucket.holders.delete(score);
      bucket.distinct.delete(score, '');
    } else {
      if (n === 1 && by === 1) bucket.distinct.insert(score, '');
      bucket.holders.set(score, n);
    }
  };

  const slice = (bucket: Bucket | undefined, shape: BoardShape, start: number, stop: number): Slice => {
    const size = bucket?.list.size ?? 0;
    const last = Math.min(stop, size - 1);
    if (!bucket || start > last) return { start, base: start + 1, entries: [] };
    const entries: RawEntry[] = [];
    let node = bucket.list.at(shape.desc ? size - 1 - start : start);
    for (let pos = start; pos <= last && node; pos++) {
      entries.push({ member: node.member, stored: node.stored });
      node = shape.desc ? node.backward : node.forward[0];
    }
    return { start, base: rankAt(bucket, shape, entries[0].stored, start), entries };
  };

  return {
    async write(keys: BucketKeys, shape: BoardShape, op: WriteOp, now: number): Promise<WriteOutcome> {
      if (++writes % sweepEvery === 0) sweep(now);
      const bucket = live(keys.key, now);
      const oldStored = bucket?.scores.get(op.member);
      const old = oldStored === undefined ? undefined : decode(oldStored, shape);
      const previous = old ?? 0;
      let score = op.mode === 'incr' ? previous + op.value : op.value;
      if (score === 0) score = 0; // -0
      if (op.maxDelta !== undefined && Math.abs(score - previous) > op.maxDelta)
        return { ok: false, reason: 'max-delta', score, previous };
      if (!Number.isFinite(score) || (shape.radix > 0 && Math.abs(score) > shape.maxScore))
        return { ok: false, reason: 'range', score, previous };
      const seq = (bucket?.seq ?? 0) + 1;
      if (shape.radix > 0 && seq >= shape.radix) return { ok: false, reason: 'sequence', score, previous };

      const target = bucket ?? newBucket();
      if (!bucket) buckets.set(keys.key, target);
      if (shape.radix > 0) target.seq = seq;
      const stored = encode(score, seq, shape);
      if (oldStored !== undefined) target.list.delete(oldStored, op.member);
      target.list.insert(stored, op.member);
      target.scores.set(op.member, stored);
      if (shape.ranking === 'dense' && old !== score) {
        if (old !== undefined) hold(target, old, -1);
        hold(target, score, 1);
      }
      if (keys.expireAt !== undefined) target.expireAt = keys.expireAt;
      return { ok: true, score };
    },

    async remove(keys, shape, member, now) {
      const bucket = live(keys.key, now);
      const stored = bucket?.scores.get(member);
      if (!bucket || stored === undefined) return false;
      bucket.list.delete(stored, member);
      bucket.scores.delete(member);
      if (shape.ranking === 'dense') hold(bucket, decode(stored, shape), -1);
      return true;
    },

    async score(keys, member, now) {
      return live(keys.key, now)?.scores.get(member);
    },

    async rank(keys, shape, member, now) {
      const bucket = live(keys.key, now);
      const stored = bucket?.scores.get(member);
      if (!bucket || stored === undefined) return undefined;
      return rankAt(bucket, shape, stored, position(bucket, bucket.list.rankOf(stored, member), shape));
    },

    async range(keys, shape, start, stop, now) {
      return slice(live(keys.key, now), shape, start, stop);
    },

    async around(keys, shape, member, radius, now) {
      const bucket = live(keys.key, now);
      const stored = bucket?.scores.get(member);
      if (!bucket || stored === undefined) return { start: 0, base: 1, entries: [] };
      const pos = position(bucket, bucket.list.rankOf(stored, member), shape);
      return slice(bucket, shape, Math.max(0, pos - radius), pos + radius);
    },

    async count(keys, now) {
      return live(keys.key, now)?.list.size ?? 0;
    },

    async reset(keys) {
      buckets.delete(keys.key);
    },

    async combine(dest, sources, shape, aggregate: Aggregate, ttlMs, now) {
      const merged = new Map<string, number>();
      for (const keys of sources) {
        const bucket = live(keys.key, now);
        if (!bucket) continue;
        for (const [member, stored] of bucket.scores) {
          const had = merged.get(member);
          merged.set(
            member,
            had === undefined
              ? stored
              : aggregate === 'sum'
                ? had + stored
                : aggregate === 'max'
                  ? Math.max(had, stored)
                  : Math.min(had, stored),
          );
        }
      }
      buckets.delete(dest.key);
      if (merged.size === 0) return 0;
      const out = newBucket();
      out.expireAt = now + ttlMs;
      for (const [member, stored] of merged) {
        out.list.insert(stored, member);
        out.scores.set(member, stored);
        if (shape.ranking === 'dense') hold(out, decode(stored, shape), 1);
      }
      buckets.set(dest.key, out);
      return merged.size;
    },

    async among(keys, shape, members, limit, now) {
      const bucket = live(keys.key, now);
      if (!bucket) return [];
      const found: Array<RawEntry & { index: number }> = [];
      for (const member of new Set(members)) {
        const stored = bucket.scores.get(member);
        if (stored !== undefined) found.push({ member, stored, index: bucket.list.rankOf(stored, member) });
      }
      found.sort((a, b) => (shape.desc ? b.index - a.index : a.index - b.index));
      return found.slice(0, limit).map(({ member, stored }) => ({ member, stored }));
    },

    async close() {
      buckets.clear();
    },
  };
}
