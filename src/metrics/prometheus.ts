/**
 * The Prometheus exposition of a `Metrics`: a prom-client `Registry` whose metrics are
 * collectors that read the counters when scraped (prom-client's metric `get()` shape), so
 * nothing on the hot path calls prom-client. Names follow Prometheus conventions: base
 * units (seconds), `_total` on counters, labels for the cache, operation, limiter, task.
 */
import { collectDefaultMetrics, type Metric, Registry } from 'prom-client';
import type { Gauges, Metrics } from './metrics.js';
import { LATENCY_BUCKETS_MS, type MetricsSnapshot, type OpStats } from './types.js';

/** Prometheus text format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

type Labels = Record<string, string>;
interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}
type Kind = 'counter' | 'gauge' | 'histogram';

/** The `le` label of each bucket, in seconds, and +Inf. */
const LE = [...LATENCY_BUCKETS_MS.map((ms) => String(ms / 1000)), '+Inf'];

/** What one scrape reads: a snapshot, and the queue depths when a metric asks for them. */
interface Scrape {
  snapshot: MetricsSnapshot;
  gauges(): Promise<Gauges>;
}

/**
 * One metric read from the counters at scrape time. prom-client's registry only calls
 * `get()` (and `reset()` from `resetMetrics()`, which has nothing to reset here).
 */
class CollectedMetric {
  readonly aggregator = 'sum';
  constructor(
    public name: string,
    readonly help: string,
    readonly type: Kind,
    readonly scrape: () => Scrape | undefined,
    readonly read: (scrape: Scrape) => Sample[] | Promise<Sample[]>,
  ) {}

  async get(): Promise<{ name: string; help: string; type: Kind; aggregator: string; values: Sample[] }> {
    const scrape = this.scrape();
    const values = scrape === undefined ? [] : await this.read(scrape);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {}
}

/** The histogram samples of `ops` under `name`: cumulative buckets, `_sum` in seconds, `_count`. */
function histogram(name: string, labels: Labels, stats: OpStats): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i < LE.length; i++) {
    cumulative += stats.buckets[i] ?? 0;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: LE[i]! }, value: cumulative });
  }
  out.push({ metricName: `${name}_sum`, labels, value: stats.sumMs / 1000 });
  out.push({ metricName: `${name}_count`, labels, value: stats.count });
  return out;
}

/** Every metric larder exposes, as [name, help, type, read]. */
function definitions(): Array<[string, string, Kind, (s: Scrape) => Sample[] | Promise<Sample[]>]> {
  const perCache = (pick: (c: MetricsSnapshot['caches'][string]) => number | null) => (s: Scrape) =>
    Object.entries(s.snapshot.caches).flatMap(([cache, c]) => {
      const value = pick(c);
      return value === null ? [] : [{ labels: { cache }, value }];
    });
  const perCacheOp = (pick: (o: OpStats) => number) => (s: Scrape) =>
    Object.entries(s.snapshot.caches).flatMap(([cache, c]) =>
      Object.entries(c.ops).map(([op, o]) => ({ labels: { cache, op }, value: pick(o) })),
    );
  const perTask = (pick: keyof MetricsSnapshot['tasks'][string]) => (s: Scrape) =>
    Object.entries(s.snapshot.tasks).map(([task, t]) => ({ labels: { task }, value: t[pick] }));
  const session = (pick: keyof Omit<MetricsSnapshot['sessions'], 'ops'>) => (s: Scrape) => [
    { labels: {}, value: s.snapshot.sessions[pick] },
  ];
  const pubsub = (pick: keyof MetricsSnapshot['pubsub']) => (s: Scrape) => [
    { labels: {}, value: s.snapshot.pubsub[pick] },
  ];
  const opDuration = 'larder_cache_operation_duration_seconds';
  const sessionDuration = 'larder_session_operation_duration_seconds';
  const checkDuration = 'larder_ratelimit_check_duration_seconds';
  return [
    [
      'larder_cache_operations_total',
      'Cache calls finished, by cache and operation.',
      'counter',
      perCacheOp((o) => o.count),
    ],
    [
      'larder_cache_operation_errors_total',
      'Cache calls that failed or degraded (ignoreErrors) because the backend failed, by cache and operation.',
      'counter',
      perCacheOp((o) => o.errors),
    ],
    [
      opDuration,
      'Time a cache call took, from the call to its result, in seconds.',
      'histogram',
      (s) =>
        Object.entries(s.snapshot.caches).flatMap(([cache, c]) =>
          Object.entries(c.ops).flatMap(([op, o]) => histogram(opDuration, { cache, op }, o)),
        ),
    ],
    [
      'larder_cache_hits_total',
      'Cache lookups that found a value (in-process tier hits included).',
      'counter',
      perCache((c) => c.hits),
    ],
    [
      'larder_cache_local_hits_total',
      "Cache hits served by the tiered backend's in-process tier, without a round trip.",
      'counter',
      perCache((c) => c.localHits),
    ],
    [
      'larder_cache_misses_total',
      'Cache lookups that found nothing (an undecodable or invalidated value is a miss).',
      'counter',
      perCache((c) => c.misses),
    ],
    [
      'larder_cache_stale_hits_total',
      'Stale values getOrSet served within their grace period.',
      'counter',
      perCache((c) => c.staleHits),
    ],
    [
      'larder_cache_decode_errors_total',
      'Stored values that could not be decoded (each counted as a miss).',
      'counter',
      perCache((c) => c.decodeErrors),
    ],
    [
      'larder_cache_hit_ratio',
      'hits / (hits + misses) since the process started; absent before the first lookup.',
      'gauge',
      perCache((c) => c.hitRatio),
    ],
    [
      'larder_session_loads_total',
      'Session lookups in the store (one per request that used its session).',
      'counter',
      session('loads'),
    ],
    [
      'larder_session_writes_total',
      'Session writes to the store (creates, saves, touches, counters).',
      'counter',
      session('writes'),
    ],
    ['larder_session_created_total', 'Sessions stored for the first time.', 'counter', session('created')],
    [
      'larder_session_deleted_total',
      'Sessions deleted (flush, logout, revoke, cycled ids).',
      'counter',
      session('deleted'),
    ],
    ['larder_session_errors_total', 'Session store calls that threw.', 'counter', session('errors')],
    [
      sessionDuration,
      'Time a session store call took (load, save, delete), in seconds.',
      'histogram',
      (s) =>
        Object.entries(s.snapshot.sessions.ops).flatMap(([op, o]) => histogram(sessionDuration, { op }, o)),
    ],
    [
      'larder_ratelimit_checks_total',
      'Rate-limit consumes, by limiter and result (allowed or denied); peeks are not counted.',
      'counter',
      (s) =>
        Object.entries(s.snapshot.rateLimits).flatMap(([limiter, l]) => [
          { labels: { limiter, result: 'allowed' }, value: l.allowed },
          { labels: { limiter, result: 'denied' }, value: l.denied },
        ]),
    ],
    [
      'larder_ratelimit_degraded_total',
      'Rate-limit checks answered by the outage policy (insurance limiter or failOpen) because the store failed.',
      'counter',
      (s) =>
        Object.entries(s.snapshot.rateLimits).map(([limiter, l]) => ({
          labels: { limiter },
          value: l.degraded,
        })),
    ],
    [
      'larder_ratelimit_errors_total',
      'Rate-limit checks whose store failed (degraded or thrown), by limiter and operation.',
      'counter',
      (s) =>
        Object.entries(s.snapshot.rateLimits).flatMap(([limiter, l]) =>
          Object.entries(l.ops).map(([op, o]) => ({ labels: { limiter, op }, value: o.errors })),
        ),
    ],
    [
      checkDuration,
      'Time a rate-limit check took (consume or peek), in seconds.',
      'histogram',
      (s) =>
        Object.entries(s.snapshot.rateLimits).flatMap(([limiter, l]) =>
          Object.entries(l.ops).flatMap(([op, o]) => histogram(checkDuration, { limiter, op }, o)),
        ),
    ],
    [
      'larder_task_enqueued_total',
      'Task jobs enqueued by this process (flow members included).',
      'counter',
      perTask('enqueued'),
    ],
    [
      'larder_task_succeeded_total',
      'Task runs that succeeded in this process (a worker, or the eager driver).',
      'counter',
      perTask('succeeded'),
    ],
    [
      'larder_task_failed_total',
      'Task runs that failed for good (no retry left) in this process.',
      'counter',
      perTask('failed'),
    ],
    [
      'larder_task_retried_total',
      'Task runs that failed and will be retried.',
      'counter',
      perTask('retried'),
    ],
    [
      'larder_task_queue_depth',
      'Jobs in each BullMQ queue of the defined tasks, by state, asked of the broker at scrape time (absent while it cannot be reached).',
      'gauge',
      async (s) => {
        const { queues } = await s.gauges();
        return Object.entries(queues).flatMap(([queue, d]) =>
          (['waiting', 'active', 'delayed', 'failed'] as const).map((state) => ({
            labels: { queue, state },
            value: d[state],
          })),
        );
      },
    ],
    ['larder_pubsub_published_total', 'Messages published by this process.', 'counter', pubsub('published')],
    [
      'larder_pubsub_delivered_total',
      'Messages handed to subscribers in this process (once per handler).',
      'counter',
      pubsub('delivered'),
    ],
    [
      'larder_events_sent_total',
      'Events appended to channel streams by this process (sendEvent).',
      'counter',
      pubsub('events'),
    ],
    [
      'larder_sse_clients',
      'Event-stream (SSE) connections open in this process.',
      'gauge',
      pubsub('sseClients'),
    ],
  ];
}

/**
 * A Registry over `metrics`: one snapshot per scrape, shared by every metric in it.
 *
 * @example const text = await createRegistry(larder.metrics, { defaultMetrics: false }).metrics();
 */
export function createRegistry(metrics: Metrics, options: { defaultMetrics: boolean }): Registry {
  const registry = new Registry();
  let current: Scrape | undefined;
  // `registry.metrics()` calls every metric's get() synchronously, one after the other:
  // they share one snapshot and one round of queue counts; the next scrape takes new ones.
  const scrape = (): Scrape | undefined => {
    if (!metrics.enabled) return undefined;
    if (current === undefined) {
      let gauges: Promise<Gauges> | undefined;
      current = {
        snapshot: metrics.snapshot(),
        gauges: () => {
          gauges ??= metrics.gauges();
          return gauges;
        },
      };
      queueMicrotask(() => {
        current = undefined;
      });
    }
    return current;
  };
  for (const [name, help, type, read] of definitions()) {
    registry.registerMetric(new CollectedMetric(name, help, type, scrape, read) as unknown as Metric);
  }
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}
