/**
 * One operation's counters and latency histogram, kept as plain numbers so recording a
 * call costs a subtraction, three increments and a short scan of the bucket bounds — no
 * allocation, no prom-client call. The exposition reads these at scrape time.
 */
import { LATENCY_BUCKETS_MS, type OpStats } from './types.js';

const BOUNDS: readonly number[] = LATENCY_BUCKETS_MS;
const LAST = BOUNDS.length;

/** A start time meaning "not timed": `performance.now()` is past 0 once the process runs. */
export const UNTIMED = 0;

/**
 * Counts and times one operation (`cache default get`, `session save`, …).
 *
 * @example
 * const timer = new OpTimer();
 * const start = performance.now();
 * await work();
 * timer.done(start);
 * timer.stats(); // { count: 1, errors: 0, sumMs: 0.4, buckets: [0, 0, 0, 1, 0, …] }
 */
export class OpTimer {
  count = 0;
  errors = 0;
  sumMs = 0;
  /** Calls per bucket, not cumulative; the last one is +Inf. */
  // Array.from, not new Array(n).fill(0): a packed array, not a holey one.
  readonly buckets: number[] = Array.from({ length: LAST + 1 }, () => 0);

  /**
   * Records one finished call that started at `start` (a `performance.now()` reading), or,
   * with {@link UNTIMED}, an in-process call too short to time (see `instant`).
   */
  done(start: number): void {
    if (start === UNTIMED) this.instant();
    else this.record(performance.now() - start);
  }

  /** Records one finished call that took `ms` milliseconds. */
  record(ms: number): void {
    this.count++;
    this.sumMs += ms;
    // Most calls are fast: a linear scan from the smallest bound ends in a step or two.
    let i = 0;
    while (i < LAST && ms > BOUNDS[i]!) i++;
    this.buckets[i]!++;
  }

  /**
   * Records a synchronous call too short to time (an in-process hit: well under the first
   * bound, 50 µs): counted in the first bucket, adding nothing to `sumMs`.
   */
  instant(): void {
    this.count++;
    this.buckets[0]!++;
  }

  /** Counts a call that failed or degraded because a backend failed (it is also `done`). */
  fail(): void {
    this.errors++;
  }

  /** A copy, in the snapshot's shape. */
  stats(): OpStats {
    return { count: this.count, errors: this.errors, sumMs: this.sumMs, buckets: this.buckets.slice() };
  }

  /** True once the operation was called (or failed). */
  get used(): boolean {
    return this.count > 0 || this.errors > 0;
  }
}

/** Timers by operation name, created on first use. */
export class OpTimers {
  readonly #timers = new Map<string, OpTimer>();

  /** The timer of `op`, created on first use. */
  get(op: string): OpTimer {
    let timer = this.#timers.get(op);
    if (timer === undefined) {
      timer = new OpTimer();
      this.#timers.set(op, timer);
    }
    return timer;
  }

  /** Copies of the timers that were used, by operation name. */
  stats(): Record<string, OpStats> {
    const out: Record<string, OpStats> = {};
    for (const [op, timer] of this.#timers) if (timer.used) out[op] = timer.stats();
    return out;
  }
}
