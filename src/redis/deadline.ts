/**
 * Command deadlines without a timer per command.
 *
 * node-redis v6 arms an `AbortSignal.timeout` for every command by default, which cuts
 * throughput by about 3.8x on this kind of machine (DESIGN §7). larder turns that off and
 * enforces its own deadlines here instead: every tracked promise gets the current coarse
 * tick, and one interval per tracker walks the pending set oldest-first, rejecting what
 * has outlived its budget. The cost per command is one wrapper promise and a Set entry.
 *
 * Hand-written: no library bounds many promises with a single shared timer.
 */

interface Pending {
  tick: number;
  budget: number;
  timeoutMs: number;
  reject: (error: unknown) => void;
  makeError: (timeoutMs: number) => Error;
}

/** Hears how a tracked promise ended (a connection's breaker bookkeeping). */
export interface SettleObserver {
  succeeded(): void;
  /** Returns the error the caller should see (it may wrap or classify `error`). */
  failed(error: unknown): unknown;
}

/** Granularity of the sweep, in milliseconds (deadlines fire up to this late). */
const TICK_MS = 10;

/** One sweep timer that fails promises still pending past their deadline. */
export class DeadlineTracker {
  #pending = new Set<Pending>();
  #tick = 0;
  #timer: NodeJS.Timeout | undefined;

  /** Commands still waiting for a reply. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Returns a promise that settles as `promise` does, or rejects with `makeError()` once
   * `timeoutMs` has passed. `timeoutMs <= 0` means no deadline. The optional `observer`
   * hears how it ended and may replace the error, in the same step (no extra promise).
   */
  track<T>(
    promise: Promise<T>,
    timeoutMs: number,
    makeError: (timeoutMs: number) => Error,
    observer?: SettleObserver,
  ): Promise<T> {
    this.#ensureTimer();
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = {
        tick: this.#tick,
        budget: timeoutMs > 0 ? Math.ceil(timeoutMs / TICK_MS) : Number.POSITIVE_INFINITY,
        timeoutMs,
        reject: observer ? (error) => reject(observer.failed(error)) : reject,
        makeError,
      };
      this.#pending.add(entry);
      promise.then(
        (value) => {
          if (!this.#pending.delete(entry)) return;
          observer?.succeeded();
          resolve(value);
        },
        (error) => {
          if (!this.#pending.delete(entry)) return;
          reject(observer ? observer.failed(error) : error);
        },
      );
    });
  }

  /** Rejects everything pending now (used when a connection is known to be gone). */
  failAll(makeError?: (timeoutMs: number) => Error): void {
    for (const entry of this.#pending) {
      this.#pending.delete(entry);
      entry.reject((makeError ?? entry.makeError)(entry.timeoutMs));
    }
  }

  /** Stops the sweep timer. Pending promises keep their own fate. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #ensureTimer(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#sweep(), TICK_MS);
    this.#timer.unref();
  }

  #sweep(): void {
    this.#tick++;
    if (this.#pending.size === 0) {
      // Idle: stop waking up until the next tracked command.
      this.stop();
      return;
    }
    // A Set iterates in insertion order, so the oldest entries come first; budgets differ
    // per call, so walk all of them (pending sets are small: commands in flight).
    for (const entry of this.#pending) {
      if (this.#tick - entry.tick > entry.budget) {
        this.#pending.delete(entry);
        entry.reject(entry.makeError(entry.timeoutMs));
      }
    }
  }
}
