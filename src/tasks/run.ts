/**
 * @module larder/tasks/run — one run of a handler, shared by both drivers: the time limit,
 * the abort signal, and how a failure is recorded and rebuilt as an error.
 */
import { TaskFailedError, TaskRevokedError, TaskTimeoutError } from '../errors.js';
import { within } from '../within.js';
import type { FailureRecord, JobState, TaskContext, TaskDefinition } from './types.js';

/**
 * Runs `def.handler` once. Past `def.timeLimit` the run fails with `TaskTimeoutError` and
 * `ctx.signal` aborts; JavaScript cannot kill the handler's own promise, so a handler that
 * ignores the signal keeps running in the background (its result is dropped).
 */
export async function runOnce(
  def: TaskDefinition,
  args: unknown,
  ctx: Omit<TaskContext, 'signal'>,
  stop?: AbortSignal,
): Promise<unknown> {
  const controller = new AbortController();
  const onStop = () => controller.abort(stop?.reason);
  stop?.addEventListener('abort', onStop, { once: true });
  try {
    const run = Promise.resolve().then(() => def.handler(args, { ...ctx, signal: controller.signal }));
    if (def.timeLimit === undefined) return await run;
    const limit = def.timeLimit;
    return await within(
      run,
      limit,
      () => {
        const error = new TaskTimeoutError(
          `Task ${JSON.stringify(def.name)} (id ${ctx.id}) ran past its timeLimit of ${limit} ms and was stopped. ` +
            'Raise timeLimit at define(), or make the handler watch ctx.signal and stop sooner.',
        );
        controller.abort(error);
        throw error;
      },
      { keepAlive: true },
    );
  } finally {
    stop?.removeEventListener('abort', onStop);
  }
}

/** What a failure leaves on record. */
export function recordFailure(error: unknown): FailureRecord {
  if (error instanceof Error) return { name: error.name, message: error.message, error };
  return { name: 'Error', message: String(error), error };
}

/** The error a job's failure is, for `AsyncResult.get()`: larder's own kinds keep their class. */
export function failureError(id: string, state: JobState): Error {
  const failure = state.failure ?? { name: 'Error', message: 'unknown failure' };
  const options = failure.error === undefined ? {} : { cause: failure.error };
  if (state.status === 'revoked' || failure.name === 'TaskRevokedError') {
    return new TaskRevokedError(failure.message, options);
  }
  if (failure.name === 'TaskTimeoutError') return new TaskTimeoutError(failure.message, options);
  return new TaskFailedError(
    state.task,
    state.id ?? id,
    failure.name,
    failure.message,
    state.attempts,
    options,
  );
}

/** Milliseconds to wait before retry number `retry` (1-based), as BullMQ computes it. */
export function retryDelay(backoff: TaskDefinition['backoff'], retry: number): number {
  const base = backoff.type === 'fixed' ? backoff.delay : backoff.delay * 2 ** (retry - 1);
  return backoff.jitter > 0 ? Math.floor(base * (1 - Math.random() * backoff.jitter)) : base;
}

/**
 * The message of a job dropped by revocation or expiry, shared by both drivers:
 * `'not-retried'` is a job revoked while it ran whose run then failed with retries left.
 */
export function revokedMessage(task: string, id: string, why: 'revoked' | 'expired' | 'not-retried'): string {
  const job = `Task ${JSON.stringify(task)} (id ${id})`;
  if (why === 'revoked') return `${job} was revoked before it ran.`;
  if (why === 'expired') return `${job} expired before a worker started it (applyAsync's expires).`;
  return `${job} was revoked while it ran; that run failed, and a revoked job is not retried.`;
}
