/**
 * The shape of larder's metrics, shared by the Prometheus exposition, the dashboard and the
 * CLI. Counters only grow (since the process started); latency is kept as a histogram with
 * fixed buckets so a snapshot is cheap and two snapshots subtract into a rate.
 */

/** Upper bounds of the latency buckets, in milliseconds (the last bucket is +Inf). */
export const LATENCY_BUCKETS_MS = [
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
] as const;

/** One operation's counters and latency (`cache default get`, `session save`, …). */
export interface OpStats {
  /** Calls finished (successes and errors). */
  count: number;
  /** Calls that threw or degraded because a backend failed. */
  errors: number;
  /** Total time spent, in milliseconds. */
  sumMs: number;
  /** Calls per latency bucket (not cumulative): `buckets[i]` counts calls ≤ `LATENCY_BUCKETS_MS[i]` and above the bucket before; the last entry is +Inf. */
  buckets: number[];
}

/** A cache's counters, by cache name. */
export interface CacheMetrics {
  /** Lookups that found a value (local-tier hits included). */
  hits: number;
  /** Hits served from the in-process tier without a round trip. */
  localHits: number;
  /** Stale values served within a grace period. */
  staleHits: number;
  misses: number;
  errors: number;
  decodeErrors: number;
  /** hits / (hits + misses), or `null` before the first lookup. */
  hitRatio: number | null;
  /** By operation name: `get`, `getMany`, `set`, `setMany`, `add`, `delete`, `getOrSet`, … */
  ops: Record<string, OpStats>;
}

export interface SessionMetrics {
  /** Sessions created (a first write). */
  created: number;
  /** Requests whose session was loaded from the store. */
  loads: number;
  /** Writes to the store (saves, touches, cycles). */
  writes: number;
  /** Sessions deleted (flush, logout, revoke). */
  deleted: number;
  errors: number;
  /** By operation: `load`, `save`, `delete`. */
  ops: Record<string, OpStats>;
}

export interface RateLimitMetrics {
  allowed: number;
  denied: number;
  /** Checks answered by the outage policy because the store failed. */
  degraded: number;
  ops: Record<string, OpStats>;
}

export interface TaskMetrics {
  enqueued: number;
  succeeded: number;
  failed: number;
  retried: number;
}

export interface PubSubMetrics {
  published: number;
  /** Messages handed to local subscribers. */
  delivered: number;
  /** `sendEvent` calls (stream entries written). */
  events: number;
  /** Open SSE connections served by `web.events()`. */
  sseClients: number;
}

/** Everything `larder.metrics.snapshot()` returns. */
export interface MetricsSnapshot {
  /** When the snapshot was taken (epoch ms). */
  at: number;
  /** When counting began (epoch ms): the Larder's creation. */
  since: number;
  caches: Record<string, CacheMetrics>;
  sessions: SessionMetrics;
  /** By limiter name. */
  rateLimits: Record<string, RateLimitMetrics>;
  /** By task name. */
  tasks: Record<string, TaskMetrics>;
  pubsub: PubSubMetrics;
}

/** Queue depths by queue name (`larder.metrics.gauges()`; asks the broker). */
export interface QueueDepth {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}
