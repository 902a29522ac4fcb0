/**
 * @module larder/tasks — Celery's shape on BullMQ (DESIGN §4.5): `larder.tasks.define`,
 * `delay` / `applyAsync` → `AsyncResult`, retries, expiry, time limits, revocation,
 * `chain` / `group` / `chord`, schedules, workers; an eager in-process driver by default.
 *
 * @example
 * import { createLarder } from 'larder';
 * import { chain } from 'larder/tasks';
 * const larder = createLarder();
 * const add = larder.tasks.define('add', ({ a, b }: { a: number; b: number }) => a + b, { retries: 2 });
 * const double = larder.tasks.define('double', (n: number) => n * 2);
 * console.log(await chain(add.s({ a: 1, b: 2 }), double.s()).applyAsync().get()); // 6
 */
export { Chain, Chord, chain, chord, Group, group } from './canvas.js';
export { AsyncResult, type GetOptions, GroupResult } from './result.js';
export { Signature, Task } from './task.js';
export { type ScheduleWhen, Tasks } from './tasks.js';
export type {
  ApplyOptions,
  Backoff,
  JobState,
  TaskContext,
  TaskHandler,
  TaskOptions,
  TaskStatus,
  TaskWorker,
  WorkerOptions,
} from './types.js';
