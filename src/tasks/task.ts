/**
 * @module larder/tasks/task — a defined task: `delay`, `applyAsync`, and `s()` for the canvas.
 */
import { randomUUID } from 'node:crypto';
import { AsyncResult } from './result.js';
import type { ApplyOptions, JobSpec, PayloadSource, TaskDefinition, TaskDriver } from './types.js';
import { checkSerializable, resolveApplyOptions } from './validate.js';

/**
 * A task returned by `larder.tasks.define`: typed payload `P`, typed result `R`.
 *
 * @example
 * const add = larder.tasks.define('add', ({ a, b }: { a: number; b: number }) => a + b, { retries: 2 });
 * const sum: number = await add.delay({ a: 1, b: 2 }).get();
 */
export class Task<P = unknown, R = unknown> {
  readonly name: string;
  /** @internal */
  readonly definition: TaskDefinition;
  readonly #driver: () => TaskDriver;

  /** @internal Made by `larder.tasks.define`. */
  constructor(definition: TaskDefinition, driver: () => TaskDriver) {
    this.name = definition.name;
    this.definition = definition;
    this.#driver = driver;
  }

  /** The queue its jobs go to. */
  get queue(): string {
    return this.definition.queue;
  }

  /** Applies the task with the payload and no options (Celery's `delay`); a task without a payload takes none. */
  delay(...args: undefined extends P ? [args?: P] : [args: P]): AsyncResult<R> {
    return this.applyAsync(args[0] as P);
  }

  /**
   * Applies the task (Celery's `apply_async`). Bad options or a payload JSON cannot carry
   * throw `TaskUsageError` here, synchronously; nothing is enqueued then.
   */
  applyAsync(args: P, options: ApplyOptions = {}): AsyncResult<R> {
    const spec = this.jobSpec({ from: 'args', args }, options);
    const driver = this.#driver();
    return new AsyncResult<R>(() => driver, spec.id, this.name, spec.queue, driver.enqueue(spec));
  }

  /**
   * A signature for the canvas. With `args`, the job runs on them; without, it runs on the
   * result of the step before it (a chain) or the list of a group's results (a chord).
   *
   * @example chain(fetch.s({ url }), parse.s(), store.s())
   */
  s(args?: P, options: ApplyOptions = {}): Signature<P, R> {
    return new Signature(this, args === undefined ? undefined : { args }, options);
  }

  /** @internal A validated job for this task. */
  jobSpec(payload: PayloadSource, options: ApplyOptions): JobSpec {
    const def = this.definition;
    if (payload.from === 'args') checkSerializable(this.name, 'the payload', payload.args);
    const resolved = resolveApplyOptions(this.name, options, def.priority);
    return {
      id: resolved.jobId ?? randomUUID(),
      task: this.name,
      queue: def.queue,
      payload,
      delay: resolved.delay,
      priority: resolved.priority,
      expiresAt: resolved.expiresAt,
      attempts: def.retries + 1,
      backoff: def.backoff,
    };
  }

  /** @internal */
  get driver(): TaskDriver {
    return this.#driver();
  }
}

/** A task with its payload (or none: the step before gives it) and options, for the canvas. */
export class Signature<P = unknown, R = unknown> {
  constructor(
    readonly task: Task<P, R>,
    readonly bound: { args: P } | undefined,
    readonly options: ApplyOptions,
  ) {}

  /** Applies this one signature on its own. */
  applyAsync(): AsyncResult<R> {
    return this.task.applyAsync(this.bound?.args as P, this.options);
  }
}
