/**
 * @module larder/tasks/bullmq — the Redis task driver, on BullMQ 6 over node-redis
 * (`createNodeRedisClient`). BullMQ does the queueing, retries with backoff, delays,
 * priorities, flows (the canvas), job schedulers and stalled-job recovery; this file adds
 * what Celery has and BullMQ lacks: expiry, revocation of any job, time limits, errors
 * that keep their class, and job state in Celery's words.
 *
 * BullMQ is loaded on first use, so the eager default works without it installed.
 */
import type { FlowProducer, Job, Queue, QueueEvents } from 'bullmq';
import type { RedisLocation } from '../config/types.js';
import { BackendUnavailableError, TaskRevokedError, TaskUsageError } from '../errors.js';
import type { TaskCounter } from '../metrics/metrics.js';
import type { QueueDepth } from '../metrics/types.js';
import { within } from '../within.js';
import {
  countFlow,
  type Envelope,
  envelope,
  failureOf,
  flowJob,
  jobOptions,
  splitKey,
} from './bullmq-jobs.js';
import {
  brokerBudget,
  checkBrokerLocation,
  closeRaw,
  type RawRedisClient,
  rawClient,
  withBroker,
} from './connection.js';
import { recordFailure, revokedMessage } from './run.js';
import type { JobState, TaskDefinition, TaskDriver } from './types.js';
import { startBullWorker } from './worker.js';

type BullMQ = typeof import('bullmq');

/** Jobs kept after they finish, for `AsyncResult` and `jobId` idempotency (Celery's result_expires: 1 day). */
const KEEP = { age: 86_400, count: 10_000 };
/** A revocation is remembered this long (Celery keeps revoked ids in memory for as long). */
const REVOKED_TTL_MS = 86_400_000;
/** Our states of a job that is done. */
const FINISHED: readonly string[] = ['success', 'failure', 'revoked'];
/** BullMQ states of a job that has not started. */
const PENDING = ['waiting', 'wait', 'delayed', 'prioritized', 'waiting-children'];
/** `wait` re-reads the state this often as well, in case an event went by unseen. */
const POLL_MS = 1_000;

/** Options of {@link bullmqDriver}. */
export interface BullmqDriverOptions {
  location: RedisLocation;
  prefix: string;
  lookup: (name: string) => TaskDefinition | undefined;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Hears of every job enqueued here and, in a worker, every run's outcome (`larder.metrics`). */
  counter?: TaskCounter;
}

/** The shared parts of a running driver, also handed to workers. */
export interface BullContext {
  bull: BullMQ;
  prefix: string;
  location: RedisLocation;
  commands: RawRedisClient;
  adapter: ReturnType<BullMQ['createNodeRedisClient']>;
  revokedKey(queue: string, id: string): string;
  lookup: BullmqDriverOptions['lookup'];
  log: BullmqDriverOptions['log'];
  counter: BullmqDriverOptions['counter'];
}

/**
 * The BullMQ driver; connects on first use.
 *
 * @example const driver = bullmqDriver({ location, prefix: 'larder', lookup, log: console.log });
 */
export function bullmqDriver(options: BullmqDriverOptions): TaskDriver {
  checkBrokerLocation(options.location);
  const budget = brokerBudget(options.location);
  const queues = new Map<string, Queue>();
  const events = new Map<string, Promise<QueueEvents>>();
  const eventClients: RawRedisClient[] = [];
  const workers = new Set<{ close(force?: boolean): Promise<void> }>();
  let flows: FlowProducer | undefined;
  let ctx: Promise<BullContext> | undefined;
  let closed = false;

  const context = (): Promise<BullContext> => {
    if (closed)
      return Promise.reject(new TaskUsageError(undefined, 'the task driver is closed (larder.close()).'));
    ctx ??= (async () => {
      let bull: BullMQ;
      try {
        bull = await import('bullmq');
      } catch (cause) {
        throw new TaskUsageError(
          undefined,
          "the 'bullmq' driver needs the bullmq package: npm install bullmq@6 — or set tasks.driver to 'eager'.",
          { cause },
        );
      }
      const commands = rawClient(options.location);
      return {
        bull,
        prefix: options.prefix,
        location: options.location,
        commands,
        adapter: bull.createNodeRedisClient(commands),
        revokedKey: (queue, id) => `${options.prefix}:${queue}:larder-revoked:${id}`,
        lookup: options.lookup,
        log: options.log,
        counter: options.counter,
      };
    })();
    return ctx;
  };

  /** Runs `op` on the broker, failing with BackendUnavailableError when Redis does not answer in time. */
  const reach = async <T>(what: string, op: () => Promise<T>): Promise<T> =>
    withBroker((await context()).commands, options.location, what, op);

  const queueOf = async (name: string): Promise<Queue> => {
    const c = await context();
    let queue = queues.get(name);
    if (!queue) {
      queue = new c.bull.Queue(name, {
        connection: c.adapter,
        prefix: c.prefix,
        defaultJobOptions: { removeOnComplete: KEEP, removeOnFail: KEEP },
      });
      queue.on('error', (error: Error) => c.log('warn', `larder tasks: queue '${name}': ${error.message}`));
      queues.set(name, queue);
    }
    return queue;
  };

  const eventsOf = (name: string): Promise<QueueEvents> => {
    let found = events.get(name);
    if (!found) {
      found = (async () => {
        const c = await context();
        const client = rawClient(c.location);
        eventClients.push(client);
        const qe = new c.bull.QueueEvents(name, {
          connection: c.bull.createNodeRedisClient(client),
          prefix: c.prefix,
        });
        qe.on('error', (error: Error) =>
          c.log('warn', `larder tasks: events of '${name}': ${error.message}`),
        );
        await qe.waitUntilReady();
        qe.setMaxListeners(0); // one listener pair per waiting get()
        return qe;
      })();
      // A failed start (Redis down) is not kept: the next get() tries again.
      found.catch(() => events.delete(name));
      events.set(name, found);
    }
    return found;
  };

  const state = (id: string, queue: string): Promise<JobState | undefined> =>
    reach(`read the state of job ${id}`, () => readState(id, queue));

  async function readState(id: string, queue: string): Promise<JobState | undefined> {
    const q = await queueOf(queue);
    // The state first, the job's hash after: a job read while active and found completed a
    // moment later would show no result.
    const bullState = await q.getJobState(id);
    const job = bullState === 'unknown' ? undefined : ((await q.getJob(id)) as Job | undefined);
    if (!job) {
      const c = await context();
      if ((await c.commands.get(c.revokedKey(queue, id))) === null) return undefined;
      const failure = recordFailure(new TaskRevokedError(revokedMessage('?', id, 'revoked')));
      return { status: 'revoked', task: '?', attempts: 0, failure };
    }
    const env = (job.data ?? {}) as Envelope;
    const base = { task: job.name, attempts: job.attemptsMade };
    switch (bullState) {
      case 'completed':
        return { ...base, status: 'success', result: job.returnvalue ?? null };
      case 'failed': {
        // A parent failed by a child (failParentOnFailure) never ran: the child's error is the story.
        for (const key of env.k ?? []) {
          const [childQueue, childId] = splitKey(options.prefix, key);
          const child = await readState(childId, childQueue);
          if (child && (child.status === 'failure' || child.status === 'revoked'))
            return { id: childId, ...child };
        }
        const failure = failureOf(job);
        return { ...base, status: failure.name === 'TaskRevokedError' ? 'revoked' : 'failure', failure };
      }
      case 'active':
        return { ...base, status: 'started' };
      case 'unknown':
        return undefined;
      default: {
        // waiting, delayed, prioritized, waiting-children
        const c = await context();
        if (job.parentKey && (await c.commands.get(c.revokedKey(queue, id))) !== null) {
          // A revoked flow child waits for a worker to fail it (see revoke): it is revoked now.
          const failure = recordFailure(new TaskRevokedError(revokedMessage(job.name, id, 'revoked')));
          return { ...base, status: 'revoked', failure };
        }
        if (env.x !== undefined && Date.now() > env.x) {
          const failure = recordFailure(new TaskRevokedError(revokedMessage(job.name, id, 'expired')));
          return { ...base, status: 'revoked', failure };
        }
        return { ...base, status: job.attemptsMade > 0 ? 'retry' : 'pending' };
      }
    }
  }

  async function revoke(id: string, queue: string): Promise<boolean> {
    const c = await context();
    // Remembered first: a run that is active now is never retried, a copy never started.
    await c.commands.set(c.revokedKey(queue, id), '1', { PX: REVOKED_TTL_MS });
    const job = (await (await queueOf(queue)).getJob(id)) as Job | undefined;
    if (!job) return false;
    const bullState = await job.getState();
    if (!PENDING.includes(bullState)) return false;
    if (job.parentKey) {
      // A flow child (a chain link, a chord member) is failed, not removed: remove() drops it
      // from its parent's dependencies and, when it was the last, starts the parent without
      // its result. moveToFailed needs the job active, so a worker fails it: it finds the
      // mark set above and throws TaskRevokedError unrecoverably before the handler runs,
      // and failParentOnFailure fails the parent. A delayed one is promoted to go now.
      if (bullState === 'delayed') await job.promote().catch(() => {});
      return true;
    }
    try {
      await job.remove();
      return true;
    } catch {
      return false; // a worker took it in the meantime: it finishes this run, without retries
    }
  }

  return {
    kind: 'bullmq',

    async enqueue(spec) {
      const q = await queueOf(spec.queue);
      await reach(`enqueue job ${spec.id}`, () =>
        q.add(spec.task, envelope(options.prefix, spec), jobOptions(spec)),
      );
      options.counter?.count(spec.task, 'enqueued');
    },

    async enqueueFlow(root) {
      const c = await context();
      flows ??= new c.bull.FlowProducer({ connection: c.adapter, prefix: c.prefix });
      const producer = flows;
      await reach(`enqueue flow ${root.id}`, () =>
        producer.add(flowJob(options.prefix, root, false), { queuesOptions: {} }),
      );
      if (options.counter) countFlow(options.counter, root);
    },

    state,

    async wait(id, queue, timeoutMs) {
      // The state first: a broker that is down fails here with BackendUnavailableError, before
      // a QueueEvents is opened (BullMQ 6.7 cannot close one that never connected).
      const first = await state(id, queue);
      if ((first && FINISHED.includes(first.status)) || timeoutMs <= 0) return first;
      // QueueEvents also emits `completed:<id>` / `failed:<id>`, which its typings leave out.
      const emitter = (await reach(`listen for the events of queue '${queue}'`, () =>
        eventsOf(queue),
      )) as unknown as import('node:events').EventEmitter;
      const deadline = Date.now() + timeoutMs;
      let wake: () => void = () => {};
      const onEvent = () => wake();
      emitter.on(`completed:${id}`, onEvent);
      emitter.on(`failed:${id}`, onEvent);
      try {
        for (;;) {
          const now = await state(id, queue);
          const left = deadline - Date.now();
          if ((now && FINISHED.includes(now.status)) || left <= 0) return now;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(left, POLL_MS));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      } finally {
        emitter.off(`completed:${id}`, onEvent);
        emitter.off(`failed:${id}`, onEvent);
      }
    },

    revoke: (id, queue) => reach(`revoke job ${id}`, () => revoke(id, queue)),

    async schedule(name, spec, job) {
      const q = await queueOf(job.queue);
      const repeat =
        'every' in spec ? { every: spec.every } : { pattern: spec.cron, ...(spec.tz ? { tz: spec.tz } : {}) };
      try {
        await reach(`schedule ${JSON.stringify(name)}`, () =>
          q.upsertJobScheduler(name, repeat, {
            name: job.task,
            data: envelope(options.prefix, { ...job, id: name, delay: 0 }),
            opts: {
              attempts: job.attempts,
              backoff: job.backoff,
              ...(job.priority !== undefined ? { priority: job.priority } : {}),
            },
          }),
        );
      } catch (cause) {
        if (cause instanceof BackendUnavailableError) throw cause;
        throw new TaskUsageError(
          job.task,
          `schedule ${JSON.stringify(name)} was refused: ${(cause as Error).message}`,
          {
            cause,
          },
        );
      }
    },

    async unschedule(name, queue) {
      const q = await queueOf(queue);
      return reach(`unschedule ${JSON.stringify(name)}`, () => q.removeJobScheduler(name));
    },

    async depths(names) {
      const out: Record<string, QueueDepth> = {};
      for (const name of names) {
        const q = await queueOf(name);
        const counts = await reach(`count the jobs of queue '${name}'`, () =>
          q.getJobCounts('waiting', 'prioritized', 'waiting-children', 'active', 'delayed', 'failed'),
        );
        // BullMQ keeps prioritized jobs and flow parents apart from `waiting`: all of them wait.
        out[name] = {
          waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts['waiting-children'] ?? 0),
          active: counts.active ?? 0,
          delayed: counts.delayed ?? 0,
          failed: counts.failed ?? 0,
        };
      }
      return out;
    },

    async startWorker(opts) {
      const worker = await startBullWorker(await context(), opts);
      workers.add(worker);
      return {
        queues: worker.queues,
        concurrency: worker.concurrency,
        close: async (force) => {
          workers.delete(worker);
          await worker.close(force);
        },
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...workers].map((w) => w.close()));
      // A QueueEvents still connecting (Redis went down) is not waited for: its client is closed below.
      const opened = await Promise.all(
        [...events.values()].map((qe) =>
          within(
            qe.catch(() => undefined),
            budget,
            () => undefined,
            { keepAlive: true },
          ),
        ),
      );
      await Promise.allSettled([
        ...opened.map((qe) => qe?.close()),
        ...[...queues.values()].map((q) => q.close()),
        flows?.close(),
      ]);
      const c = ctx ? await ctx.catch(() => undefined) : undefined;
      await Promise.all([...eventClients, ...(c ? [c.commands] : [])].map(closeRaw));
    },
  };
}
