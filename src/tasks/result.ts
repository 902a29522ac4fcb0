/**
 * @module larder/tasks/result — `AsyncResult` and `GroupResult`, Celery's handles on
 * jobs that were applied: ask for the status, wait for the result, revoke.
 */
import type { Duration } from '../config/types.js';
import { TaskTimeoutError } from '../errors.js';
import { within } from '../within.js';
import { failureError } from './run.js';
import type { JobState, TaskDriver, TaskStatus } from './types.js';
import { durationOf } from './validate.js';

const DONE: ReadonlySet<TaskStatus> = new Set(['success', 'failure', 'revoked']);
/** `wait` is asked in slices: setTimeout cannot take more than 2^31-1 ms. */
const SLICE_MS = 60_000;
/** How long past its `timeoutMs` a driver's `wait` may take before `get()` stops waiting for it. */
const OVERRUN_MS = 1_000;
const LATE = Symbol('late');

/** `promise`, or LATE once `deadline` (epoch ms) has passed first (a caller's own wait). */
function until<T>(promise: Promise<T>, deadline: number): Promise<T | typeof LATE> {
  if (deadline === Number.POSITIVE_INFINITY) return promise;
  return within<T | typeof LATE>(promise, deadline - Date.now(), () => LATE, { keepAlive: true });
}

/** Options of `AsyncResult.get`. */
export interface GetOptions {
  /** Give up after this long with `TaskTimeoutError` (the job goes on). @default no limit */
  timeout?: Duration;
}

/**
 * A job that was applied. Celery's `AsyncResult`: `larder.tasks.result(id, { task })`
 * makes one for an id from elsewhere (another process, a URL).
 *
 * @example
 * const result = sendReceipt.delay({ orderId: 42 });
 * console.log(await result.status());           // 'pending' | 'started' | 'retry' | …
 * const receipt = await result.get({ timeout: '30s' });
 */
export class AsyncResult<R = unknown> {
  readonly id: string;
  /** The task's name. */
  readonly task: string;
  readonly queue: string;
  readonly #driver: () => TaskDriver;
  readonly #enqueued: Promise<void>;

  /** @internal Made by `delay`, `applyAsync`, the canvas and `larder.tasks.result`. */
  constructor(driver: () => TaskDriver, id: string, task: string, queue: string, enqueued: Promise<void>) {
    this.#driver = driver;
    this.id = id;
    this.task = task;
    this.queue = queue;
    this.#enqueued = enqueued;
    // Enqueue errors surface from status()/get(); a caller that awaits neither still sees them here.
    enqueued.catch(() => {});
  }

  /** Resolves once the job is in the queue (rejects when enqueueing failed). */
  enqueued(): Promise<void> {
    return this.#enqueued;
  }

  /** The job's state, with its attempts, result and failure. */
  async info(): Promise<JobState> {
    await this.#enqueued;
    return (
      (await this.#driver().state(this.id, this.queue)) ?? { status: 'pending', task: this.task, attempts: 0 }
    );
  }

  /** Where the job stands now. */
  async status(): Promise<TaskStatus> {
    return (await this.info()).status;
  }

  /** True once it succeeded, failed for good or was revoked. */
  async ready(): Promise<boolean> {
    return DONE.has(await this.status());
  }

  /**
   * Waits for the job; resolves its result, or throws its error: `TaskFailedError` (the
   * handler threw on its last attempt), `TaskTimeoutError` (a run passed `timeLimit`, or
   * `timeout` passed first here), `TaskRevokedError` (revoked or expired).
   */
  async get(options: GetOptions = {}): Promise<R> {
    const limit =
      options.timeout === undefined
        ? Number.POSITIVE_INFINITY
        : durationOf(this.task, 'timeout', options.timeout, true);
    const deadline = Date.now() + limit;
    // The timeout covers enqueueing too: a broker that does not answer must not outlast it.
    if ((await until(this.#enqueued, deadline)) === LATE) throw this.#timedOut(limit, 'still being enqueued');
    let state: JobState | undefined;
    for (;;) {
      const left = deadline - Date.now();
      const waited = await until(
        this.#driver().wait(this.id, this.queue, Math.max(0, Math.min(left, SLICE_MS))),
        deadline + OVERRUN_MS,
      );
      if (waited !== LATE) state = waited;
      if (state && DONE.has(state.status)) break;
      if (waited === LATE || Date.now() >= deadline) throw this.#timedOut(limit, state?.status ?? 'pending');
    }
    if (state.status === 'success') return state.result as R;
    throw failureError(this.id, state);
  }

  #timedOut(limit: number, where: string): TaskTimeoutError {
    return new TaskTimeoutError(
      `Task ${JSON.stringify(this.task)} (id ${this.id}) did not finish within ${limit} ms; it is ${where}. ` +
        `It goes on: call get() again, raise the timeout, or check that a worker runs queue '${this.queue}'.`,
    );
  }

  /**
   * Celery's `revoke()`: a job that has not started is dropped (status `'revoked'`); a
   * running one finishes its run but is never retried. True when it was dropped unstarted.
   */
  async revoke(): Promise<boolean> {
    await this.#enqueued;
    return this.#driver().revoke(this.id, this.queue);
  }
}

/**
 * The results of a `group`, in the group's order.
 *
 * @example
 * const results = await group([resize.s({ id: 1 }), resize.s({ id: 2 })]).applyAsync().get();
 */
export class GroupResult<R = unknown> {
  readonly results: readonly AsyncResult<R>[];

  constructor(results: AsyncResult<R>[]) {
    this.results = results;
  }

  /** Every member's status, in order. */
  status(): Promise<TaskStatus[]> {
    return Promise.all(this.results.map((r) => r.status()));
  }

  /** True when every member is done. */
  async ready(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.ready()))).every(Boolean);
  }

  /** Every result in order; throws the first failure (in the group's order). */
  async get(options: GetOptions = {}): Promise<R[]> {
    const settled = await Promise.allSettled(this.results.map((r) => r.get(options)));
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
  }

  /** Revokes every member that has not started; resolves how many were dropped. */
  async revoke(): Promise<number> {
    return (await Promise.all(this.results.map((r) => r.revoke()))).filter(Boolean).length;
  }
}
