/**
 * The store behind `larder.leaderboard(...)`: Redis on `leaderboards.location` (default: the
 * default connection), else one in-memory store per Larder, shared by every board.
 */
import type { Larder } from '../larder.js';
import { memoryLeaderboardStore } from './memory.js';
import { redisLeaderboardStore } from './redis.js';
import type { LeaderboardStore } from './store.js';

/** The leaderboard store for `larder`'s config. */
export function leaderboardStoreFor(larder: Larder): LeaderboardStore {
  const location = larder.config.leaderboards.location;
  return location
    ? redisLeaderboardStore({ connection: larder.connection(location) })
    : memoryLeaderboardStore();
}
