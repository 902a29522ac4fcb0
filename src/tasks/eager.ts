/**
 * @module larder/tasks/eager — the embedded task driver: jobs run in this process, on
 * timers, with BullMQ's semantics (Celery's `task_always_eager` made honest: a job is
 * applied asynchronously, retried with backoff, delayed, expired, time-limited, and its
 * result kept for `AsyncResult`). Hand-written because it is the point: no server.
 * `priority` is accepted and has no effect (nothing waits behind anything here).
 */
import { TaskRevokedError, TaskUsageError } from '../errors.js';
import type { TaskCounter } from '../metrics/metrics.js';
import { cancel, type LongTimer, later } from '../timers.js';
import { recordFailure, retryDelay, revokedMessage, runOnce } from './run.js';
import type {
  FailureRecord,
  FlowSpec,
  JobSpec,
  JobState,
  TaskDefinition,
  TaskDriver,
  TaskWorker,
} from './types.js';

/**
 * Finished jobs kept for `AsyncResult` (BullMQ keeps 10 000 per queue): the first to finish
 * is the first forgotten, and a flow child is kept while its parent, which runs on its
 * result, has not finished.
 */
const KEEP_FINISHED = 10_000;
/** A finished job is forgotten after a day, as BullMQ's removeOnComplete / removeOnFail age. */
const KEEP_MS = 86_400_000;

interface EagerJob {
  spec: JobSpec;
  state: JobState;
  finishedAt?: number;
  timer?: LongTimer;
  /** Fires at `expiresAt`: a job not started by then is revoked at once, not when it was due. */
  expiry?: LongTimer;
  revoked: boolean;
  waiters: Set<() => void>;
  /**
   * For a flow parent: its children's keys (queue and id), in order, and how many are still
   * to succeed. Keys, not ids: a flow's steps may be on different queues, as in BullMQ.
   */
  children?: { keys: string[]; left: number };
  /** For a flow child: its parent's key. */
  parent?: string;
}

const FINISHED = new Set(['success', 'failure', 'revoked']);

/**
 * The eager driver over a registry lookup; `counter` (`larder.metrics`) hears of every job
 * enqueued and every run's outcome.
 *
 * @example
 * const driver = eagerDriver((name) => registry.get(name));
 */
export function eagerDriver(
  lookup: (name: string) => TaskDefinition | undefined,
  counter?: TaskCounter,
): TaskDriver {
  const jobs = new Map<string, EagerJob>();
  const schedules = new Map<string, LongTimer>();
  const running = new Set<Promise<void>>();
  const stop = new AbortController();
  /** `wait()`s on ids not enqueued (yet): woken when a job with that key is added. */
  const lookers = new Map<string, Set<() => void>>();
  /** Finished jobs that may be forgotten, by key, in the order they finished: key → when. */
  const finished = new Map<string, number>();
  let closed = false;

  const key = (queue: string, id: string) => `${queue}\u0000${id}`;

  function finish(job: EagerJob, state: Partial<JobState>): void {
    Object.assign(job.state, state);
    job.finishedAt = Date.now();
    cancel(job.expiry);
    for (const wake of job.waiters) wake();
    job.waiters.clear();
    if (job.parent !== undefined) settleChild(job);
    forgettable(job);
    // Its children were held for its payload; now they may go (in the order they finish here).
    for (const k of job.children?.keys ?? []) {
      const child = jobs.get(k);
      if (child?.finishedAt !== undefined) forgettable(child);
    }
    forgetOld();
  }

  /** Puts a finished job in line to be forgotten, unless a parent still to finish needs it. */
  function forgettable(job: EagerJob): void {
    const k = key(job.spec.queue, job.spec.id);
    if (finished.has(k)) return;
    const parent = job.parent === undefined ? undefined : jobs.get(job.parent);
    if (parent && parent.finishedAt === undefined) return;
    finished.set(k, Date.now());
  }

  /** Forgets the first finished past KEEP_FINISHED, and any finished over KEEP_MS ago. */
  function forgetOld(): void {
    const cutoff = Date.now() - KEEP_MS;
    for (const [k, at] of finished) {
      if (finished.size <= KEEP_FINISHED && at > cutoff) break;
      finished.delete(k);
      jobs.delete(k);
    }
  }

  /** A child finished: start the parent when all succeeded, fail it with the first failure. */
  function settleChild(child: EagerJob): void {
    const parent = jobs.get(child.parent as string);
    if (!parent || FINISHED.has(parent.state.status) || !parent.children) return;
    if (child.state.status === 'success') {
      if (--parent.children.left === 0) arm(parent, parent.spec.delay);
      return;
    }
    // BullMQ's failParentOnFailure: the parent never runs; `get()` shows the child's error.
    const { status, task, attempts, failure } = child.state;
    finish(parent, {
      status,
      task,
      attempts,
      id: child.state.id ?? child.spec.id,
      failure: failure as FailureRecord,
    });
  }

  function arm(job: EagerJob, delay: number): void {
    if (closed) return;
    job.timer = later(() => {
      job.timer = undefined;
      const run = attempt(job).finally(() => running.delete(run));
      running.add(run);
    }, delay);
  }

  /**
   * As BullMQ reads a waiting job past its `expires` as revoked at once, so `get()` settles
   * then, not when a countdown, a retry's backoff or a flow's children let it run.
   */
  function expireAt(job: EagerJob): void {
    const at = job.spec.expiresAt;
    if (at === undefined || closed) return;
    job.expiry = later(
      () => {
        job.expiry = undefined;
        if (job.state.status !== 'pending' && job.state.status !== 'retry') return;
        cancel(job.timer);
        const error = new TaskRevokedError(revokedMessage(job.spec.task, job.spec.id, 'expired'));
        finish(job, { status: 'revoked', failure: recordFailure(error) });
      },
      at + 1 - Date.now(),
    );
  }

  function payloadOf(job: EagerJob): unknown {
    const { payload } = job.spec;
    if (payload.from === 'args') return payload.args;
    const results = (job.children?.keys ?? []).map((k) => jobs.get(k)?.state.result);
    return payload.from === 'previous' ? results[0] : results;
  }

  async function attempt(job: EagerJob): Promise<void> {
    const { spec } = job;
    const def = lookup(spec.task);
    if (job.revoked || (spec.expiresAt !== undefined && Date.now() > spec.expiresAt)) {
      const why = job.revoked ? 'revoked' : 'expired';
      const error = new TaskRevokedError(revokedMessage(spec.task, spec.id, why));
      finish(job, { status: 'revoked', failure: recordFailure(error) });
      return;
    }
    if (!def) {
      const error = new TaskUsageError(spec.task, 'no task of this name is defined in this process.');
      counter?.count(spec.task, 'failed');
      finish(job, { status: 'failure', failure: recordFailure(error) });
      return;
    }
    job.state.status = 'started';
    job.state.attempts++;
    try {
      // A copy through JSON, as a job's payload and result would travel through Redis.
      const args = structuredJson(payloadOf(job));
      const result = await runOnce(
        def,
        args,
        {
          id: spec.id,
          task: spec.task,
          queue: spec.queue,
          attempt: job.state.attempts,
          retries: spec.attempts - 1,
        },
        stop.signal,
      );
      counter?.count(spec.task, 'succeeded');
      finish(job, { status: 'success', result: result === undefined ? null : structuredJson(result) });
    } catch (error) {
      if (job.revoked && job.state.attempts < spec.attempts) {
        // Revoked while it ran, and a retry was left: it ends revoked, as on BullMQ, where the
        // retry is taken by a worker that finds the revocation and fails it with TaskRevokedError.
        const revoked = new TaskRevokedError(revokedMessage(spec.task, spec.id, 'not-retried'), {
          cause: error,
        });
        finish(job, { status: 'revoked', failure: recordFailure(revoked) });
        return;
      }
      if (job.state.attempts < spec.attempts && !closed) {
        job.state.status = 'retry';
        job.state.failure = recordFailure(error);
        counter?.count(spec.task, 'retried');
        arm(job, retryDelay(spec.backoff, job.state.attempts));
        return;
      }
      counter?.count(spec.task, 'failed');
      finish(job, { status: 'failure', failure: recordFailure(error) });
    }
  }

  function add(spec: JobSpec, parent?: string): EagerJob | undefined {
    const k = key(spec.queue, spec.id);
    if (jobs.has(k)) return undefined; // idempotent: the kept job stands
    counter?.count(spec.task, 'enqueued');
    const job: EagerJob = {
      spec,
      state: { status: 'pending', task: spec.task, attempts: 0 },
      revoked: false,
      waiters: new Set(),
      ...(parent !== undefined ? { parent } : {}),
    };
    jobs.set(k, job);
    expireAt(job);
    const waiting = lookers.get(k);
    if (waiting) for (const wake of waiting) wake();
    return job;
  }

  function addFlow(spec: FlowSpec, parent?: string): void {
    const job = add(spec, parent);
    if (!job) return;
    if (spec.children.length === 0) {
      arm(job, spec.delay);
      return;
    }
    job.children = { keys: spec.children.map((c) => key(c.queue, c.id)), left: spec.children.length };
    for (const child of spec.children) addFlow(child, key(spec.queue, spec.id));
  }

  const driver: TaskDriver = {
    kind: 'eager',

    async enqueue(spec) {
      const job = add(spec);
      if (job) arm(job, spec.delay);
    },

    async enqueueFlow(root) {
      addFlow(root);
    },

    async state(id, queue) {
      const job = jobs.get(key(queue, id));
      if (!job) return undefined;
      const expired =
        job.state.status === 'pending' && job.spec.expiresAt !== undefined && Date.now() > job.spec.expiresAt;
      return { ...job.state, ...(expired ? { status: 'revoked' as const } : {}) };
    },

    async wait(id, queue, timeoutMs) {
      const k = key(queue, id);
      const job = jobs.get(k);
      if (job && FINISHED.has(job.state.status)) return { ...job.state };
      // An id not enqueued (yet) is waited on too, as Celery waits on PENDING: returning at
      // once would make get() loop on microtasks and starve every timer in the process.
      const waiters = job?.waiters ?? lookers.get(k) ?? new Set<() => void>();
      if (!job) lookers.set(k, waiters);
      await new Promise<void>((resolve) => {
        const timer = later(done, timeoutMs);
        function done() {
          cancel(timer);
          waiters.delete(done);
          if (!job && waiters.size === 0 && lookers.get(k) === waiters) lookers.delete(k);
          resolve();
        }
        waiters.add(done);
      });
      const now = jobs.get(k);
      return now ? { ...now.state } : undefined;
    },

    async revoke(id, queue) {
      const job = jobs.get(key(queue, id));
      if (!job || FINISHED.has(job.state.status)) return false;
      job.revoked = true;
      if (job.state.status === 'started') return false; // runs on; never retried
      cancel(job.timer);
      const error = new TaskRevokedError(revokedMessage(job.spec.task, id, 'revoked'));
      finish(job, { status: 'revoked', failure: recordFailure(error) });
      return true;
    },

    async schedule(name, spec, job) {
      cancel(schedules.get(name));
      let n = 0;
      const next = (): number => ('every' in spec ? spec.every : cronDelay(spec.cron, spec.tz));
      const tick = () => {
        if (closed) return;
        void driver.enqueue({ ...job, id: `repeat:${name}:${Date.now()}:${++n}`, delay: 0 });
        schedules.set(name, later(tick, next()));
      };
      if ('cron' in spec) await checkCron(spec.cron, spec.tz);
      // As BullMQ's job schedulers: an interval fires at once, then every interval; cron at its next tick.
      schedules.set(name, later(tick, 'every' in spec ? 0 : next()));
    },

    async unschedule(name) {
      cancel(schedules.get(name));
      return schedules.delete(name);
    },

    async startWorker({ queues, concurrency }) {
      // Jobs already run in this process; the worker is a handle that waits for them on close.
      const worker: TaskWorker = {
        queues,
        concurrency,
        close: async (force) => {
          if (!force) await Promise.allSettled([...running]);
        },
      };
      return worker;
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const timer of schedules.values()) cancel(timer);
      schedules.clear();
      for (const job of jobs.values()) {
        cancel(job.timer);
        cancel(job.expiry);
      }
      await Promise.allSettled([...running]);
      stop.abort(new TaskRevokedError('the Larder was closed'));
    },
  };
  return driver;
}

/** A JSON round trip: what a payload or result looks like after Redis. */
function structuredJson(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

// cron-parser is BullMQ's own cron library; the eager driver borrows it only for cron schedules.
let cron: { CronExpressionParser: any } | undefined;

async function loadCron(): Promise<void> {
  if (cron) return;
  try {
    cron = (await import('cron-parser' as string)) as { CronExpressionParser: any };
  } catch (cause) {
    throw new TaskUsageError(
      undefined,
      "cron schedules on the eager driver need the 'cron-parser' package (BullMQ's cron library): " +
        "npm install cron-parser — or schedule with { every: '5m' }.",
      { cause },
    );
  }
}

/** Milliseconds until the pattern's next tick. */
function cronDelay(pattern: string, tz: string | undefined): number {
  const expression = cron?.CronExpressionParser.parse(pattern, tz ? { tz } : {});
  return Math.max(0, expression.next().getTime() - Date.now());
}

/** Re-exported for the facade: a cron pattern is checked when it is scheduled. */
export async function checkCron(pattern: string, tz?: string): Promise<void> {
  await loadCron();
  try {
    cron?.CronExpressionParser.parse(pattern, tz ? { tz } : {});
  } catch (cause) {
    throw new TaskUsageError(
      undefined,
      `the cron pattern ${JSON.stringify(pattern)} is not valid (${(cause as Error).message}); ` +
        "use five or six fields, like '*/5 * * * *'.",
      { cause },
    );
  }
}
