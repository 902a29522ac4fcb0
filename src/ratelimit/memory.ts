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
  /**
   * Most keys (subjects × rules) held. Beyond it, expired keys are dropped first, then the
   * least recently used keys that still have room, and a key that holds a subject back
   * (nothing left, or a call refused) only when no other is left. @default 100000
   */
  maxKeys?: number;
}

/** fixed-window: count and window end; sliding-window: bucket index and the two counts; token-bucket: TAT. */
type State =
  | { kind: 'fixed'; count: number; expiresAt: number }
  | { kind: 'sliding'; index: number; current: number; previous: number; expiresAt: number }
  | { kind: 'gcra'; tat: number; expiresAt: number };

type Plan = { outcome: RuleOutcome; apply: () => State };

/**
 * Rate limits in two Maps, expired lazily and bounded by `maxKeys`. A key lives in `holding`
 * while it holds its subject back (its last call was refused, or left nothing), else in
 * `open`; each Map is in order of last use (any consume or peek), least recent first. Over
 * the bound, expired keys go first, then `open`'s least recent, and `holding`'s only when
 * `open` is empty: a flood of new subjects — on any limiter of the Larder, since they share
 * this store — cannot lift a block or a ban that is still running.
 *
 * @example
 * const store = memoryRateLimitStore({ now: () => fake.now });
 */
export function memoryRateLimitStore(options: MemoryRateLimitStoreOptions = {}): RateLimitStore {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 100_000;
  const open = new Map<string, State>();
  const holding = new Map<string, State>();
  // Sweeping every key for expired ones is O(keys): done at most once every `sweepEvery`
  // insertions over the bound (so O(16) per insertion), and only once a key may have expired.
  const sweepEvery = Math.max(1, Math.ceil(maxKeys / 16));
  let sinceSweep = sweepEvery;
  /** No key expires before this (ms): the soonest expiry written since, and kept by, the last sweep. */
  let soonest = Number.POSITIVE_INFINITY;

  const live = (key: string, t: number) => {
    const state = open.get(key) ?? (holding.size === 0 ? undefined : holding.get(key));
    if (state && state.expiresAt <= t) {
      open.delete(key);
      holding.delete(key);
      return undefined;
    }
    return state;
  };

  /** Makes `key` the most recently used of the Map its state now belongs in. */
  const place = (key: string, state: State, holds: boolean) => {
    open.delete(key);
    holding.delete(key);
    (holds ? holding : open).set(key, state);
  };

  const sweep = (t: number) => {
    let next = Number.POSITIVE_INFINITY;
    for (const map of [open, holding]) {
      for (const [key, state] of map) {
        if (state.expiresAt <= t) map.delete(key);
        else if (state.expiresAt < next) next = state.expiresAt;
      }
    }
    soonest = next;
    sinceSweep = 0;
  };

  const bound = (t: number) => {
    if (open.size + holding.size <= maxKeys) return;
    if (++sinceSweep >= sweepEvery && t >= soonest) sweep(t);
    // Map order is use order: the first keys are the least recently used.
    for (const map of [open, holding]) {
      for (const key of map.keys()) {
        if (open.size + holding.size <= maxKeys) return;
        map.delete(key);
      }
    }
  };

  return {
    name: 'memory',
    async consume(keys, rules, cost, peek) {
      const t = now();
      const states = keys.map((key) => live(key, t));
      const plans = rules.map((rule, i) => plan(rule, states[i], cost, t));
      const allowed = plans.every((p) => p.outcome.allowed);
      if (allowed && !peek) {
        plans.forEach((p, i) => {
          const state = p.apply();
          if (state.expiresAt < soonest) soonest = state.expiresAt;
          place(keys[i], state, p.outcome.remaining <= 0);
        });
        bound(t);
      } else {
        // A refusal or a peek uses the keys too: a subject still being refused is the last
        // to be forgotten, not the first.
        plans.forEach((p, i) => {
          const state = states[i];
          if (state !== undefined) place(keys[i], state, !p.outcome.allowed);
        });
      }
      return plans.map((p) => p.outcome);
    },
    async reset(keys) {
      for (const key of keys) {
        open.delete(key);
        holding.delete(key);
      }
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
