/**
 * `larder.metrics`: the sink every instrumented operation reports to (one per Larder), and
 * what reads it — a snapshot for the dashboard and the CLI, queue depths from the broker,
 * and the Prometheus exposition. Counting is plain JavaScript on the hot path; prom-client
 * only reads the counters when it is scraped.
 */
import type { Registry } from 'prom-client';
import { within } from '../within.js';
import { OpTimer, OpTimers } from './op-timer.js';
import { createRegistry, PROMETHEUS_CONTENT_TYPE } from './prometheus.js';
import type {
  CacheMetrics,
  MetricsSnapshot,
  PubSubMetrics,
  QueueDepth,
  RateLimitMetrics,
  SessionMetrics,
  TaskMetrics,
} from './types.js';

/** A cache's own counters (`cache.stats`), read at snapshot time rather than copied on each call. */
export type CacheStatsSource = Omit<CacheMetrics, 'hitRatio' | 'ops'>;

/** The cache operations that are timed, each with its timer (a fixed shape for the hot path). */
export const CACHE_OPS = [
  'get',
  'getEntry',
  'getMany',
  'set',
  'setMany',
  'add',
  'delete',
  'deleteMany',
  'has',
  'incr',
  'touch',
  'getOrSet',
  'ttl',
  'persist',
  'clear',
  'deletePattern',
  'invalidateTags',
] as const;
export type CacheOp = (typeof CACHE_OPS)[number];
/** A cache's timers by operation. */
export type CacheTimers = Readonly<Record<CacheOp, OpTimer>>;

/** The session counters the session store wrapper increments. */
export type SessionCounters = Omit<SessionMetrics, 'ops'> & { readonly ops: OpTimers };
/** One limiter's counters. */
export type RateLimitCounters = Omit<RateLimitMetrics, 'ops'> & {
  readonly consume: OpTimer;
  readonly peek: OpTimer;
};
/** What reports task outcomes to the metrics (both task drivers take one). */
export interface TaskCounter {
  count(task: string, outcome: keyof TaskMetrics, n?: number): void;
}
/** Where queue depths come from (`larder.tasks`). */
export interface QueueDepthSource {
  queueDepths(): Promise<Record<string, QueueDepth>>;
}

/** How long `gauges()` waits for the broker's queue counts before leaving them out. */
const GAUGES_WAIT_MS = 2000;

/** What `larder.metrics.gauges()` resolves. */
export interface Gauges {
  queues: Record<string, QueueDepth>;
}

/** Options of {@link Metrics}. */
export interface MetricsOptions {
  /** Off: nothing is counted or timed; the exposition has no samples. @default true */
  enabled?: boolean;
  /** Add prom-client's default process metrics (CPU, memory, event loop lag) to the registry. @default false */
  defaultMetrics?: boolean;
}

/**
 * The counters of one Larder (`larder.metrics`). Counters only grow; subtract two
 * snapshots for a rate.
 *
 * @example
 * const before = larder.metrics.snapshot();
 * await larder.cache().get('k');
 * const after = larder.metrics.snapshot();
 * after.caches.default.ops.get.count - (before.caches.default?.ops.get?.count ?? 0); // 1
 * res.type(larder.metrics.contentType).send(await larder.metrics.prometheus());
 */
export class Metrics {
  /** False with `metrics: false` in the config: nothing is counted. */
  readonly enabled: boolean;
  /** When counting began (epoch ms). */
  readonly since = Date.now();
  /** The exposition's content type (Prometheus text format 0.0.4). */
  readonly contentType = PROMETHEUS_CONTENT_TYPE;
  readonly #options: MetricsOptions;
  readonly #caches = new Map<string, { sources: CacheStatsSource[]; ops: OpTimers; timers: CacheTimers }>();
  readonly #limiters = new Map<string, RateLimitCounters>();
  readonly #tasks = new Map<string, TaskMetrics>();
  #sessions: SessionCounters | undefined;
  readonly #pubsub: PubSubMetrics = { published: 0, delivered: 0, events: 0, sseClients: 0 };
  #queueSource: QueueDepthSource | undefined;
  #registry: Registry | undefined;

  constructor(options: MetricsOptions = {}) {
    this.#options = options;
    this.enabled = options.enabled ?? true;
  }

  /**
   * Every counter now, as a copy: caches by name, sessions, limiters by name, tasks by
   * name, pub/sub. Synchronous and cheap (no I/O).
   */
  snapshot(): MetricsSnapshot {
    const caches: Record<string, CacheMetrics> = {};
    for (const [name, cache] of this.#caches) {
      const sum = { hits: 0, localHits: 0, staleHits: 0, misses: 0, errors: 0, decodeErrors: 0 };
      for (const s of cache.sources) {
        sum.hits += s.hits;
        sum.localHits += s.localHits;
        sum.staleHits += s.staleHits;
        sum.misses += s.misses;
        sum.errors += s.errors;
        sum.decodeErrors += s.decodeErrors;
      }
      const lookups = sum.hits + sum.misses;
      caches[name] = { ...sum, hitRatio: lookups === 0 ? null : sum.hits / lookups, ops: cache.ops.stats() };
    }
    const s = this.#sessions;
    const sessions: SessionMetrics = s
      ? {
          created: s.created,
          loads: s.loads,
          writes: s.writes,
          deleted: s.deleted,
          errors: s.errors,
          ops: s.ops.stats(),
        }
      : { created: 0, loads: 0, writes: 0, deleted: 0, errors: 0, ops: {} };
    const rateLimits: Record<string, RateLimitMetrics> = {};
    for (const [name, l] of this.#limiters) {
      const ops: RateLimitMetrics['ops'] = {};
      if (l.consume.used) ops.consume = l.consume.stats();
      if (l.peek.used) ops.peek = l.peek.stats();
      rateLimits[name] = { allowed: l.allowed, denied: l.denied, degraded: l.degraded, ops };
    }
    const tasks: Record<string, TaskMetrics> = {};
    for (const [name, t] of this.#tasks) tasks[name] = { ...t };
    return {
      at: Date.now(),
      since: this.since,
      caches,
      sessions,
      rateLimits,
      tasks,
      pubsub: { ...this.#pubsub },
    };
  }

  /**
   * Queue depths by queue name, asked of the broker now (BullMQ job counts of the queues
   * of the defined tasks). Empty on the eager driver or before `larder.tasks` is used, and
   * when the broker fails or does not answer within `waitMs`: BullMQ's counts never settle
   * while the broker is down, and a scrape or a dashboard frame must not hang on them.
   */
  gauges(waitMs = GAUGES_WAIT_MS): Promise<Gauges> {
    const source = this.#queueSource;
    if (!this.enabled || source === undefined) return Promise.resolve({ queues: {} });
    const asked = source.queueDepths().then(
      (queues): Gauges => ({ queues }),
      (): Gauges => ({ queues: {} }),
    );
    return within(asked, waitMs, (): Gauges => ({ queues: {} }));
  }

  /**
   * A prom-client `Registry` whose metrics read these counters when scraped. Register it
   * beside your own (`Registry.merge([larder.metrics.registry, register])`) or serve
   * `prometheus()`.
   */
  get registry(): Registry {
    this.#registry ??= createRegistry(this, { defaultMetrics: this.#options.defaultMetrics === true });
    return this.#registry;
  }

  /**
   * The Prometheus text exposition of every counter (`larder_cache_operations_total`, …).
   *
   * @example app.get('/metrics', async (_req, res) => res.type(larder.metrics.contentType).send(await larder.metrics.prometheus()));
   */
  prometheus(): Promise<string> {
    return this.registry.metrics();
  }

  /** @internal The timers of cache `name`, counting `stats` in; undefined when metrics are off. */
  cacheTimers(name: string, stats: CacheStatsSource): CacheTimers | undefined {
    if (!this.enabled) return undefined;
    let cache = this.#caches.get(name);
    if (cache === undefined) {
      const ops = new OpTimers();
      const timers = Object.fromEntries(CACHE_OPS.map((op) => [op, ops.get(op)])) as Record<CacheOp, OpTimer>;
      cache = { sources: [], ops, timers: Object.freeze(timers) };
      this.#caches.set(name, cache);
    }
    // A regional twin of a cache shares its name: their counters add up.
    if (!cache.sources.includes(stats)) cache.sources.push(stats);
    return cache.timers;
  }

  /** @internal The session counters; undefined when metrics are off. */
  sessions(): SessionCounters | undefined {
    if (!this.enabled) return undefined;
    this.#sessions ??= { created: 0, loads: 0, writes: 0, deleted: 0, errors: 0, ops: new OpTimers() };
    return this.#sessions;
  }

  /** @internal The counters of limiter `name`; undefined when metrics are off. */
  rateLimiter(name: string): RateLimitCounters | undefined {
    if (!this.enabled) return undefined;
    let limiter = this.#limiters.get(name);
    if (limiter === undefined) {
      limiter = { allowed: 0, denied: 0, degraded: 0, consume: new OpTimer(), peek: new OpTimer() };
      this.#limiters.set(name, limiter);
    }
    return limiter;
  }

  /** @internal What the task drivers report to; undefined when metrics are off. */
  taskCounter(): TaskCounter | undefined {
    if (!this.enabled) return undefined;
    return {
      count: (task, outcome, n = 1) => {
        let counts = this.#tasks.get(task);
        if (counts === undefined) {
          counts = { enqueued: 0, succeeded: 0, failed: 0, retried: 0 };
          this.#tasks.set(task, counts);
        }
        counts[outcome] += n;
      },
    };
  }

  /** @internal Where `gauges()` asks for queue depths. */
  watchQueues(source: QueueDepthSource): void {
    this.#queueSource = source;
  }

  /** @internal The pub/sub counters (the SSE gauge included); undefined when metrics are off. */
  pubsub(): PubSubMetrics | undefined {
    return this.enabled ? this.#pubsub : undefined;
  }
}
