/**
 * @module larder/tasks/worker — a BullMQ worker that runs larder tasks: it finds the
 * handler by the job's name, drops revoked and expired jobs without retrying them, builds
 * a flow parent's payload from its children's results, and enforces `timeLimit`.
 *
 * A worker that dies mid-job (SIGKILL, a lost machine) stops renewing the job's lock;
 * after `lockDuration` another worker's stalled-job check (every `stalledInterval`) puts
 * the job back in the queue and it runs again: delivery is at least once.
 */
import type { Job, Worker } from 'bullmq';
import { TaskRevokedError, TaskUsageError } from '../errors.js';
import type { BullContext } from './bullmq.js';
import type { Envelope } from './bullmq-jobs.js';
import { closeRaw, type RawRedisClient, rawClient } from './connection.js';
import { revokedMessage, runOnce } from './run.js';

/** What `startBullWorker` returns. */
export interface BullWorkerHandle {
  queues: string[];
  concurrency: number;
  close(force?: boolean): Promise<void>;
}

/**
 * Starts one BullMQ `Worker` per queue; resolves once every one is connected.
 *
 * @example const worker = await startBullWorker(ctx, { queues: ['default'], concurrency: 4, lockDuration: 30_000, stalledInterval: 30_000 });
 */
export async function startBullWorker(
  ctx: BullContext,
  opts: { queues: string[]; concurrency: number; lockDuration: number; stalledInterval: number },
): Promise<BullWorkerHandle> {
  const { bull } = ctx;
  const stop = new AbortController();

  /** Fails the job at once, without retries, keeping `error`'s class name for `AsyncResult`. */
  const final = (error: Error): Error => {
    const wrapped = new bull.UnrecoverableError(error.message);
    wrapped.name = error.name;
    wrapped.stack = error.stack;
    return wrapped;
  };

  const processor = async (job: Job) => {
    const env = (job.data ?? { f: 'args' }) as Envelope;
    const id = job.id as string;
    const def = ctx.lookup(job.name);
    if (!def) {
      ctx.counter?.count(job.name, 'failed');
      throw final(
        new TaskUsageError(
          job.name,
          'is not defined in this worker process. Define it in the module the worker loads (--app).',
        ),
      );
    }
    if ((await ctx.commands.get(ctx.revokedKey(job.queueName, id))) !== null) {
      // A retry of a run that failed after revoke(): the run happened, the retry never does.
      throw final(
        new TaskRevokedError(revokedMessage(job.name, id, job.attemptsMade > 0 ? 'not-retried' : 'revoked')),
      );
    }
    if (env.x !== undefined && Date.now() > env.x) {
      throw final(new TaskRevokedError(revokedMessage(job.name, id, 'expired')));
    }
    let args: unknown = env.a;
    if (env.f !== 'args') {
      const values = (await job.getChildrenValues()) as Record<string, unknown>;
      const ordered = (env.k ?? Object.keys(values)).map((key) => values[key]);
      args = env.f === 'previous' ? ordered[0] : ordered;
    }
    try {
      const result = await runOnce(
        def,
        args,
        { id, task: job.name, queue: job.queueName, attempt: job.attemptsMade + 1, retries: def.retries },
        stop.signal,
      );
      ctx.counter?.count(job.name, 'succeeded');
      return result === undefined ? null : result;
    } catch (error) {
      // BullMQ's rule (Job.shouldRetryJob): another attempt is left and the error is recoverable.
      ctx.counter?.count(job.name, job.attemptsMade + 1 < (job.opts.attempts ?? 1) ? 'retried' : 'failed');
      throw error instanceof Error ? error : new Error(String(error));
    }
  };

  const clients: RawRedisClient[] = [];
  const workers: Worker[] = [];
  try {
    for (const queue of opts.queues) {
      const client = rawClient(ctx.location);
      clients.push(client);
      const worker = new bull.Worker(queue, processor, {
        connection: bull.createNodeRedisClient(client),
        prefix: ctx.prefix,
        concurrency: opts.concurrency,
        lockDuration: opts.lockDuration,
        stalledInterval: opts.stalledInterval,
        // A job found stalled once more than this fails; once is a worker crash, twice a poison job.
        maxStalledCount: 2,
        removeOnComplete: { age: 86_400, count: 10_000 },
        removeOnFail: { age: 86_400, count: 10_000 },
      });
      worker.on('error', (error: Error) =>
        ctx.log('warn', `larder worker: queue '${queue}': ${error.message}`),
      );
      workers.push(worker);
    }
    await Promise.all(workers.map((w) => w.waitUntilReady()));
  } catch (error) {
    await Promise.allSettled(workers.map((w) => w.close(true)));
    await Promise.all(clients.map(closeRaw));
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    queues: opts.queues,
    concurrency: opts.concurrency,
    close(force = false) {
      if (force) stop.abort(new TaskRevokedError('the worker was stopped with force'));
      closing ??= (async () => {
        // BullMQ's close waits for the running jobs unless forced; a forced job stays locked
        // until lockDuration passes, then another worker takes it over.
        await Promise.allSettled(workers.map((w) => w.close(force)));
        await Promise.all(clients.map(closeRaw));
      })();
      return closing;
    },
  };
}
