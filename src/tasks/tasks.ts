/**
 * @module larder/tasks/tasks — `larder.tasks`: the registry of defined tasks, their driver
 * (eager in-process, or BullMQ on Redis), schedules and workers.
 */
import type { ResolvedConfig } from '../config/index.js';
import type { Duration } from '../config/types.js';
import { describeValue, TaskUsageError } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { QueueDepth } from '../metrics/types.js';
import { bullmqDriver } from './bullmq.js';
import { type Chord, chain, chord, type Group, group } from './canvas.js';
import { eagerDriver } from './eager.js';
import { AsyncResult } from './result.js';
import { type Signature, Task } from './task.js';
import type {
  ScheduleSpec,
  TaskDefinition,
  TaskDriver,
  TaskHandler,
  TaskOptions,
  TaskWorker,
  WorkerOptions,
} from './types.js';
import { checkName, checkSerializable, durationOf, resolveTaskOptions } from './validate.js';

/** When a schedule fires: a cron pattern (`'0 3 * * *'`), an interval (`'5m'`, 300), or either as an object. */
export type ScheduleWhen = string | number | { cron: string; tz?: string } | { every: Duration };

/** The host a `Tasks` lives in (a `Larder`): its config and its logger. */
export interface TasksHost {
  readonly config: ResolvedConfig;
  log(level: 'info' | 'warn' | 'error', message: string): void;
  /** Where jobs and runs are counted, and queue depths asked for. */
  readonly metrics?: Metrics;
}

/**
 * Celery's shape on BullMQ (DESIGN §4.5). Reached as `larder.tasks`.
 *
 * @example
 * const receipt = larder.tasks.define('receipt', async ({ orderId }: { orderId: string }) => send(orderId), { retries: 3 });
 * const result = receipt.delay({ orderId: 'o-1' });
 * await larder.tasks.schedule('nightly-report', '0 3 * * *', report, {});
 * const worker = await larder.tasks.startWorker({ concurrency: 4 }); // in the worker process
 */
export class Tasks {
  readonly #host: TasksHost;
  readonly #defs = new Map<string, Task<any, any>>();
  #driver: TaskDriver | undefined;
  readonly #workers = new Set<TaskWorker>();
  #closed = false;

  constructor(host: TasksHost) {
    this.#host = host;
    host.metrics?.watchQueues(this);
  }

  /** `'eager'` (in this process) or `'bullmq'` (on Redis). */
  get driverKind(): 'eager' | 'bullmq' {
    return this.#host.config.tasks.driver;
  }

  /**
   * Registers a task. Define every task in every process that applies or runs it (the
   * worker finds the handler by name). A name defined twice throws `TaskUsageError`.
   */
  define<P = void, R = unknown>(
    name: string,
    handler: TaskHandler<P, R>,
    options: TaskOptions = {},
  ): Task<P, R> {
    checkName(undefined, 'the task name', name);
    if (this.#defs.has(name)) {
      throw new TaskUsageError(
        name,
        'is already defined. Give each task its own name, or reuse the Task that define() returned.',
      );
    }
    if (typeof handler !== 'function') {
      throw new TaskUsageError(
        name,
        `the handler is ${describeValue(handler)}; expected a function (args, ctx) => result.`,
      );
    }
    const resolved = resolveTaskOptions(name, options, this.#host.config.tasks.defaultQueue);
    const definition: TaskDefinition = { name, handler: handler as TaskHandler<any, any>, ...resolved };
    const task = new Task<P, R>(definition, () => this.driver());
    this.#defs.set(name, task);
    return task;
  }

  /** The task named `name`; an unknown name throws `TaskUsageError` listing the known ones. */
  get<P = unknown, R = unknown>(name: string): Task<P, R> {
    const task = this.#defs.get(name);
    if (!task) {
      const known = [...this.#defs.keys()].map((n) => JSON.stringify(n)).join(', ') || 'none yet';
      throw new TaskUsageError(
        name,
        `is not defined in this process (defined: ${known}). Call larder.tasks.define() first.`,
      );
    }
    return task as Task<P, R>;
  }

  /** The names of every defined task. */
  names(): string[] {
    return [...this.#defs.keys()];
  }

  /**
   * An `AsyncResult` for a job id known from elsewhere (Celery's `AsyncResult(id)`).
   *
   * @example const status = await larder.tasks.result(req.params.id, { task: 'receipt' }).status();
   */
  result<R = unknown>(id: string, { task }: { task: string }): AsyncResult<R> {
    const t = this.get(task);
    return new AsyncResult<R>(() => this.driver(), id, t.name, t.queue, Promise.resolve());
  }

  /** Celery's `chain`; see canvas. */
  chain<const S extends readonly Signature<any, any>[]>(...steps: S) {
    return chain(...steps);
  }

  /** Celery's `group`; see canvas. */
  group<R>(members: readonly Signature<any, R>[]): Group<R> {
    return group(members);
  }

  /** Celery's `chord`; see canvas. */
  chord<R>(members: Group<any> | readonly Signature<any, any>[], callback: Signature<any, R>): Chord<R> {
    return chord(members, callback);
  }

  /**
   * Runs `task` with `args` on a schedule (Celery beat's entry; a BullMQ job scheduler on
   * Redis, so any number of processes may call it and it fires once per tick). Calling it
   * again with the same `name` replaces the schedule.
   *
   * @example
   * await larder.tasks.schedule('nightly-report', '0 3 * * *', report, { format: 'pdf' });
   * await larder.tasks.schedule('heartbeat', { every: '30s' }, ping, {});
   */
  async schedule<P>(name: string, when: ScheduleWhen, task: Task<P, any> | string, args: P): Promise<void> {
    checkName(undefined, 'the schedule name', name);
    const t = typeof task === 'string' ? this.get<P>(task) : task;
    checkSerializable(t.name, 'the payload', args);
    const spec = scheduleSpec(t.name, when);
    const { id: _id, delay: _delay, ...job } = t.jobSpec({ from: 'args', args }, {});
    await this.driver().schedule(name, spec, job);
  }

  /** Removes the schedule `name` from `task`'s queue; true when it existed. */
  unschedule(name: string, task: Task<any, any> | string): Promise<boolean> {
    const t = typeof task === 'string' ? this.get(task) : task;
    return this.driver().unschedule(name, t.queue);
  }

  /**
   * Starts a worker for `queues` (what `larder worker` runs). On BullMQ it takes jobs from
   * Redis; on the eager driver jobs already run in this process and the worker only waits
   * for them on `close()`.
   */
  async startWorker(options: WorkerOptions = {}): Promise<TaskWorker> {
    const queues = (options.queues ?? [this.#host.config.tasks.defaultQueue]).map((q) =>
      checkName(undefined, 'a queue', q),
    );
    if (queues.length === 0) throw new TaskUsageError(undefined, 'startWorker() needs at least one queue.');
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new TaskUsageError(
        undefined,
        `concurrency is ${describeValue(concurrency)}; expected a whole number of 1 or more.`,
      );
    }
    const worker = await this.driver().startWorker({
      queues: [...new Set(queues)],
      concurrency,
      lockDuration: durationOf(undefined, 'lockDuration', options.lockDuration ?? 30),
      stalledInterval: durationOf(undefined, 'stalledInterval', options.stalledInterval ?? 30),
    });
    this.#workers.add(worker);
    const close = worker.close.bind(worker);
    return Object.assign(worker, {
      close: async (force?: boolean) => {
        this.#workers.delete(worker);
        await close(force);
      },
    });
  }

  /**
   * Jobs per state in the queues of the defined tasks (and the default queue), asked of
   * the broker: what `larder.metrics.gauges()` reports. Empty on the eager driver.
   *
   * @example const { default: depth } = await larder.tasks.queueDepths(); // { waiting, active, delayed, failed }
   */
  async queueDepths(): Promise<Record<string, QueueDepth>> {
    if (this.#closed || this.driverKind !== 'bullmq') return {};
    const queues = new Set([this.#host.config.tasks.defaultQueue]);
    for (const task of this.#defs.values()) queues.add(task.queue);
    return (await this.driver().depths?.([...queues])) ?? {};
  }

  /** @internal The driver, made on first use. */
  driver(): TaskDriver {
    if (this.#closed)
      throw new TaskUsageError(undefined, 'larder.tasks is closed (larder.close()); create a new Larder.');
    if (!this.#driver) {
      const lookup = (name: string) => this.#defs.get(name)?.definition;
      const { config } = this.#host;
      const counter = this.#host.metrics?.taskCounter();
      this.#driver =
        config.tasks.driver === 'bullmq' && config.tasks.broker
          ? bullmqDriver({
              location: config.tasks.broker,
              prefix: config.tasks.prefix,
              lookup,
              log: (level, message) => this.#host.log(level, message),
              ...(counter ? { counter } : {}),
            })
          : eagerDriver(lookup, counter);
    }
    return this.#driver;
  }

  /** Closes workers (letting running jobs finish), then the driver's connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#workers].map((w) => w.close()));
    await this.#driver?.close();
  }
}

function scheduleSpec(task: string, when: ScheduleWhen): ScheduleSpec {
  if (typeof when === 'string' && /\s/.test(when.trim())) return { cron: when.trim() };
  if (typeof when === 'string' || typeof when === 'number') return { every: durationOf(task, 'every', when) };
  if (when && typeof when === 'object' && 'cron' in when && typeof when.cron === 'string') {
    return { cron: when.cron, ...(when.tz ? { tz: when.tz } : {}) };
  }
  if (when && typeof when === 'object' && 'every' in when)
    return { every: durationOf(task, 'every', when.every) };
  throw new TaskUsageError(
    task,
    `schedule's when is ${describeValue(when)}; expected a cron pattern ('0 3 * * *'), an interval ('5m', 300), ` +
      '{ cron, tz } or { every }.',
  );
}
