/**
 * Property tests of the memory rate-limit store (fast-check) against tiny reference models
 * written here in exact integer arithmetic: for random rules and random sequences of
 * (advance the clock, consume or peek a cost), every answer — allowed, remaining, resetAfter,
 * retryAfter — matches the model; `retryAfter` is the earliest millisecond at which the same
 * call passes; no fixed window ever lets more than `limit` through; GCRA never lets more
 * than `burst + elapsed / interval` through; and several rules consume all or nothing.
 * The clock runs at epoch magnitude (~1.7e12 ms), where floating-point drift would show.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { memoryRateLimitStore } from '../../src/ratelimit/memory.js';
import type { Algorithm, Rule, RuleOutcome } from '../../src/ratelimit/store.js';

// ------------------------------------------------------------------------------ models

/** One rule's reference model: what a call of `cost` at `t` answers, and how it changes the state. */
interface Model {
  check(t: number, cost: number): { outcome: RuleOutcome; commit: () => void };
}

const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

/** Fixed window: the window opens at the first allowed call and lasts `window` ms from then. */
function fixedModel(rule: Rule): Model {
  let count = 0;
  let end = Number.NEGATIVE_INFINITY;
  return {
    check(t, cost) {
      const open = t < end;
      const used = open ? count : 0;
      const ttl = open ? end - t : rule.window;
      const allowed = used + cost <= rule.limit;
      return {
        outcome: {
          allowed,
          remaining: rule.limit - used - (allowed ? cost : 0),
          resetAfter: ttl,
          retryAfter: allowed ? 0 : ttl,
        },
        commit: () => {
          if (!open) end = t + rule.window;
          count = used + cost;
        },
      };
    },
  };
}

/**
 * GCRA in units of 2^-10 ms, in BigInt: emission interval = window / limit truncated to that
 * grid (as redis-cell truncates it to whole nanoseconds), tolerance = burst × interval.
 */
export function gcraInterval(rule: Rule): bigint {
  const units = (BigInt(rule.window) * 1024n) / BigInt(rule.limit);
  return units > 0n ? units : 1n;
}

function gcraModel(rule: Rule): Model {
  const interval = gcraInterval(rule);
  const tolerance = BigInt(rule.burst) * interval;
  let tat = 0n;
  return {
    check(t, cost) {
      const now = BigInt(t) * 1024n;
      const from = tat > now ? tat : now;
      const next = from + BigInt(cost) * interval;
      const allowed = next - now <= tolerance;
      const ahead = allowed ? next - now : from - now;
      const left = (tolerance - ahead) / interval;
      return {
        outcome: {
          allowed,
          remaining: Number(left > 0n ? left : 0n),
          resetAfter: Number(ceilDiv(ahead, 1024n)),
          retryAfter: allowed ? 0 : Math.max(1, Number(ceilDiv(next - tolerance - now, 1024n))),
        },
        commit: () => {
          tat = next;
        },
      };
    },
  };
}

/**
 * Sliding window (two epoch-aligned buckets): allowed while
 * previous × (window − elapsed) / window + current + cost ≤ limit, compared in integers.
 * `retryAfter` is left to the search below (the earliest ms at which the call passes).
 */
function slidingModel(rule: Rule): Model {
  const w = rule.window;
  const counts = new Map<number, number>();
  return {
    check(t, cost) {
      const index = Math.floor(t / w);
      const current = counts.get(index) ?? 0;
      const previous = counts.get(index - 1) ?? 0;
      const elapsed = t - index * w;
      // Everything × w, so the weighted estimate is an integer.
      const estimate = previous * (w - elapsed) + current * w;
      const allowed = estimate + cost * w <= rule.limit * w;
      const left = rule.limit * w - estimate - (allowed ? cost * w : 0);
      const counted = current + (allowed ? cost : 0);
      return {
        outcome: {
          allowed,
          remaining: Math.max(0, Math.floor(left / w)),
          resetAfter: counted > 0 ? 2 * w - elapsed : previous > 0 ? w - elapsed : 0,
          retryAfter: allowed ? 0 : Number.NaN, // when refused: found by the search below
        },
        commit: () => {
          counts.set(index, current + cost);
        },
      };
    },
  };
}

const MODELS: Record<Algorithm, (rule: Rule) => Model> = {
  'fixed-window': fixedModel,
  'sliding-window': slidingModel,
  'token-bucket': gcraModel,
};

/** The earliest d ≥ 1 ms after which the same call passes, with nothing consumed meanwhile. */
function earliestPass(model: Model, t: number, cost: number): number {
  let hi = 1;
  while (!model.check(t + hi, cost).outcome.allowed) {
    hi *= 2;
    assert.ok(hi < 1e12, 'a refused call never passes');
  }
  let lo = 0; // refused at t + lo (lo = 0: the call itself)
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (model.check(t + mid, cost).outcome.allowed) hi = mid;
    else lo = mid;
  }
  return hi;
}

// ------------------------------------------------------------------------------ arbitraries

const EPOCH = 1_700_000_000_000;

const ruleArb = (algorithm: Algorithm, name = 'r'): fc.Arbitrary<Rule> =>
  fc
    .record({
      limit: fc.integer({ min: 1, max: 20 }),
      window: fc.oneof(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.constant(1000),
      ),
      extra: fc.integer({ min: 0, max: 15 }),
    })
    .map(({ limit, window, extra }) => ({
      name,
      limit,
      window,
      algorithm,
      burst: algorithm === 'token-bucket' ? Math.max(1, limit + extra - 5) : limit,
    }));

/** How far the clock moves before a call: nothing, a little, up to two windows, the last retryAfter (or 1 ms less). */
type Advance =
  | { kind: 'ms'; ms: number }
  | { kind: 'retry'; delta: 0 | -1 }
  | { kind: 'grid'; steps: number };

const advanceArb: fc.Arbitrary<Advance> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Advance>({ kind: 'ms', ms: 0 }) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 5 }).map((ms): Advance => ({ kind: 'ms', ms })) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 10_000 }).map((ms): Advance => ({ kind: 'ms', ms })) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<0 | -1>(0, -1).map((delta): Advance => ({ kind: 'retry', delta })),
  },
  // Multiples of window / limit: the instants where GCRA and the sliding weights cross over.
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 8 }).map((steps): Advance => ({ kind: 'grid', steps })) },
);

interface Op {
  advance: Advance;
  /** A fraction of the largest allowed cost. */
  cost: number;
  peek: boolean;
}

const opsArb = fc.array(
  fc.record({
    advance: advanceArb,
    cost: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
    peek: fc.integer({ min: 0, max: 9 }).map((n) => n < 3),
  }),
  { minLength: 1, maxLength: 40 },
);

// ------------------------------------------------------------------------------ driver

interface Event {
  t: number;
  cost: number;
  allowed: boolean;
  peek: boolean;
}

/** Runs `ops` against the memory store and the models, asserting equality at every step. */
async function runAgainstModels(rules: Rule[], start: number, ops: Op[]): Promise<Event[]> {
  let clock = start;
  const store = memoryRateLimitStore({ now: () => clock });
  const keys = rules.map((r) => `k:${r.name}`);
  const models = rules.map((r) => MODELS[r.algorithm](r));
  const most = Math.min(...rules.map((r) => (r.algorithm === 'token-bucket' ? r.burst : r.limit)));
  const events: Event[] = [];
  let lastRetry = 0;
  for (const [step, op] of ops.entries()) {
    const a = op.advance;
    const smallest = rules.reduce((x, y) => (x.window / x.limit < y.window / y.limit ? x : y));
    clock +=
      a.kind === 'ms'
        ? a.ms
        : a.kind === 'retry'
          ? Math.max(0, lastRetry + a.delta)
          : Math.round((a.steps * smallest.window) / smallest.limit);
    const cost = 1 + Math.floor(op.cost * (most - 1) + 0.5);
    const got = await store.consume(keys, rules, cost, op.peek);
    const checks = models.map((m) => m.check(clock, cost));
    const allowed = checks.every((c) => c.outcome.allowed);
    for (const [i, rule] of rules.entries()) {
      const want = { ...checks[i].outcome };
      if (!want.allowed) {
        const earliest = earliestPass(models[i], clock, cost);
        // The models' closed forms (fixed, GCRA) agree with the search: the models hold together.
        if (!Number.isNaN(want.retryAfter)) assert.equal(want.retryAfter, earliest, 'model self-check');
        want.retryAfter = earliest;
      }
      assert.deepEqual(
        got[i],
        want,
        `step ${step} (t = start + ${clock - start}, cost ${cost}${op.peek ? ', peek' : ''}): rule ${JSON.stringify(rule)}`,
      );
    }
    if (allowed && !op.peek) for (const c of checks) c.commit();
    if (!allowed) lastRetry = Math.max(...got.map((o) => o.retryAfter));
    events.push({ t: clock, cost, allowed, peek: op.peek });
  }
  return events;
}

const consumed = (events: Event[]) => events.filter((e) => e.allowed && !e.peek);

const startArb = fc.integer({ min: 0, max: 100_000_000 }).map((offset) => EPOCH + offset);

describe('memory rate-limit store against reference models', () => {
  it('fixed window: answers match the model; no window lets more than limit through', async () => {
    await fc.assert(
      fc.asyncProperty(ruleArb('fixed-window'), startArb, opsArb, async (rule, start, ops) => {
        const events = consumed(await runAgainstModels([rule], start, ops));
        // Windows rebuilt from the calls alone: each opens at the first call after the last one closed.
        let end = Number.NEGATIVE_INFINITY;
        let sum = 0;
        for (const e of events) {
          if (e.t >= end) {
            end = e.t + rule.window;
            sum = 0;
          }
          sum += e.cost;
          assert.ok(sum <= rule.limit, `${sum} units in the window ending at ${end}, limit ${rule.limit}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('GCRA: answers match the model; any span lets at most burst + span / interval through', async () => {
    await fc.assert(
      fc.asyncProperty(ruleArb('token-bucket'), startArb, opsArb, async (rule, start, ops) => {
        const events = consumed(await runAgainstModels([rule], start, ops));
        const interval = gcraInterval(rule);
        assert.ok(
          interval * BigInt(rule.limit) <= BigInt(rule.window) * 1024n,
          'never slower than limit/window',
        );
        for (let i = 0; i < events.length; i++) {
          let units = 0n;
          for (let j = i; j < events.length; j++) {
            units += BigInt(events[j].cost);
            const span = BigInt(events[j].t - events[i].t) * 1024n;
            assert.ok(
              units * interval <= span + BigInt(rule.burst) * interval,
              `${units} units within ${events[j].t - events[i].t} ms (burst ${rule.burst}, ${rule.limit}/${rule.window} ms)`,
            );
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('sliding window: answers match the model; no aligned window lets more than limit through', async () => {
    await fc.assert(
      fc.asyncProperty(ruleArb('sliding-window'), startArb, opsArb, async (rule, start, ops) => {
        const events = consumed(await runAgainstModels([rule], start, ops));
        const perWindow = new Map<number, number>();
        for (const e of events) {
          const index = Math.floor(e.t / rule.window);
          perWindow.set(index, (perWindow.get(index) ?? 0) + e.cost);
        }
        for (const [index, sum] of perWindow) assert.ok(sum <= rule.limit, `${sum} units in window ${index}`);
      }),
      { numRuns: 300 },
    );
  });

  it('several rules: each answers as its model, and a call is consumed from all of them or none', async () => {
    const algorithm = fc.constantFrom<Algorithm>('fixed-window', 'sliding-window', 'token-bucket');
    const rulesArb = fc
      .tuple(algorithm, algorithm, algorithm)
      .chain(([a, b, c]) => fc.tuple(ruleArb(a, 'a'), ruleArb(b, 'b'), ruleArb(c, 'c')));
    await fc.assert(
      fc.asyncProperty(rulesArb, startArb, opsArb, async (rules, start, ops) => {
        // runAgainstModels commits to every model only when every rule allows: a store that
        // consumed from a rule on a refused call would disagree with its model on a later step.
        await runAgainstModels(rules, start, ops);
      }),
      { numRuns: 300 },
    );
  });
});
