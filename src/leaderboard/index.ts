/**
 * @module larder/leaderboard — sorted-set leaderboards (DESIGN §4.7): ordinal, dense and
 * competition ranks, first-achiever ties, daily/weekly/monthly windows, combined and
 * friends boards, on Redis (one round trip per call, Cluster-safe) or in memory.
 *
 * @example
 * import { createLarder } from 'larder';
 * const larder = createLarder({ redis: process.env.REDIS_URL });
 * const board = larder.leaderboard('best-sellers', { window: 'weekly' });
 * await board.incr('sku-42', 2);
 * console.log(await board.top(10));
 */
export { LeaderboardError } from '../errors.js';
export { type CombineOptions, Leaderboard, type LeaderboardOptions, type Ties } from './leaderboard.js';
export { type MemoryLeaderboardStoreOptions, memoryLeaderboardStore } from './memory.js';
export { type RedisLeaderboardStoreOptions, redisLeaderboardStore } from './redis.js';
export { DEFAULT_MAX_SCORE, type LeaderboardEntry, radixFor } from './scoring.js';
export type {
  Aggregate,
  BoardShape,
  BucketKeys,
  LeaderboardStore,
  Ranking,
  RawEntry,
  Slice,
  WriteOp,
  WriteOutcome,
} from './store.js';
export { type Bucket, bucketOf, type LeaderboardWindow } from './windows.js';
