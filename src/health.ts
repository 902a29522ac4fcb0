/**
 * What `larder.health()` decides beyond PINGs: which configured capability uses which Redis
 * location, and so which connections serving needs. A connection is **required** unless
 * everything configured on its location degrades by design — caches with `ignoreErrors`
 * (reads become misses) and rate limits (their insurance limiter counts in-process). Sessions,
 * tasks, pub/sub, leaderboards and caches without `ignoreErrors` are required, and so is a
 * connection no configured capability names (code opened it; larder cannot know its use).
 */
import type { ResolvedConfig } from './config/index.js';
import type { RedisLocation } from './config/types.js';
import type { ConnectionHealth } from './redis/connection.js';

/** One configured use of a Redis location. */
export interface LocationUse {
  /** `cache:<name>`, `sessions`, `rateLimit:<name>`, `tasks`, `pubsub`, `leaderboards`, `default`. */
  capability: string;
  location: RedisLocation;
  /** False when the capability keeps serving while this location is down. */
  required: boolean;
}

/**
 * Every Redis location the config names, with who uses it and whether serving needs it.
 *
 * @example
 * for (const use of configuredLocations(larder.config)) console.log(use.capability, use.required);
 */
export function configuredLocations(config: ResolvedConfig): LocationUse[] {
  const uses: LocationUse[] = [];
  const add = (capability: string, location: RedisLocation | undefined, required: boolean) => {
    if (location) uses.push({ capability, location, required });
  };
  add('default', config.redis, false);
  for (const cache of Object.values(config.caches)) {
    add(`cache:${cache.name}`, cache.location, !cache.ignoreErrors);
    // Other regions' servers serve `forRegion()` writes, not this process's requests.
    for (const region of Object.values(cache.regions ?? {})) {
      if (region !== cache.location) add(`cache:${cache.name}`, region, false);
    }
  }
  const sessions = config.sessions;
  if (sessions.engine === 'redis') add('sessions', sessions.location, true);
  if (sessions.engine === 'cache' && sessions.cache)
    add('sessions', config.caches[sessions.cache]?.location, true);
  for (const limit of Object.values(config.rateLimits)) add(`rateLimit:${limit.name}`, limit.location, false);
  if (config.tasks.driver === 'bullmq') add('tasks', config.tasks.broker, true);
  add('pubsub', config.pubsub.location, true);
  add('leaderboards', config.leaderboards.location, true);
  return uses;
}

/**
 * `required` and `usedBy` for one connection, from the configured uses of its location
 * (`identity` is `larder.connections.identity`).
 *
 * @example
 * const extra = connectionUse(conn.location, configuredLocations(config), (l) => larder.connections.identity(l));
 */
export function connectionUse(
  location: RedisLocation,
  uses: readonly LocationUse[],
  identity: (location: RedisLocation) => string,
): Pick<ConnectionHealth, 'required' | 'usedBy'> {
  const id = identity(location);
  const mine = uses.filter((u) => identity(u.location) === id);
  const usedBy = [...new Set(mine.map((u) => u.capability))];
  const named = mine.filter((u) => u.capability !== 'default');
  return { required: named.length === 0 || named.some((u) => u.required), usedBy };
}

/**
 * The report's status: `down` when a required connection is down (the health route answers
 * 503), `degraded` when only optional ones are, else `ok`.
 *
 * @example overallStatus(report.connections) // 'ok'
 */
export function overallStatus(connections: readonly ConnectionHealth[]): 'ok' | 'degraded' | 'down' {
  const down = connections.filter((c) => c.status === 'down');
  if (down.length === 0) return 'ok';
  return down.some((c) => c.required !== false) ? 'down' : 'degraded';
}
