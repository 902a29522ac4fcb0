/**
 * The in-process rate-limit store: the embedded default and the insurance limiter during
 * a Redis outage. Same algorithms and rounding as the Lua script in `redis.ts` (the shared
 * conformance suite holds them together), on an injectable clock.
 */
import type { RateLimitStore, Rule, RuleOutcome } from './store.js';

/**
 * Options of {@link memoryRateLimitStore}.
 *
 * @example
 * const options: MemoryRateLimitStoreOptions = { now: () => clock, maxKeys: 10_000 };
 */
export interface MemoryRateLimitStoreOptions {
  /** The clock, epoch ms. @default Date.now */
  now?: () => number;
  /** Most subjects × rules held; the oldest are dropped beyond it. @default 100000 */
  maxKeys?: number;
}

/** fixed-window: count and window end; sliding-window: bucket index and the two counts; token-bucket: TAT. */
type State =
  | { kind: 'fixed'; count: number; expiresAt: number }
  | { kind: 'sliding'; index: number; current: number; previous: number; expiresAt: number }
  | { kind: 'gcra'; tat: number; expiresAt: number };

type Plan = { outcome: RuleOutcome; apply: () => State };

/**
 * Rate limits in a Map, expired lazily.
 *
 * @example
 * const store = memoryRateLimitStore({ now: () => fake.now });
 */
export function memoryRateLimitStore(options: MemoryRateLimitStoreOptions = {}): RateLimitStore {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 100_000;
  const states = new Map<string, State>();

  const live = (key: string, t: number) => {
    const state = states.get(key);
    if (state && state.expiresAt <= t) {
      states.delete(key);
      return undefined;
    }
    return state;
  };

  return {
    name: 'memory',
    async consume(keys, rules, cost, peek) {
      const t = now();
      const plans = rules.map((rule, i) => plan(rule, live(keys[i], t), cost, t));
      const allowed = plans.every((p) => p.outcome.allowed);
      if (allowed && !peek) {
        plans.forEach((p, i) => {
          states.delete(keys[i]);
          states.set(keys[i], p.apply());
        });
        // Map order is insertion order: the first keys are the least recently consumed.
        for (const key of states.keys()) {
          if (states.size <= maxKeys) break;
          states.delete(key);
        }
      }
      return plans.map((p) => p.outcome);
    },
    async reset(keys) {
      for (const key of keys) states.delete(key);
    },
  };
}

function plan(rule: Rule, state: State | undefined, cost: number, t: number): Plan {
  switch (rule.algorithm) {
    case 'fixed-window':
      return fixed(rule, state?.kind === 'fixed' ? state : undefined, cost, t);
    case 'sliding-window':
      return sliding(rule, state?.kind === 'sliding' ? state : undefined, cost, t);
    case 'token-bucket':
      return gcra(rule, state?.kind === 'gcra' ? state : undefined, cost, t);
  }
}

// Fixed window: the window starts at the first hit and is never extended by later ones.
function fixed(
  rule: Rule,
  state: Extract<State, { kind: 'fixed' }> | undefined,
  cost: number,
  t: number,
): Plan {
  const count = state?.count ?? 0;
  const ttl = state ? state.expiresAt - t : rule.window;
  const allowed = count + cost <= rule.limit;
  return {
    outcome: {
      allowed,
      remaining: rule.limit - count - (allowed ? cost : 0),
      resetAfter: ttl,
      retryAfter: allowed ? 0 : ttl,
    },
    apply: () => ({
      kind: 'fixed',
      count: count + cost,
      expiresAt: state ? state.expiresAt : t + rule.window,
    }),
  };
}

// Sliding window (two buckets, Cloudflare's weighting): the previous window's count weighs
// in proportion to how much of it still overlaps the sliding window.
function sliding(
  rule: Rule,
  state: Extract<State, { kind: 'sliding' }> | undefined,
  cost: number,
  t: number,
): Plan {
  const w = rule.window;
  const index = Math.floor(t / w);
  let current = 0;
  let previous = 0;
  if (state?.index === index) {
    current = state.current;
    previous = state.previous;
  } else if (state?.index === index - 1) {
    previous = state.current;
  }
  const elapsed = t - index * w;
  const estimate = (previous * (w - elapsed)) / w + current;
  const allowed = estimate + cost <= rule.limit;
  const remaining = Math.max(0, Math.floor(rule.limit - estimate - (allowed ? cost : 0)));
  // Back to the full allowance once both buckets have faded out of the sliding window.
  const counted = current + (allowed ? cost : 0);
  const resetAfter = counted > 0 ? 2 * w - elapsed : previous > 0 ? w - elapsed : 0;
  return {
    outcome: {
      allowed,
      remaining,
      resetAfter,
      retryAfter: allowed ? 0 : slidingRetry(rule, current, previous, elapsed, cost),
    },
    apply: () => ({ kind: 'sliding', index, current: current + cost, previous, expiresAt: (index + 2) * w }),
  };
}

/** When a call of `cost` would pass: later in this window as the previous bucket fades, or in the next. */
export function slidingRetry(
  rule: Rule,
  current: number,
  previous: number,
  elapsed: number,
  cost: number,
): number {
  const w = rule.window;
  const room = rule.limit - cost - current;
  if (room >= 0 && previous > 0) {
    // previous * (w - e) / w <= room  ⇔  e >= w - room * w / previous
    const at = w - (room * w) / previous;
    if (at < w) return Math.max(1, Math.ceil(at - elapsed));
  }
  // Next window: this window's count becomes the fading one.
  const nextRoom = rule.limit - cost;
  const at = current > 0 ? w - (nextRoom * w) / current : 0;
  return Math.max(1, Math.ceil(w - elapsed + Math.max(0, at)));
}

// GCRA: the theoretical arrival time (TAT) moves `cost × interval` per call; a call passes
// when it leaves TAT at most `burst × interval` ahead of now.
function gcra(
  rule: Rule,
  state: Extract<State, { kind: 'gcra' }> | undefined,
  cost: number,
  t: number,
): Plan {
  // The interval truncated to a 2^-10 ms grid (redis-cell truncates it to whole ns): TAT is
  // then epoch ms plus whole grid steps, exact in a double until 2^43 ms (year 2248), so
  // `burst` calls at once fill the tolerance exactly. Unquantized, 1000 / 6 drifted on a
  // 1.7e12 ms TAT and the 6th call of a 6/s limit was refused.
  const interval = Math.max(1, Math.floor((rule.window / rule.limit) * 1024)) / 1024;
  const tolerance = rule.burst * interval;
  const tat = Math.max(state?.tat ?? t, t);
  const next = tat + cost * interval;
  const allowed = next - t <= tolerance;
  const ahead = allowed ? next - t : tat - t;
  return {
    outcome: {
      allowed,
      remaining: Math.max(0, Math.floor((tolerance - ahead) / interval)),
      resetAfter: Math.ceil(ahead),
      retryAfter: allowed ? 0 : Math.max(1, Math.ceil(next - tolerance - t)),
    },
    apply: () => ({ kind: 'gcra', tat: next, expiresAt: Math.ceil(next) }),
  };
}
