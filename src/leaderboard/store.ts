/**
 * The leaderboard store contract: what a driver (memory, Redis) does for the `Leaderboard`
 * facade. The facade owns policy — names, validation, windows, the first-achiever encoding,
 * turning a slice into ranked entries — and a store only keeps sorted sets and answers each
 * call atomically, in one round trip.
 *
 * Scores cross this contract *stored*: on a first-achiever board a stored score packs the
 * score and its tie-break (see `scoring.ts`); elsewhere it is the score itself.
 */

/** How ties share a rank: 1,2,3,4 (`ordinal`), 1,2,2,3 (`dense`), 1,2,2,4 (`competition`). */
export type Ranking = 'ordinal' | 'dense' | 'competition';

/** What a store needs to know about a board to rank it. Fixed for a board's life. */
export interface BoardShape {
  /** Higher scores rank first (`order: 'desc'`, the default). */
  desc: boolean;
  /** First-achiever radix: stored = score × radix + tie-break; 0 = plain scores. */
  radix: number;
  /** Largest |score| a first-achiever board stores (0 when radix is 0). */
  maxScore: number;
  ranking: Ranking;
}

/** The keys of one bucket of a board; they share one `{hash tag}`. */
export interface BucketKeys {
  /** The sorted set of members. */
  key: string;
  /** Dense boards only: the sorted set of distinct scores. */
  aux: string;
  /** First-achiever boards only: the tie-break sequence. */
  seq: string;
  /** When the bucket's keys expire, epoch ms (windows); undefined = never. */
  expireAt?: number;
}

/** One write: `set` the score, or `incr` it by `value`. */
export interface WriteOp {
  mode: 'set' | 'incr';
  member: string;
  value: number;
  /** Refuse a write that moves the score by more than this (a new member starts at 0). */
  maxDelta?: number;
}

/** What a write did: the new score, or why nothing was written. */
export type WriteOutcome =
  | { ok: true; score: number }
  | {
      ok: false;
      /** `max-delta`: over maxDelta; `range`: the new score is out of range; `sequence`: tie-breaks used up. */
      reason: 'max-delta' | 'range' | 'sequence';
      /** The score the write would have produced. */
      score: number;
      /** The member's score before (0 when new). */
      previous: number;
    };

/** A member and its stored score. */
export interface RawEntry {
  member: string;
  stored: number;
}

/** A run of consecutive entries, best first, with what the facade needs to rank them. */
export interface Slice {
  /** 0-based position of `entries[0]` on the board (best = 0). */
  start: number;
  /** The rank of `entries[0]` under the board's ranking. */
  base: number;
  entries: RawEntry[];
}

/**
 * A leaderboard driver. Every method is atomic and, on Redis, one round trip. `now` is the
 * facade's clock (epoch ms): the memory store treats keys whose `expireAt` has passed as gone.
 */
export interface LeaderboardStore {
  /** Applies one write (and the bucket's expiry) or nothing at all. */
  write(keys: BucketKeys, shape: BoardShape, op: WriteOp, now: number): Promise<WriteOutcome>;
  /** Removes `member`; true if it was there. */
  remove(keys: BucketKeys, shape: BoardShape, member: string, now: number): Promise<boolean>;
  /** The member's stored score, or undefined. */
  score(keys: BucketKeys, member: string, now: number): Promise<number | undefined>;
  /** The member's rank under `shape.ranking`, or undefined when absent. */
  rank(keys: BucketKeys, shape: BoardShape, member: string, now: number): Promise<number | undefined>;
  /** Positions `start`..`stop` (0-based, inclusive, best first). */
  range(keys: BucketKeys, shape: BoardShape, start: number, stop: number, now: number): Promise<Slice>;
  /** Up to `radius` positions either side of `member` (clipped at the ends); empty when absent. */
  around(keys: BucketKeys, shape: BoardShape, member: string, radius: number, now: number): Promise<Slice>;
  /** Number of members. */
  count(keys: BucketKeys, now: number): Promise<number>;
  /** Deletes the bucket (members, distinct scores, sequence). */
  reset(keys: BucketKeys): Promise<void>;
  /**
   * Stores the union of `sources` in `dest` (scores summed, or the max or min), for `ttlMs`;
   * returns its member count.
   */
  combine(
    dest: BucketKeys,
    sources: readonly BucketKeys[],
    shape: BoardShape,
    aggregate: Aggregate,
    ttlMs: number,
    now: number,
  ): Promise<number>;
  /** The entries of `members` that are on the board, best first, at most `limit`. */
  among(
    keys: BucketKeys,
    shape: BoardShape,
    members: readonly string[],
    limit: number,
    now: number,
  ): Promise<RawEntry[]>;
  /** Forgets everything (closing the Larder). Optional: a no-op for Redis. */
  close?(): Promise<void>;
}

/** How `combine` merges one member's scores across buckets. */
export type Aggregate = 'sum' | 'max' | 'min';
