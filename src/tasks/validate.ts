/**
 * @module larder/tasks/validate — every check on what a caller hands the task API, done
 * once, before anything is enqueued; each failure is a `TaskUsageError` saying what to do.
 */
import { DURATION_EXPECTED, parseDuration } from '../config/duration.js';
import type { Duration } from '../config/types.js';
import { ConfigError, describeValue, TaskUsageError } from '../errors.js';
import type { ApplyOptions, Backoff, JobSpec, TaskOptions } from './types.js';

/** BullMQ's priority range. */
const MAX_PRIORITY = 2_097_151;
const MAX_RETRIES = 1000;

/** A duration in ms, or a `TaskUsageError` naming the option. */
export function durationOf(
  task: string | undefined,
  option: string,
  value: unknown,
  allowZero = false,
): number {
  try {
    const ms = parseDuration(value as Duration, option, { allowZeroOrNegative: allowZero }) as number;
    if (ms < 0) throw new ConfigError(option, value, DURATION_EXPECTED);
    return ms;
  } catch (cause) {
    if (!(cause instanceof ConfigError)) throw cause;
    throw new TaskUsageError(
      task,
      `${option} is ${describeValue(value)}; expected ${allowZero ? 'zero or more: ' : ''}${DURATION_EXPECTED}.`,
      { cause },
    );
  }
}

/** A name for a task, queue, schedule or job id: BullMQ splits its keys on ':'. */
export function checkName(task: string | undefined, what: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200 || value.includes(':')) {
    throw new TaskUsageError(
      task,
      `${what} is ${describeValue(value)}; expected a non-empty string of at most 200 characters without ':' ` +
        "(BullMQ uses ':' to separate its keys).",
    );
  }
  return value;
}

function checkPriority(task: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_PRIORITY) {
    throw new TaskUsageError(
      task,
      `priority is ${describeValue(value)}; expected a whole number from 1 (first) to ${MAX_PRIORITY}, or none.`,
    );
  }
  return value as number;
}

function resolveBackoff(task: string, backoff: Backoff | undefined): JobSpec['backoff'] {
  if (backoff === undefined) return { type: 'exponential', delay: 1000, jitter: 0 };
  if (typeof backoff !== 'object') {
    return { type: 'fixed', delay: durationOf(task, 'backoff', backoff, true), jitter: 0 };
  }
  if (backoff.type !== 'fixed' && backoff.type !== 'exponential') {
    throw new TaskUsageError(
      task,
      `backoff.type is ${describeValue(backoff.type)}; expected 'fixed' or 'exponential'.`,
    );
  }
  const jitter = backoff.jitter ?? 0;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
    throw new TaskUsageError(
      task,
      `backoff.jitter is ${describeValue(jitter)}; expected a number from 0 to 1.`,
    );
  }
  return { type: backoff.type, delay: durationOf(task, 'backoff.delay', backoff.delay, true), jitter };
}

/** `define`'s options, resolved. */
export function resolveTaskOptions(name: string, options: TaskOptions, defaultQueue: string) {
  const known = new Set(['retries', 'backoff', 'queue', 'timeLimit', 'priority']);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new TaskUsageError(
        name,
        `define() has no option ${JSON.stringify(key)}; use ${[...known].join(', ')}.`,
      );
    }
  }
  const retries = options.retries ?? 0;
  if (!Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES) {
    throw new TaskUsageError(
      name,
      `retries is ${describeValue(retries)}; expected a whole number from 0 to ${MAX_RETRIES} (runs after the first).`,
    );
  }
  return {
    retries,
    backoff: resolveBackoff(name, options.backoff),
    queue: checkName(name, 'queue', options.queue ?? defaultQueue),
    timeLimit: options.timeLimit === undefined ? undefined : durationOf(name, 'timeLimit', options.timeLimit),
    priority: checkPriority(name, options.priority),
  };
}

/** `applyAsync`'s options, resolved against the clock: delay, expiry, priority, id. */
export function resolveApplyOptions(task: string, options: ApplyOptions, taskPriority: number | undefined) {
  const known = new Set(['countdown', 'eta', 'priority', 'expires', 'jobId']);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new TaskUsageError(
        task,
        `applyAsync() has no option ${JSON.stringify(key)}; use ${[...known].join(', ')}.`,
      );
    }
  }
  const now = Date.now();
  if (options.countdown !== undefined && options.eta !== undefined) {
    throw new TaskUsageError(task, 'give countdown or eta, not both (countdown is eta - now).');
  }
  let delay = 0;
  if (options.countdown !== undefined) delay = durationOf(task, 'countdown', options.countdown, true);
  if (options.eta !== undefined) {
    if (!(options.eta instanceof Date) || Number.isNaN(options.eta.getTime())) {
      throw new TaskUsageError(task, `eta is ${describeValue(options.eta)}; expected a valid Date.`);
    }
    delay = Math.max(0, options.eta.getTime() - now); // a past eta runs at once, as in Celery
  }
  let expiresAt: number | undefined;
  if (options.expires instanceof Date) {
    expiresAt = options.expires.getTime();
    if (Number.isNaN(expiresAt) || expiresAt <= now) {
      throw new TaskUsageError(
        task,
        `expires is ${describeValue(options.expires)}, which is not a future moment; give a later Date or a duration like '10m'.`,
      );
    }
  } else if (options.expires !== undefined) {
    expiresAt = now + durationOf(task, 'expires', options.expires);
  }
  let jobId: string | undefined;
  if (options.jobId !== undefined) {
    jobId = checkName(task, 'jobId', options.jobId);
    // BullMQ keeps whole numbers for the ids it makes itself.
    if (/^\d+$/.test(jobId)) {
      throw new TaskUsageError(
        task,
        `jobId ${JSON.stringify(jobId)} is a whole number; prefix it, like 'order-${jobId}'.`,
      );
    }
  }
  return { delay, expiresAt, priority: checkPriority(task, options.priority) ?? taskPriority, jobId };
}

/**
 * Throws unless `value` survives JSON unchanged (what a payload or result must do to
 * travel through Redis): no functions, symbols, BigInts, non-finite numbers, cycles,
 * Maps, Sets or class instances. Dates are allowed and arrive as ISO strings.
 */
export function checkSerializable(task: string, what: string, value: unknown): void {
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): void => {
    const fail = (why: string) => {
      throw new TaskUsageError(
        task,
        `${what}${path} ${why}; a payload must be plain JSON (objects, arrays, strings, finite numbers, ` +
          'booleans, null). Send ids or ISO strings instead and look the rest up in the task.',
      );
    };
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) fail(`is ${v}, which JSON turns into null`);
      return;
    }
    if (v === undefined) {
      if (path !== '') fail('is undefined, which JSON drops');
      return;
    }
    if (typeof v !== 'object') fail(`is a ${typeof v}`);
    const o = v as object;
    if (o instanceof Date) return;
    if (seen.has(o)) fail('refers back to itself (a cycle)');
    const proto = Object.getPrototypeOf(o);
    if (!Array.isArray(o) && proto !== Object.prototype && proto !== null) {
      fail(`is a ${proto?.constructor?.name ?? 'class instance'}, which JSON does not keep`);
    }
    seen.add(o);
    if (Array.isArray(o)) {
      for (const [i, item] of o.entries()) walk(item, `${path}[${i}]`);
    } else for (const [k, item] of Object.entries(o)) if (item !== undefined) walk(item, `${path}.${k}`);
    seen.delete(o);
  };
  walk(value, '');
}
