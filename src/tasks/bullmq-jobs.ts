/**
 * @module larder/tasks/bullmq-jobs — how a larder job is written into BullMQ and read back:
 * the envelope in `data`, the job options, flow trees, child keys and recorded failures.
 */
import type { FlowJob, Job, JobsOptions } from 'bullmq';
import type { TaskCounter } from '../metrics/metrics.js';
import type { FailureRecord, FlowSpec, JobSpec } from './types.js';

/** What a job carries in BullMQ's `data`. */
export interface Envelope {
  /** The payload, when it was given at apply time. */
  a?: unknown;
  /** Where the payload comes from: 'args', 'previous' (one child's result), 'all' (every child's). */
  f: 'args' | 'previous' | 'all';
  /** Expiry, epoch ms. */
  x?: number;
  /** The children's job keys, in order (flow parents). */
  k?: string[];
}

/** BullMQ's options for one job. */
export const jobOptions = (spec: JobSpec): JobsOptions => ({
  jobId: spec.id,
  delay: spec.delay,
  attempts: spec.attempts,
  backoff: spec.backoff,
  ...(spec.priority !== undefined ? { priority: spec.priority } : {}),
});

/** What a job carries in `data`; a flow parent lists its children's keys, in order. */
export const envelope = (prefix: string, spec: JobSpec, children: FlowSpec[] = []): Envelope => ({
  f: spec.payload.from,
  ...(spec.payload.from === 'args' && spec.payload.args !== undefined ? { a: spec.payload.args } : {}),
  ...(spec.expiresAt !== undefined ? { x: spec.expiresAt } : {}),
  ...(children.length ? { k: children.map((c) => `${prefix}:${c.queue}:${c.id}`) } : {}),
});

/** A flow tree for FlowProducer: each child fails its parent when it fails. */
export const flowJob = (prefix: string, spec: FlowSpec, child: boolean): FlowJob => ({
  name: spec.task,
  queueName: spec.queue,
  data: envelope(prefix, spec, spec.children),
  opts: { ...jobOptions(spec), ...(child ? { failParentOnFailure: true } : {}) },
  ...(spec.children.length ? { children: spec.children.map((c) => flowJob(prefix, c, true)) } : {}),
});

/** Counts every job of a flow tree as enqueued. */
export function countFlow(counter: TaskCounter, spec: FlowSpec): void {
  counter.count(spec.task, 'enqueued');
  for (const child of spec.children) countFlow(counter, child);
}

/** `prefix:queue:id` → [queue, id]. */
export function splitKey(prefix: string, key: string): [string, string] {
  const rest = key.slice(prefix.length + 1);
  const at = rest.indexOf(':');
  return [rest.slice(0, at), rest.slice(at + 1)];
}

/** The failure BullMQ recorded: the message, and the class name from the last stack trace's first line. */
export function failureOf(job: Job): FailureRecord {
  const stack = job.stacktrace?.at(-1) ?? '';
  const name = /^([A-Za-z_$][\w$]*)(?::|$)/.exec(stack.split('\n', 1)[0] ?? '')?.[1] ?? 'Error';
  return { name, message: job.failedReason ?? 'unknown failure' };
}
