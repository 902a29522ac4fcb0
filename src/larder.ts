/**
 * The `Larder` object: one validated config, one connection budget, and every capability
 * built on them. `createLarder()` with no arguments is the embedded default (in-memory
 * drivers); with a Redis URL (config `redis`, `LARDER_REDIS_URL` or `REDIS_URL`) every
 * capability without a location of its own runs on that server.
 */

import type { Cache } from './cache/cache.js';
import { createCache } from './cache/create.js';
import { type LarderConfig, type ResolvedConfig, resolveConfig } from './config/index.js';
import { redactUrl } from './config/location.js';
import type { RedisLocation } from './config/types.js';
import { BackendUnavailableError, ConfigError } from './errors.js';
import { configuredLocations, connectionUse, overallStatus } from './health.js';
import { invalidatePage } from './http/page-cache.js';
import { leaderboardStoreFor } from './leaderboard/create.js';
import { Leaderboard, type LeaderboardOptions } from './leaderboard/leaderboard.js';
import type { LeaderboardStore } from './leaderboard/store.js';
import { Metrics } from './metrics/metrics.js';
import { createRateLimiter, type RateLimiterSpec } from './ratelimit/create.js';
import type { RateLimiter } from './ratelimit/limiter.js';
import { createPubSub } from './realtime/create.js';
import type { PubSub } from './realtime/pubsub.js';
import type { ConnectionHealth, RedisConnection } from './redis/connection.js';
import { ConnectionManager, type ConnectionRole } from './redis/manager.js';
import { SessionManager } from './session/manager.js';
import { Tasks } from './tasks/tasks.js';

/** Which driver each capability uses: `memory` or the redacted Redis location. */
export interface BackendSummary {
  [capability: string]: string;
}

/** What `larder.health()` returns. */
export interface HealthReport {
  /**
   * `ok` when every connection answers; `down` when a required one does not (the health
   * route answers 503); `degraded` when only optional ones do not (caches with
   * `ignoreErrors`, rate limits: they keep serving). Each connection says `required`.
   */
  status: 'ok' | 'degraded' | 'down';
  /** True when no capability uses Redis (the embedded default). */
  embedded: boolean;
  backends: BackendSummary;
  connections: ConnectionHealth[];
}

/**
 * Everything larder offers, from one config.
 *
 * @example
 * const larder = createLarder({ redis: 'redis://127.0.0.1:6379/0' });
 * console.log(await larder.health());
 * await larder.close();
 */
export class Larder {
  /** The validated config, defaults filled in, durations in milliseconds. */
  readonly config: ResolvedConfig;
  /** Every Redis connection this Larder opened (shared per location). */
  readonly connections: ConnectionManager;
  /**
   * The configured caches by name, created on first access (`larder.caches.default`).
   * Django's `caches['default']`.
   */
  readonly caches: Readonly<Record<string, Cache>>;
  #cacheInstances = new Map<string, Cache>();
  #sessions: SessionManager | undefined;
  #limiters = new Map<string, RateLimiter>();
  #pubsub: PubSub | undefined;
  #leaderboards: LeaderboardStore | undefined;
  #tasks: Tasks | undefined;
  #metrics: Metrics | undefined;
  #closed = false;

  constructor(config: ResolvedConfig) {
    this.config = config;
    this.connections = new ConnectionManager((level, message) => this.log(level, message));
    const caches: Record<string, Cache> = {};
    for (const name of Object.keys(config.caches)) {
      Object.defineProperty(caches, name, { enumerable: true, get: () => this.cache(name) });
    }
    this.caches = Object.freeze(caches);
    if (config.embedded) {
      this.log(
        'info',
        'larder: no Redis configured (config.redis, LARDER_REDIS_URL or REDIS_URL); using in-memory drivers. ' +
          'Fine for one process; set REDIS_URL to share state between processes.',
      );
    }
  }

  /**
   * The shared connection to `location` (default: the default connection) for a role.
   * Capabilities call this; applications rarely need to.
   */
  connection(
    location: RedisLocation | undefined = this.config.redis,
    role: ConnectionRole = 'commands',
  ): RedisConnection {
    if (this.#closed)
      throw new BackendUnavailableError('larder', 'this Larder was closed; create a new one.');
    if (!location) {
      throw new BackendUnavailableError(
        'larder',
        'no Redis location is configured. Pass { redis: url } to createLarder or set REDIS_URL.',
      );
    }
    return this.connections.get(location, role);
  }

  /**
   * The cache named `name` (default `'default'`), created on first use.
   *
   * @example
   * await larder.cache().set('greeting', 'hello', { timeout: 60 });
   * await larder.cache('local').get('greeting');
   */
  cache(name = 'default'): Cache {
    let cache = this.#cacheInstances.get(name);
    if (cache) return cache;
    // hasOwn: a name like 'constructor' must not find Object.prototype's.
    const config = Object.hasOwn(this.config.caches, name) ? this.config.caches[name] : undefined;
    if (!config) {
      throw new ConfigError(
        `caches.${name}`,
        name,
        `one of the configured caches: ${Object.keys(this.config.caches)
          .map((n) => `'${n}'`)
          .join(', ')}`,
      );
    }
    cache = createCache(this, config);
    this.#cacheInstances.set(name, cache);
    return cache;
  }

  /**
   * Counters and latency histograms of every operation (`metrics: false` in the config
   * turns them off): a snapshot for dashboards, queue depths, and the Prometheus exposition.
   * Still readable after `close()`.
   *
   * @example
   * const { caches } = larder.metrics.snapshot();
   * console.log(caches.default?.hitRatio);
   * const text = await larder.metrics.prometheus(); // larder_cache_operations_total{cache="default",op="get"} 12
   */
  get metrics(): Metrics {
    this.#metrics ??= new Metrics(this.config.metrics);
    return this.#metrics;
  }

  /**
   * Sessions on the configured engine (DESIGN §4.3), created on first use: the adapters'
   * `session()` middleware opens them per request; `forUser(id)` lists and revokes a
   * user's sessions.
   *
   * @example
   * for (const device of await larder.sessions.forUser('42').list()) console.log(device.userAgent);
   */
  get sessions(): SessionManager {
    if (this.#closed)
      throw new BackendUnavailableError('larder', 'this Larder was closed; create a new one.');
    this.#sessions ??= new SessionManager(this);
    return this.#sessions;
  }

  /**
   * Pub/sub and event streams (DESIGN §4.6), created on first use: Redis on
   * `pubsub.location` (default: the default connection), else in this process only.
   *
   * @example
   * const stop = await larder.pubsub.subscribe('orders', (order) => console.log(order));
   * await larder.pubsub.publish('orders', { id: 7 });
   * await larder.pubsub.sendEvent('orders', { id: 7 }, { event: 'bought' }); // for web.events()
   */
  get pubsub(): PubSub {
    if (this.#closed)
      throw new BackendUnavailableError('larder', 'this Larder was closed; create a new one.');
    this.#pubsub ??= createPubSub(this);
    return this.#pubsub;
  }

  /**
   * A rate limiter (DESIGN §4.4): a configured limit by name, several names checked and
   * consumed together, or a limiter given in code. Named ones are created once.
   *
   * @example
   * const api = larder.rateLimiter('api');                       // config.rateLimits.api
   * const both = larder.rateLimiter(['perSecond', 'perHour']);   // all or nothing, one round trip
   * const login = larder.rateLimiter({ name: 'login', limit: 5, window: '15m' });
   * const { allowed, retryAfter } = await api.consume(`ip:${ip}`);
   */
  rateLimiter(spec: string | readonly string[] | RateLimiterSpec): RateLimiter {
    if (this.#closed)
      throw new BackendUnavailableError('larder', 'this Larder was closed; create a new one.');
    if (typeof spec !== 'string' && !Array.isArray(spec))
      return createRateLimiter(this, spec as RateLimiterSpec);
    const id = typeof spec === 'string' ? spec : spec.join('\u0000');
    let limiter = this.#limiters.get(id);
    if (!limiter) {
      limiter = createRateLimiter(this, spec);
      this.#limiters.set(id, limiter);
    }
    return limiter;
  }

  /**
   * Tasks (DESIGN §4.5): Celery's shape on BullMQ with `tasks.broker` (or the default
   * connection), else in this process (the eager driver). Created on first use.
   *
   * @example
   * const receipt = larder.tasks.define('receipt', sendReceipt, { retries: 3 });
   * const result = receipt.delay({ orderId: 42 });
   */
  get tasks(): Tasks {
    if (this.#closed)
      throw new BackendUnavailableError('larder', 'this Larder was closed; create a new one.');
    this.#tasks ??= new Tasks(this);
    return this.#tasks;
  }

  /**
   * A leaderboard (DESIGN §4.7) on `leaderboards.location` (default: the default connection),
   * else in memory. Cheap to call: boards of one name share their data; open a board with
   * the same options everywhere.
   *
   * @example
   * const best = larder.leaderboard('best-sellers', { window: 'weekly' });
   * await best.incr('sku-42', 2);
   * const top10 = await best.top(10); // [{ member, score, rank }, …]
   */
  leaderboard(name: string, options: LeaderboardOptions = {}): Leaderboard {
    if (this.#closed)
      throw new BackendUnavailableError('larder', 'this Larder was closed; create a new one.');
    this.#leaderboards ??= leaderboardStoreFor(this);
    return new Leaderboard(name, options, this.#leaderboards);
  }

  /**
   * Deletes the cached page for an absolute `url` as a client sending `headers` would find
   * it (DESIGN §4.2's `invalidatePage(url, { headers })`, bound to this Larder).
   *
   * @example await larder.invalidatePage('https://shop.example/products/eu', { headers: { cookie: 'region=eu' } });
   */
  invalidatePage(
    url: string,
    options: { headers?: Record<string, string>; cache?: string; keyPrefix?: string } = {},
  ): Promise<boolean> {
    return invalidatePage(this, url, options);
  }

  /** Which driver each capability runs on. */
  backends(): BackendSummary {
    const describe = (loc: RedisLocation | undefined, fallback = 'memory') =>
      loc ? (loc.kind === 'external' ? 'redis (external client)' : `redis ${redactUrl(loc)}`) : fallback;
    const out: BackendSummary = {};
    for (const [name, cache] of Object.entries(this.config.caches)) {
      out[`cache:${name}`] =
        cache.backend === 'redis' || cache.backend === 'tiered'
          ? `${cache.backend} ${describe(cache.location).replace(/^redis /, '')}`
          : cache.backend;
    }
    out.sessions =
      this.config.sessions.engine === 'redis'
        ? describe(this.config.sessions.location)
        : this.config.sessions.engine;
    out.rateLimits = describe(this.config.redis);
    out.tasks =
      this.config.tasks.driver === 'bullmq'
        ? `bullmq ${describe(this.config.tasks.broker).replace(/^redis /, '')}`
        : 'eager (in-process)';
    out.pubsub = describe(this.config.pubsub.location);
    out.leaderboards = describe(this.config.leaderboards.location);
    return out;
  }

  /**
   * Checks every connection with a PING — every configured location's, connecting those
   * not used yet — and reports, per connection, up/down, round-trip time, topology, its
   * servers, and whether serving needs it (`required`; see `HealthReport.status`).
   *
   * @example
   * const report = await larder.health();
   * if (report.status === 'down') console.error(report.connections.filter((c) => c.status === 'down'));
   */
  async health(): Promise<HealthReport> {
    const uses = configuredLocations(this.config);
    if (!this.#closed) for (const use of uses) this.connection(use.location);
    const identity = (location: RedisLocation) => this.connections.identity(location);
    const connections = await this.connections.health((c) => connectionUse(c.location, uses, identity));
    return {
      status: overallStatus(connections),
      embedded: this.config.embedded,
      backends: this.backends(),
      connections,
    };
  }

  /** Logs through the configured logger (`logger: false` silences larder). */
  log(level: 'info' | 'warn' | 'error', message: string): void {
    const logger = this.config.logger;
    if (logger) logger[level](message);
  }

  /** True once `close()` was called: long-lived streams (the dashboard's) end themselves. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Drains and quits every connection. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#tasks?.close();
    await this.#sessions?.close();
    await this.#pubsub?.close();
    await this.#leaderboards?.close?.();
    await Promise.all([...this.#cacheInstances.values()].map((c) => c.close()));
    await this.connections.close();
  }
}

/**
 * Creates a Larder from a config (DESIGN §3), validated once: a wrong field throws a
 * `ConfigError` that names the path, the value and what is accepted.
 *
 * @example
 * const larder = createLarder();                                  // in-memory, or REDIS_URL
 * const shared = createLarder({ redis: 'redis://127.0.0.1:6379' }); // everything on Redis
 */
export function createLarder(config?: LarderConfig, env: NodeJS.ProcessEnv = process.env): Larder {
  return new Larder(resolveConfig(config, env));
}
