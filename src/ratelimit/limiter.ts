/**
 * `RateLimiter`: one or several rules (10/s and 1000/h) on a subject, checked and consumed
 * together in one store call. Owns the policy: rule validation, keys (every key of a
 * subject shares a Redis hash tag), cost checks and what happens when Redis is down —
 * an in-memory insurance limiter by default, or fail open / fail closed.
 */
import { createHash } from 'node:crypto';
import { parseDuration } from '../config/duration.js';
import { BackendUnavailableError, ConfigError, RateLimitedError, RateLimitUsageError } from '../errors.js';
import type { RateLimitCounters } from '../metrics/metrics.js';
import { isAvailabilityError } from '../redis/connection.js';
import { memoryRateLimitStore } from './memory.js';
import {
  ALGORITHM_CODES,
  type Algorithm,
  type RateLimitStore,
  type Rule,
  type RuleOutcome,
} from './store.js';

const ALGORITHMS: readonly Algorithm[] = ['fixed-window', 'sliding-window', 'token-bucket'];

/**
 * One rule as the app writes it: a number of seconds or a string like `'1m'` for `window`.
 *
 * @example { name: 'burst', limit: 10, window: 1 }
 */
export interface RateLimitRuleOptions {
  /** Names the rule in keys and in the `RateLimit-Policy` header. @default the limiter's name */
  name?: string;
  limit: number;
  window: number | string;
  /** @default 'fixed-window' */
  algorithm?: Algorithm;
  /** token-bucket only: calls a full bucket allows at once. @default limit */
  burst?: number;
}

/** What happens to a check while the store is unreachable. */
export interface OutageOptions {
  /**
   * Count in this process while Redis is down (rate-limiter-flexible's insurance limiter):
   * limits stay enforced per process instead of across them. @default true
   */
  insurance?: boolean;
  /** Without insurance: allow every call (`true`) or refuse with `BackendUnavailableError` 503. @default false */
  failOpen?: boolean;
}

/** The state of one rule after a call; times in seconds. */
export interface RuleResult {
  name: string;
  allowed: boolean;
  limit: number;
  /** Window length, seconds. */
  window: number;
  remaining: number;
  resetAfter: number;
  retryAfter: number;
}

/**
 * What `consume` and `peek` answer; times in seconds (fractional). For several rules, the
 * top-level `limit`, `remaining` and `resetAfter` are the most constrained rule's.
 */
export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the most constrained rule is back to its full allowance. */
  resetAfter: number;
  /** Seconds until the same call could pass; 0 when it passed. */
  retryAfter: number;
  rules: RuleResult[];
  /** True when the answer came from the insurance limiter or failOpen (the store was down). */
  degraded: boolean;
}

/**
 * Options of {@link RateLimiter}.
 *
 * @example
 * { name: 'api', store, rules: [{ name: 'burst', limit: 10, window: 1 }, { name: 'hourly', limit: 1000, window: '1h' }] }
 */
export interface RateLimiterOptions extends OutageOptions {
  /** Namespaces the keys. */
  name: string;
  store: RateLimitStore;
  rules: Rule[];
  /** Key prefix. @default 'rl' */
  prefix?: string;
  log?: (message: string) => void;
  /** Where checks are counted and timed (`larder.metrics.rateLimiter(name)`); absent: not counted. */
  metrics?: RateLimitCounters;
}

/**
 * Checks and consumes rate limits.
 *
 * @example
 * const api = larder.rateLimiter('api');
 * const result = await api.consume(`user:${user.id}`);
 * if (!result.allowed) return res.status(429).set('Retry-After', String(Math.ceil(result.retryAfter))).end();
 */
export class RateLimiter {
  readonly name: string;
  readonly rules: readonly Rule[];
  readonly store: RateLimitStore;
  readonly #prefix: string;
  /** `}:<limiter>:<rule>:<algorithm code>` per rule: a key is `<prefix>:{<subject>` and one of these. */
  readonly #suffixes: readonly string[];
  readonly #maxCost: number;
  readonly #outage: Required<OutageOptions>;
  readonly #log: (message: string) => void;
  readonly #metrics: RateLimitCounters | undefined;
  #insurance: RateLimitStore | undefined;
  #warnedAt = 0;

  constructor(options: RateLimiterOptions) {
    this.name = options.name;
    this.rules = Object.freeze([...options.rules]);
    this.store = options.store;
    this.#prefix = options.prefix ?? 'rl';
    // The algorithm in the key: its state is another shape (a count, a hash, a timestamp).
    this.#suffixes = this.rules.map(
      (rule) => `}:${this.name}:${rule.name}:${ALGORITHM_CODES[rule.algorithm]}`,
    );
    this.#maxCost = Math.min(...this.rules.map((r) => (r.algorithm === 'token-bucket' ? r.burst : r.limit)));
    this.#outage = { insurance: options.insurance ?? true, failOpen: options.failOpen ?? false };
    this.#log = options.log ?? (() => {});
    this.#metrics = options.metrics;
  }

  /**
   * Consumes `cost` (default 1) from every rule for `key`, or from none when any rule
   * refuses. One round trip on Redis.
   *
   * @example const { allowed, retryAfter } = await limiter.consume(`ip:${ip}`);
   */
  consume(key: string, options?: { cost?: number }): Promise<RateLimitResult> {
    // No `= {}` default: that would allocate an object on every check.
    return this.#run(key, options?.cost ?? 1, false);
  }

  /** What `consume` would answer, consuming nothing. */
  peek(key: string, options?: { cost?: number }): Promise<RateLimitResult> {
    return this.#run(key, options?.cost ?? 1, true);
  }

  /**
   * `consume`, throwing `RateLimitedError` (429, with `retryAfter`) when refused.
   *
   * @example await larder.rateLimiter('login').hit(`user:${name}`);
   */
  async hit(key: string, options: { cost?: number } = {}): Promise<RateLimitResult> {
    const result = await this.consume(key, options);
    if (!result.allowed) {
      throw new RateLimitedError(
        `Rate limit '${this.name}' exceeded; retry in ${Math.ceil(result.retryAfter)} s.`,
        result.retryAfter,
      );
    }
    return result;
  }

  /** Forgets `key`'s counts in every rule (e.g. after a successful login). */
  async reset(key: string): Promise<void> {
    const refused = this.#refuseKey(key);
    if (refused) throw refused;
    const keys = this.#keys(key);
    try {
      await this.store.reset(keys);
    } finally {
      await this.#insurance?.reset(keys);
    }
  }

  /** Why `key` cannot be counted, or undefined when it can. */
  #refuseKey(key: unknown): RateLimitUsageError | undefined {
    if (typeof key !== 'string' || key === '')
      return new RateLimitUsageError(
        this.name,
        `the key must be a non-empty string; got ${key === '' ? 'an empty string' : typeof key}.`,
      );
    // Redis stores UTF-8: every lone surrogate becomes U+FFFD there, so such keys would share a counter.
    if (!key.isWellFormed())
      return new RateLimitUsageError(
        this.name,
        `the key ${JSON.stringify(key.slice(0, 100))} holds a lone UTF-16 surrogate, which Redis cannot keep apart from others; ` +
          'normalise it first (key.toWellFormed()) or refuse the request.',
      );
    return undefined;
  }

  /** The first part of every key (`rl` unless given). */
  get prefix(): string {
    return this.#prefix;
  }

  /** The largest cost a call may ask: the smallest rule's limit (a token bucket's burst). */
  get maxCost(): number {
    return this.#maxCost;
  }

  // Not `async`: one promise step per check instead of an async frame and an await.
  #run(key: string, cost: number, peek: boolean): Promise<RateLimitResult> {
    const refused = this.#refuseKey(key);
    if (refused) return Promise.reject(refused);
    const most = this.#maxCost;
    if (!Number.isSafeInteger(cost) || cost < 1 || cost > most) {
      return Promise.reject(
        new RateLimitUsageError(
          this.name,
          `cost must be a whole number from 1 to ${most} (the smallest limit); got ${cost}. ` +
            'A larger cost could never be allowed.',
        ),
      );
    }
    const keys = this.#keys(key);
    const metrics = this.#metrics;
    const start = metrics === undefined ? 0 : performance.now();
    let pending: Promise<RuleOutcome[]>;
    try {
      pending = Promise.resolve(this.store.consume(keys, this.rules, cost, peek));
    } catch (error) {
      return this.#failed(keys, cost, peek, error, start);
    }
    return pending.then(
      (outcomes) => {
        const result = this.#result(outcomes, cost, false);
        if (metrics !== undefined) count(metrics, peek, start, result);
        return result;
      },
      (error: unknown) => this.#failed(keys, cost, peek, error, start),
    );
  }

  /** The store failed: an outage is answered by the outage policy, anything else is thrown. */
  #failed(
    keys: string[],
    cost: number,
    peek: boolean,
    error: unknown,
    start: number,
  ): Promise<RateLimitResult> {
    // OOM: the server is at maxmemory under 'noeviction' and cannot count — as good as down.
    const cannotCount =
      isAvailabilityError(error) || (error instanceof Error && error.message.startsWith('OOM'));
    const answer =
      !cannotCount || this.store.name === 'memory'
        ? Promise.reject(error)
        : this.#degraded(keys, cost, peek, error);
    const metrics = this.#metrics;
    if (metrics === undefined) return answer;
    const timer = peek ? metrics.peek : metrics.consume;
    timer.fail();
    return answer.then(
      (result) => {
        count(metrics, peek, start, result);
        return result;
      },
      (thrown: unknown) => {
        timer.done(start);
        throw thrown;
      },
    );
  }

  async #degraded(keys: string[], cost: number, peek: boolean, error: unknown): Promise<RateLimitResult> {
    const now = Date.now();
    if (now - this.#warnedAt > 10_000) {
      this.#warnedAt = now;
      const what = this.#outage.insurance
        ? 'counting in this process (insurance limiter)'
        : this.#outage.failOpen
          ? 'allowing every call (failOpen)'
          : 'refusing calls (503)';
      this.#log(
        `larder: rate limiter '${this.name}' cannot reach ${this.store.name}; ${what}. (${String(error)})`,
      );
    }
    if (this.#outage.insurance) {
      this.#insurance ??= memoryRateLimitStore();
      return this.#result(await this.#insurance.consume(keys, this.rules, cost, peek), cost, true);
    }
    if (this.#outage.failOpen) {
      const open = this.rules.map((r) => ({
        allowed: true,
        remaining: r.limit,
        resetAfter: 0,
        retryAfter: 0,
      }));
      return this.#result(open, cost, true);
    }
    if (error instanceof BackendUnavailableError) throw error;
    const full = error instanceof Error && error.message.startsWith('OOM');
    throw new BackendUnavailableError(
      this.store.name,
      full
        ? `rate limiter '${this.name}' cannot count: ${error.message}. The server reached maxmemory with ` +
            "'noeviction': raise maxmemory, or give rate limits a server of their own."
        : `rate limiter '${this.name}' cannot check limits.`,
      { cause: error },
    );
  }

  /** One key per rule; the subject in a hash tag so all of them land in one Cluster slot. */
  #keys(subject: string): string[] {
    // A subject with braces would end the tag early; a long one would bloat every key.
    // A hashed tag starts with NUL, which no kept subject contains: the two kinds never meet.
    const tag =
      subject.length > 200 || /[{}\0]/.test(subject)
        ? `\0${createHash('sha1').update(subject).digest('base64url')}`
        : subject;
    const head = `${this.#prefix}:{${tag}`;
    const suffixes = this.#suffixes;
    if (suffixes.length === 1) return [head + suffixes[0]];
    const keys: string[] = new Array(suffixes.length);
    for (let i = 0; i < suffixes.length; i++) keys[i] = head + suffixes[i];
    return keys;
  }

  #result(outcomes: RuleOutcome[], cost: number, degraded: boolean): RateLimitResult {
    // One pass per step, no intermediate arrays: this runs on every check.
    const n = outcomes.length;
    let allowed = true;
    for (let i = 0; i < n; i++) if (!outcomes[i].allowed) allowed = false;
    const rules: RuleResult[] = new Array(n);
    let tightest: RuleResult | undefined;
    let retryAfter = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const o = outcomes[i];
      const rule = this.rules[i];
      const r: RuleResult = {
        name: rule.name,
        allowed: o.allowed,
        limit: rule.limit,
        window: rule.window / 1000,
        // A rule that would have passed in a refused call had nothing taken from it (a token
        // bucket holds up to `burst`, which may exceed `limit`).
        remaining:
          !allowed && o.allowed
            ? Math.min(rule.algorithm === 'token-bucket' ? rule.burst : rule.limit, o.remaining + cost)
            : o.remaining,
        resetAfter: o.resetAfter / 1000,
        retryAfter: o.retryAfter / 1000,
      };
      rules[i] = r;
      // The most constrained rule: least remaining, then the longest wait.
      if (
        tightest === undefined ||
        r.remaining < tightest.remaining ||
        (r.remaining === tightest.remaining && r.resetAfter > tightest.resetAfter)
      )
        tightest = r;
      if (r.retryAfter > retryAfter) retryAfter = r.retryAfter;
    }
    const top = tightest as RuleResult;
    return {
      allowed,
      limit: top.limit,
      remaining: top.remaining,
      resetAfter: top.resetAfter,
      retryAfter: allowed ? 0 : retryAfter,
      rules,
      degraded,
    };
  }
}

/** Records one finished check: its time, and for a consume whether it passed. */
function count(metrics: RateLimitCounters, peek: boolean, start: number, result: RateLimitResult): void {
  if (result.degraded) metrics.degraded++;
  if (peek) {
    metrics.peek.done(start);
    return;
  }
  metrics.consume.done(start);
  if (result.allowed) metrics.allowed++;
  else metrics.denied++;
}

/**
 * Validates a rule given in code (config rules are validated by `resolveConfig`).
 *
 * @example normalizeRule({ limit: 10, window: '1s' }, 'api', 'rateLimiter') // { name: 'api', limit: 10, window: 1000, … }
 */
export function normalizeRule(input: RateLimitRuleOptions, defaultName: string, path: string): Rule {
  if (input === null || typeof input !== 'object') {
    throw new ConfigError(path, input, 'a rule: { limit, window, algorithm?, burst?, name? }');
  }
  const { limit, algorithm = 'fixed-window', burst } = input;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ConfigError(`${path}.limit`, limit, 'a whole number of calls, 1 or more');
  }
  const window = parseDuration(input.window, `${path}.window`) as number;
  if (!(window > 0)) throw new ConfigError(`${path}.window`, input.window, 'a duration greater than zero');
  if (!ALGORITHMS.includes(algorithm)) {
    throw new ConfigError(`${path}.algorithm`, algorithm, ALGORITHMS.map((a) => `'${a}'`).join(', '));
  }
  if (burst !== undefined) {
    if (algorithm !== 'token-bucket') {
      throw new ConfigError(`${path}.burst`, burst, "no burst unless algorithm is 'token-bucket'");
    }
    if (!Number.isSafeInteger(burst) || burst < 1) {
      throw new ConfigError(`${path}.burst`, burst, 'a whole number of calls, 1 or more');
    }
  }
  const name = input.name ?? defaultName;
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    throw new ConfigError(
      `${path}.name`,
      name,
      'a name of letters, digits, _ . - (it appears in headers and keys)',
    );
  }
  return { name, limit, window, algorithm, burst: burst ?? limit };
}
