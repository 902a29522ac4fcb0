/**
 * @module larder/tasks/canvas — Celery's canvas on BullMQ flows: `chain` (each result is
 * the next step's payload), `group` (in parallel, results in order) and `chord` (a group,
 * then a callback on the list of its results). A flow parent runs only after all its
 * children succeeded; when one fails for good, the parent fails with that child's error.
 */
import { TaskUsageError } from '../errors.js';
import { AsyncResult, GroupResult } from './result.js';
import type { Signature } from './task.js';
import type { FlowSpec, PayloadSource } from './types.js';

type ResultOf<S> = S extends Signature<any, infer R> ? R : never;
type Last<T extends readonly unknown[]> = T extends readonly [...unknown[], infer L] ? L : unknown;

function node(sig: Signature, payload: PayloadSource, children: FlowSpec[]): FlowSpec {
  return { ...sig.task.jobSpec(payload, sig.options), children };
}

function payloadOf(sig: Signature, fromChildren: 'previous' | 'all'): PayloadSource {
  return sig.bound ? { from: 'args', args: sig.bound.args } : { from: fromChildren };
}

function apply<R>(root: FlowSpec, sig: Signature): AsyncResult<R> {
  const driver = sig.task.driver;
  return new AsyncResult<R>(() => driver, root.id, root.task, root.queue, driver.enqueueFlow(root));
}

/**
 * Steps run one after another; each step without args of its own gets the result of the
 * one before. The `AsyncResult` is the last step's.
 *
 * @example
 * const total = await chain(fetchOrder.s({ id: 7 }), priceOrder.s(), chargeCard.s()).applyAsync().get();
 */
export function chain<const S extends readonly Signature<any, any>[]>(...steps: S): Chain<ResultOf<Last<S>>> {
  if (steps.length === 0)
    throw new TaskUsageError(undefined, 'chain() needs at least one signature (task.s(args)).');
  if (!steps[0].bound) {
    throw new TaskUsageError(
      steps[0].task.name,
      'the first step of a chain has no step before it: give it args, task.s(args).',
    );
  }
  return new Chain(steps);
}

/** A chain, ready to apply. */
export class Chain<R> {
  constructor(readonly steps: readonly Signature<any, any>[]) {}

  /** @internal The flow tree: the last step is the root, the first the deepest leaf. */
  flow(): FlowSpec {
    let below: FlowSpec | undefined;
    for (const [i, sig] of this.steps.entries()) {
      below =
        i === 0
          ? node(sig, { from: 'args', args: sig.bound?.args }, [])
          : node(sig, payloadOf(sig, 'previous'), [below as FlowSpec]);
    }
    return below as FlowSpec;
  }

  applyAsync(): AsyncResult<R> {
    return apply<R>(this.flow(), this.steps.at(-1) as Signature);
  }

  delay(): AsyncResult<R> {
    return this.applyAsync();
  }
}

/**
 * Members run in parallel; `get()` gives their results in the group's order.
 *
 * @example const [a, b] = await group([resize.s({ id: 1 }), resize.s({ id: 2 })]).applyAsync().get();
 */
export function group<R>(members: readonly Signature<any, R>[]): Group<R> {
  if (members.length === 0)
    throw new TaskUsageError(undefined, 'group() needs at least one signature (task.s(args)).');
  for (const sig of members) {
    if (!sig.bound) throw new TaskUsageError(sig.task.name, 'a group member needs its args: task.s(args).');
  }
  return new Group(members);
}

/** A group, ready to apply. */
export class Group<R> {
  constructor(readonly members: readonly Signature<any, R>[]) {}

  applyAsync(): GroupResult<R> {
    return new GroupResult<R>(this.members.map((sig) => sig.applyAsync()));
  }

  delay(): GroupResult<R> {
    return this.applyAsync();
  }
}

/**
 * A group, then `callback` on the list of its results (in the group's order), as one flow.
 * The `AsyncResult` is the callback's.
 *
 * @example
 * const total = await chord(group(parts.map((p) => count.s(p))), sum.s()).applyAsync().get();
 */
export function chord<R>(
  members: Group<any> | readonly Signature<any, any>[],
  callback: Signature<any, R>,
): Chord<R> {
  const g = members instanceof Group ? members : group(members);
  return new Chord<R>(g, callback);
}

/** A chord, ready to apply. */
export class Chord<R> {
  constructor(
    readonly header: Group<any>,
    readonly callback: Signature<any, R>,
  ) {}

  /** @internal */
  flow(): FlowSpec {
    const children = this.header.members.map((sig) => node(sig, { from: 'args', args: sig.bound?.args }, []));
    return node(this.callback, payloadOf(this.callback, 'all'), children);
  }

  applyAsync(): AsyncResult<R> {
    return apply<R>(this.flow(), this.callback);
  }

  delay(): AsyncResult<R> {
    return this.applyAsync();
  }
}
