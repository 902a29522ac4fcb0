/**
 * The rate-limit store contract. `RateLimiter` owns policy — rules, keys, cost checks,
 * outage handling — and hands a store the rule keys of one subject; a store checks every
 * rule and consumes from all of them or none, atomically, on its own clock.
 */

/** Which algorithm a rule uses (DESIGN §4.4). */
export type Algorithm = 'fixed-window' | 'sliding-window' | 'token-bucket';

/**
 * One letter per algorithm: the last part of every rule key, and what the Lua script is told.
 * In the key, it keeps each algorithm's state apart: a rule whose algorithm changed between
 * deploys (or two limiters of one name) starts afresh instead of misreading the other's state
 * (a GCRA timestamp read as a count) or failing on it (WRONGTYPE: a hash read as a string).
 */
export const ALGORITHM_CODES: Readonly<Record<Algorithm, 'f' | 's' | 'g'>> = Object.freeze({
  'fixed-window': 'f',
  'sliding-window': 's',
  'token-bucket': 'g',
});

/** One limit, normalised: durations in milliseconds. */
export interface Rule {
  /** Names the rule in keys and in the `RateLimit` headers. */
  name: string;
  /** Requests (cost units) allowed per window. */
  limit: number;
  /** Window length, ms (> 0). For token-bucket, `limit` tokens refill over one window. */
  window: number;
  algorithm: Algorithm;
  /** token-bucket: the most a full bucket allows at once. Equal to `limit` unless given. */
  burst: number;
}

/** One rule's state after a check, in milliseconds. */
export interface RuleOutcome {
  allowed: boolean;
  /** Cost units still available in this rule after this call. */
  remaining: number;
  /** Until the rule is back to its full allowance (fixed window: until the window ends). */
  resetAfter: number;
  /** Until a call of the same cost could pass this rule; 0 when it passed. */
  retryAfter: number;
}

export interface RateLimitStore {
  /** `memory` or `redis <location>`. */
  readonly name: string;
  /**
   * Checks `cost` against every rule of `keys[i]` / `rules[i]`; when every rule allows it
   * and `peek` is false, consumes it from all of them — in one atomic step. Outcomes in the
   * order of `rules`.
   */
  consume(
    keys: readonly string[],
    rules: readonly Rule[],
    cost: number,
    peek: boolean,
  ): Promise<RuleOutcome[]>;
  /** Forgets the subject's state under `keys`. */
  reset(keys: readonly string[]): Promise<void>;
}
