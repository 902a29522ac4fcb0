/**
 * @module larder/tasks/types — the shapes of tasks (DESIGN §4.5) and the driver contract
 * that the eager and BullMQ drivers both meet.
 */
import type { Duration } from '../config/types.js';
import type { QueueDepth } from '../metrics/types.js';

/**
 * Where a task stands — Celery's states, lower-cased. An id nobody enqueued reads
 * `'pending'`, as in Celery.
 */
export type TaskStatus = 'pending' | 'started' | 'retry' | 'success' | 'failure' | 'revoked';

/** What a handler gets beside its payload. */
export interface TaskContext {
  /** The job's id (the `AsyncResult` id). */
  id: string;
  /** The task's name. */
  task: string;
  /** The queue it was taken from. */
  queue: string;
  /** 1 on the first run, 2 on the first retry, … */
  attempt: number;
  /** Retries allowed after the first run (`define`'s `retries`). */
  retries: number;
  /** Aborted when `timeLimit` passes or the worker is forced to stop: stop work when it fires. */
  signal: AbortSignal;
}

/** A task's body: the payload in, a JSON-serialisable result out. */
export type TaskHandler<P, R> = (args: P, ctx: TaskContext) => R | Promise<R>;

/** How long to wait between retries. A bare duration means a fixed delay. */
export type Backoff =
  | Duration
  | {
      /** `fixed`: `delay` each time; `exponential`: `delay`, 2×, 4×, … */
      type: 'fixed' | 'exponential';
      delay: Duration;
      /** 0…1: take up to this fraction off each delay at random (spreads a thundering herd). @default 0 */
      jitter?: number;
    };

/**
 * Options of `larder.tasks.define`.
 *
 * @example
 * larder.tasks.define('send-receipt', sendReceipt, { retries: 3, backoff: { type: 'exponential', delay: '2s' }, timeLimit: '30s' });
 */
export interface TaskOptions {
  /** Runs after the first that a failure may cause (Celery's `max_retries`). @default 0 */
  retries?: number;
  /** @default { type: 'exponential', delay: '1s' } */
  backoff?: Backoff;
  /** The queue jobs of this task go to. @default config `tasks.defaultQueue` ('default') */
  queue?: string;
  /** One run may take this long; past it the run fails with `TaskTimeoutError` (and may be retried). */
  timeLimit?: Duration;
  /** Default priority of its jobs: 1 (first) … 2 097 151; none = before any prioritised job. */
  priority?: number;
}

/**
 * Options of `task.applyAsync` (Celery's `apply_async`).
 *
 * @example
 * task.applyAsync({ orderId }, { countdown: '10s', expires: '1h', jobId: `confirm-${orderId}` });
 */
export interface ApplyOptions {
  /** Run no sooner than this long from now. */
  countdown?: Duration;
  /** Run no sooner than this moment (not with `countdown`). */
  eta?: Date;
  /** Overrides the task's priority for this job. */
  priority?: number;
  /** A job not started by then is dropped (status `'revoked'`): a duration from now, or a moment. */
  expires?: Duration | Date;
  /**
   * The job's id. While a job with this id is kept (24 h after it finishes, 10 000 per queue),
   * applying again returns that job's result instead of enqueueing a second one.
   */
  jobId?: string;
}

/** A failure as a driver records it: enough to rebuild the error in another process. */
export interface FailureRecord {
  /** The thrown error's class name (`TypeError`, `TaskTimeoutError`, `TaskRevokedError`). */
  name: string;
  message: string;
  /** The error itself, when it was thrown in this process. */
  error?: unknown;
}

/** What a driver knows of one job. */
export interface JobState {
  status: TaskStatus;
  /** Set when this is another job's state: a flow parent that a failed child stopped reports that child. */
  id?: string;
  task: string;
  /** Runs started so far. */
  attempts: number;
  result?: unknown;
  failure?: FailureRecord;
}

/** How a job's payload is found when it runs. */
export type PayloadSource =
  /** The payload given at apply time. */
  | { from: 'args'; args: unknown }
  /** The result of its single child (a chain link). */
  | { from: 'previous' }
  /** The results of all its children, in order (a chord's callback). */
  | { from: 'all' };

/** One job, validated, every default resolved: what the facade hands a driver. */
export interface JobSpec {
  id: string;
  task: string;
  queue: string;
  payload: PayloadSource;
  /** Milliseconds before it may run. */
  delay: number;
  priority: number | undefined;
  /** Epoch ms past which it is dropped unstarted. */
  expiresAt: number | undefined;
  /** First run plus retries. */
  attempts: number;
  backoff: { type: 'fixed' | 'exponential'; delay: number; jitter: number };
}

/** A job that waits for its children (a chain link waits for the one before, a chord for its group). */
export interface FlowSpec extends JobSpec {
  children: FlowSpec[];
}

/** A registered task as drivers see it. */
export interface TaskDefinition {
  name: string;
  handler: TaskHandler<any, any>;
  queue: string;
  retries: number;
  backoff: JobSpec['backoff'];
  /** Milliseconds; undefined = no limit. */
  timeLimit: number | undefined;
  priority: number | undefined;
}

/** A repeating job: a cron pattern or a fixed interval. */
export type ScheduleSpec = { cron: string; tz?: string } | { every: number };

/** Options of `startWorker`. */
export interface WorkerOptions {
  /** Queues to take jobs from. @default [config `tasks.defaultQueue`] */
  queues?: string[];
  /** Jobs run at once per queue. @default 1 */
  concurrency?: number;
  /**
   * How long a job stays locked to this worker without a renewal; a worker that dies keeps
   * it that long before another may take it over. @default '30s'
   */
  lockDuration?: Duration;
  /** How often this worker looks for jobs whose worker died. @default '30s' */
  stalledInterval?: Duration;
}

/** A running worker. */
export interface TaskWorker {
  readonly queues: readonly string[];
  readonly concurrency: number;
  /** Stops taking jobs, waits for the running ones to finish (`force`: abandon them to another worker). */
  close(force?: boolean): Promise<void>;
}

/**
 * The contract of a task driver. Both drivers keep every job's state and result for
 * `AsyncResult`; the facade owns validation and defaults.
 */
export interface TaskDriver {
  /** `'eager'` or `'bullmq'`. */
  readonly kind: 'eager' | 'bullmq';
  /** Enqueues one job; when a job with its id is already kept, leaves it alone. */
  enqueue(job: JobSpec): Promise<void>;
  /** Enqueues a tree: each parent runs after all its children succeeded, and fails when one fails. */
  enqueueFlow(root: FlowSpec): Promise<void>;
  /** The job's state now. */
  state(id: string, queue: string): Promise<JobState | undefined>;
  /**
   * Resolves when the job is finished (success, failure or revoked), or at `timeoutMs` with its
   * state then. An id not enqueued (yet) is waited on as well, never answered at once.
   */
  wait(id: string, queue: string, timeoutMs: number): Promise<JobState | undefined>;
  /** Drops the job if it has not started; never starts it again. Returns true when it was dropped unstarted. */
  revoke(id: string, queue: string): Promise<boolean>;
  /** Creates or replaces the repeating job `name`. */
  schedule(name: string, spec: ScheduleSpec, job: Omit<JobSpec, 'id' | 'delay'>): Promise<void>;
  /** Removes the repeating job `name`; true when it existed. */
  unschedule(name: string, queue: string): Promise<boolean>;
  startWorker(options: {
    queues: string[];
    concurrency: number;
    lockDuration: number;
    stalledInterval: number;
  }): Promise<TaskWorker>;
  /** Jobs per state in each of `queues`, asked of the broker (metrics). Absent: nothing waits anywhere but here. */
  depths?(queues: string[]): Promise<Record<string, QueueDepth>>;
  close(): Promise<void>;
}
