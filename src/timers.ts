/**
 * Timers for delays of any length. Node's `setTimeout` takes at most 2^31-1 ms (~24.8 days)
 * and fires a longer delay after 1 ms (TimeoutOverflowWarning), so a task countdown of '30d',
 * an `every: '30d'` schedule, a yearly cron or a getOrSet hardTimeout of '30d' would fire at once.
 */

/** The longest delay `setTimeout` honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer from {@link later}; stop it with {@link cancel}. */
export interface LongTimer {
  timer: NodeJS.Timeout | undefined;
}

/**
 * Calls `fn` once, `ms` from now, however long that is: armed in steps of at most
 * {@link MAX_TIMER_MS}, re-armed until due. `unref`: it does not keep the process alive.
 *
 * @example const t = later(() => run(job), 30 * 86_400_000); cancel(t);
 */
export function later(fn: () => void, ms: number, options: { unref?: boolean } = {}): LongTimer {
  const handle: LongTimer = { timer: undefined };
  const due = Date.now() + ms;
  const step = (left: number) => {
    handle.timer =
      left > MAX_TIMER_MS
        ? setTimeout(() => step(due - Date.now()), MAX_TIMER_MS)
        : setTimeout(fn, Math.max(0, left));
    // `unref`: the timer alone does not keep the process alive.
    if (options.unref) handle.timer.unref();
  };
  step(ms);
  return handle;
}

/** Stops a timer from {@link later}; nothing when it already fired or is undefined. */
export function cancel(handle: LongTimer | undefined): void {
  clearTimeout(handle?.timer);
}
