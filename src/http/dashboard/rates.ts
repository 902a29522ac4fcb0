/**
 * The dashboard's figures over one interval: the difference of two metrics snapshots turned
 * into rates per second, hit ratios and latency quantiles. Counters only grow, so a
 * difference is what happened between the two; a counter that went down (a new process
 * behind the same dashboard) is read as counting from zero.
 */
import {
  type CacheMetrics,
  LATENCY_BUCKETS_MS,
  type MetricsSnapshot,
  type OpStats,
  type QueueDepth,
} from '../../metrics/types.js';

/** One cache over the interval. */
export interface CacheFrame {
  /** Operations finished per second (every operation: get, set, delete, …). */
  opsPerSec: number;
  /** hits / (hits + misses) over the interval; `null` when there was no lookup. */
  hitRatio: number | null;
  /** Median and 99th percentile latency of those operations (ms), `null` without any. */
  p50Ms: number | null;
  p99Ms: number | null;
  errorsPerSec: number;
  /** Totals since the process started. */
  hits: number;
  misses: number;
}

/** What one `GET /stream` message carries (and what the page shows at render time). */
export interface DashboardFrame {
  /** Epoch ms of the later snapshot. */
  at: number;
  /** Length of the interval the rates are over (ms). */
  intervalMs: number;
  caches: Record<string, CacheFrame>;
  sessions: {
    loadsPerSec: number;
    writesPerSec: number;
    createdPerSec: number;
    errorsPerSec: number;
    /** Live sessions (`larder.sessions.count()`, refreshed every ~10 s), `null` when unknown. */
    count: number | null;
  };
  rateLimits: Record<string, { allowedPerSec: number; deniedPerSec: number; degradedPerSec: number }>;
  tasks: Record<string, { enqueuedPerSec: number; succeededPerSec: number; failedPerSec: number }>;
  /** Queue depths now (`larder.metrics.gauges()`), by queue name. */
  queues: Record<string, QueueDepth>;
  pubsub: { publishedPerSec: number; deliveredPerSec: number; eventsPerSec: number; sseClients: number };
  /** Browsers following this dashboard's `/stream`. */
  dashboardClients: number;
}

/** An empty snapshot dated `since`: the baseline of the first interval. */
export function emptySnapshot(since: number): MetricsSnapshot {
  return {
    at: since,
    since,
    caches: {},
    sessions: { created: 0, loads: 0, writes: 0, deleted: 0, errors: 0, ops: {} },
    rateLimits: {},
    tasks: {},
    pubsub: { published: 0, delivered: 0, events: 0, sseClients: 0 },
  };
}

/**
 * The rates between `before` and `after` (`before` missing: since `after.since`). Gauges
 * (queues, session count, dashboard clients) are filled in by the caller.
 *
 * @example
 * const frame = frameBetween(previous, larder.metrics.snapshot());
 * frame.caches.default.opsPerSec; // 1234.5
 */
export function frameBetween(before: MetricsSnapshot | undefined, after: MetricsSnapshot): DashboardFrame {
  const base = before ?? emptySnapshot(after.since);
  const intervalMs = Math.max(1, after.at - base.at);
  const perSec = (now: number, then: number | undefined) => {
    const d = delta(now, then);
    return round((d * 1000) / intervalMs);
  };

  const caches: Record<string, CacheFrame> = {};
  for (const [name, cache] of Object.entries(after.caches)) {
    const prev: CacheMetrics | undefined = base.caches[name];
    const hits = delta(cache.hits, prev?.hits);
    const misses = delta(cache.misses, prev?.misses);
    const ops = mergeOps(cache.ops, prev?.ops);
    caches[name] = {
      opsPerSec: round((ops.count * 1000) / intervalMs),
      hitRatio: hits + misses === 0 ? null : round(hits / (hits + misses)),
      p50Ms: quantile(ops.buckets, 0.5),
      p99Ms: quantile(ops.buckets, 0.99),
      errorsPerSec: perSec(cache.errors, prev?.errors),
      hits: cache.hits,
      misses: cache.misses,
    };
  }

  const rateLimits: DashboardFrame['rateLimits'] = {};
  for (const [name, limiter] of Object.entries(after.rateLimits)) {
    const prev = base.rateLimits[name];
    rateLimits[name] = {
      allowedPerSec: perSec(limiter.allowed, prev?.allowed),
      deniedPerSec: perSec(limiter.denied, prev?.denied),
      degradedPerSec: perSec(limiter.degraded, prev?.degraded),
    };
  }

  const tasks: DashboardFrame['tasks'] = {};
  for (const [name, task] of Object.entries(after.tasks)) {
    const prev = base.tasks[name];
    tasks[name] = {
      enqueuedPerSec: perSec(task.enqueued, prev?.enqueued),
      succeededPerSec: perSec(task.succeeded, prev?.succeeded),
      failedPerSec: perSec(task.failed, prev?.failed),
    };
  }

  const s = after.sessions;
  const ps = base.sessions;
  return {
    at: after.at,
    intervalMs,
    caches,
    sessions: {
      loadsPerSec: perSec(s.loads, ps.loads),
      writesPerSec: perSec(s.writes, ps.writes),
      createdPerSec: perSec(s.created, ps.created),
      errorsPerSec: perSec(s.errors, ps.errors),
      count: null,
    },
    rateLimits,
    tasks,
    queues: {},
    pubsub: {
      publishedPerSec: perSec(after.pubsub.published, base.pubsub.published),
      deliveredPerSec: perSec(after.pubsub.delivered, base.pubsub.delivered),
      eventsPerSec: perSec(after.pubsub.events, base.pubsub.events),
      sseClients: after.pubsub.sseClients,
    },
    dashboardClients: 0,
  };
}

/**
 * The `q` quantile (0–1) of a histogram over `LATENCY_BUCKETS_MS` (per-bucket counts, the
 * last bucket +Inf), interpolated linearly inside the bucket that holds it, as Prometheus'
 * `histogram_quantile` does; a quantile in the +Inf bucket is the last finite bound.
 * `null` for an empty histogram.
 *
 * @example quantile([0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.5) // 0.75 (inside 0.5–1 ms)
 */
export function quantile(buckets: readonly number[], q: number): number | null {
  let total = 0;
  for (const n of buckets) total += n;
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i];
    if (count > 0 && below + count >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1];
      if (i >= LATENCY_BUCKETS_MS.length) return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1];
      const upper = LATENCY_BUCKETS_MS[i];
      return round(lower + ((upper - lower) * (rank - below)) / count);
    }
    below += count;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1];
}

/** Every operation's count and buckets over the interval, summed. */
function mergeOps(
  now: Record<string, OpStats>,
  then: Record<string, OpStats> | undefined,
): { count: number; buckets: number[] } {
  const buckets = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  let count = 0;
  for (const [op, stats] of Object.entries(now)) {
    const prev = then?.[op];
    // A counter that went down started again from zero: take it whole.
    const reset = prev !== undefined && stats.count < prev.count;
    count += reset ? stats.count : delta(stats.count, prev?.count);
    for (let i = 0; i < buckets.length && i < stats.buckets.length; i++) {
      buckets[i] += reset ? stats.buckets[i] : delta(stats.buckets[i], prev?.buckets[i]);
    }
  }
  return { count, buckets };
}

function delta(now: number, then: number | undefined): number {
  if (then === undefined || now < then) return now;
  return now - then;
}

/** Four significant decimals are plenty on a chart, and keep the frames short. */
function round(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}
