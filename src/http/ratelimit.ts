/**
 * The rate-limit middleware, framework-neutral (DESIGN §4.4): one check per request against a
 * `RateLimiter` resolved once, keyed by the logged-in user or the client's address, and the
 * answer an adapter sends — headers for an allowed request, or a whole refusal:
 *
 * - 429 with `Retry-After`, the `RateLimit` / `RateLimit-Policy` fields of
 *   draft-ietf-httpapi-ratelimit-headers-10 (structured-field Lists, one String item per rule:
 *   `"burst";q=10;w=1, "hourly";q=1000;w=3600` and `"burst";r=0;t=1, "hourly";r=990;t=3412`),
 *   and the draft's `quota-exceeded` problem (§5.1) as problem+json;
 * - 403 while an escalation ladder's ban lasts (N 429s within a window), with the draft's
 *   `abnormal-usage-detected` problem (§5.3) and `Retry-After`;
 * - 503 problem+json when the limiter fails closed (`BackendUnavailableError`).
 *
 * The ladder is two more limiters on the main one's store (a strike counter and a ban marker),
 * so it works wherever the limiter does, memory or Redis; it costs one more store call per
 * request (the ban check, made before anything is consumed).
 */
import { type Item, serializeList } from 'structured-headers';
import { parseDuration } from '../config/duration.js';
import type { Duration } from '../config/types.js';
import { BackendUnavailableError, ConfigError, describeValue, RateLimitedError } from '../errors.js';
import type { Larder } from '../larder.js';
import type { RateLimiterSpec } from '../ratelimit/create.js';
import { RateLimiter, type RateLimitResult } from '../ratelimit/limiter.js';
import type { Session } from '../session/session.js';
import { ipSubject } from './client-ip.js';
import type { NeutralResponse } from './health.js';
import { errorResponse, problemResponse } from './problem.js';

/** What `web.rateLimit()` limits by: a configured name, several checked together, a spec in code, or a limiter. */
export type RateLimitSpec = string | readonly string[] | RateLimiterSpec | RateLimiter;

/**
 * The escalation ladder: `after` 429s for one subject within `within` earn it a ban of `ban`,
 * answered 403 (the request that earns it still gets its 429).
 *
 * @example { after: 5, within: '10m', ban: '1h' }
 */
export interface LadderOptions {
  after: number;
  within: Duration;
  ban: Duration;
}

/**
 * Options of `web.rateLimit(spec, options)`; `Req` is the framework's request (Express
 * `req`, Fastify `request`, Hono `c`).
 *
 * @example { key: (req) => req.get('x-api-key'), cost: (req) => (req.method === 'POST' ? 5 : 1), ladder: { after: 5, within: '10m', ban: '1h' } }
 */
export interface RateLimitOptions<Req> {
  /**
   * The subject to count for, counted as `key:<value>`: a namespace of its own, so no value
   * (`ip:203.0.113.7`, `user:42`) can use up a default subject's quota or earn it a ban.
   * `undefined` (or `''`) falls back to the default.
   * @default `user:<id>` when the session (`web.session()`, placed before) has a logged-in user, else `ip:<client address>` (IPv6 by /64)
   */
  key?: (request: Req) => string | undefined | Promise<string | undefined>;
  /** Units a request takes. @default 1 */
  cost?: number | ((request: Req) => number | Promise<number>);
  /** Requests for which this returns true are neither counted nor limited, and get no headers. */
  skip?: (request: Req) => boolean | Promise<boolean>;
  /** Ban subjects that keep hitting the limit. @default no ladder */
  ladder?: LadderOptions;
  /** `RateLimit` and `RateLimit-Policy` on allowed responses too (a 429 always has them). @default true */
  headers?: boolean;
}

/** What an adapter does with a request: let it through with `headers` added, or send `response`. */
export type RateLimitDecision =
  | { allowed: true; headers: Readonly<Record<string, string>> }
  | { allowed: false; response: NeutralResponse };

/**
 * One factory's check: `subject` gives the default subject (only called when `key` did not
 * give one).
 */
export type RateLimitCheck<Req> = (
  request: Req,
  subject: () => Promise<string>,
) => Promise<RateLimitDecision>;

const OPTION_NAMES = ['key', 'cost', 'skip', 'ladder', 'headers'];
const QUOTA_EXCEEDED = 'https://iana.org/assignments/http-problem-types#quota-exceeded';
const ABNORMAL_USAGE = 'https://iana.org/assignments/http-problem-types#abnormal-usage-detected';
const NO_HEADERS: RateLimitDecision = Object.freeze({ allowed: true, headers: Object.freeze({}) });

/**
 * Validates `options` and resolves the limiter, once; returns the per-request check.
 *
 * @throws {ConfigError} naming the option, the value and what is accepted
 * @example
 * const check = createRateLimit(larder, 'api', { cost: 2 });
 * const decision = await check(req, () => defaultSubject(req.session, () => addressOf(req)));
 */
export function createRateLimit<Req>(
  larder: Larder,
  spec: RateLimitSpec,
  options: RateLimitOptions<Req> = {},
): RateLimitCheck<Req> {
  const path = `rateLimit(${describeSpec(spec)})`;
  const limiter = spec instanceof RateLimiter ? spec : larder.rateLimiter(spec);
  const { key, cost = 1, skip, headers = true } = checkOptions(options, path, limiter);
  const ladder = options.ladder === undefined ? undefined : new Ladder(larder, limiter, options.ladder, path);
  const policy = policyField(limiter);
  const stateField = stateFieldOf(limiter);

  return async function rateLimit(request, subjectOf) {
    if (skip !== undefined && (await skip(request))) return NO_HEADERS;
    try {
      const chosen = key === undefined ? undefined : await key(request);
      // The default loads the session (to see who is logged in): its store may be down too.
      const subject = chosen === undefined || chosen === '' ? await subjectOf() : keySubject(chosen);
      const units = typeof cost === 'function' ? await cost(request) : cost;
      if (ladder) {
        const banned = await ladder.bannedFor(subject);
        if (banned > 0) return { allowed: false, response: banResponse(limiter, banned) };
      }
      const result = await limiter.consume(subject, { cost: units });
      const fields = () => ({ ratelimit: stateField(result), 'ratelimit-policy': policy });
      if (result.allowed) return headers ? { allowed: true, headers: fields() } : NO_HEADERS;
      await ladder?.strike(subject);
      return { allowed: false, response: quotaExceeded(limiter, result, fields()) };
    } catch (error) {
      // Fail closed (no insurance, no failOpen): nobody passes while the limiter cannot say.
      if (error instanceof BackendUnavailableError) return { allowed: false, response: errorResponse(error) };
      throw error;
    }
  };
}

/**
 * The default subject: `user:<id>` when `session` is a larder session with a logged-in user,
 * else `ip:<address>` ({@link ipSubject}); `ip:unknown` when the connection is already gone.
 *
 * @example await defaultSubject(req.session, () => addressOf(req)) // 'user:42' or 'ip:203.0.113.7'
 */
export async function defaultSubject(session: unknown, address: () => string | undefined): Promise<string> {
  // Another session library may own `req.session` (express-session): only ask a larder session.
  if (session && typeof (session as Session).userId === 'function') {
    const user = await (session as Session).userId();
    if (user !== undefined) return `user:${user}`;
  }
  const ip = address();
  return ip === undefined ? 'ip:unknown' : ipSubject(ip);
}

/**
 * The subject for a value of `key(req)`: `key:<value>`, never equal to a default subject
 * (`user:…`, `ip:…`), whatever the client put in the header it came from. Anything but a
 * string is passed on as it is, for the limiter to refuse with a `RateLimitUsageError`.
 *
 * @example keySubject('ip:203.0.113.7') // 'key:ip:203.0.113.7'
 */
function keySubject(value: unknown): string {
  return typeof value === 'string' ? `key:${value}` : (value as string);
}

/**
 * The value to set for header `name` when the response may already have one: the two
 * rate-limit Lists are joined (RFC 9651 §3.1: a List split over field lines is one List),
 * so a global and a per-route limit both show; any other header is replaced.
 *
 * @example mergeHeader('ratelimit', '"global";r=9;t=50', '"api";r=1;t=2') // '"global";r=9;t=50, "api";r=1;t=2'
 */
export function mergeHeader(name: string, existing: unknown, value: string): string {
  if (name !== 'ratelimit' && name !== 'ratelimit-policy') return value;
  const before = Array.isArray(existing) ? existing.join(', ') : existing;
  return before === undefined || before === null || before === '' ? value : `${String(before)}, ${value}`;
}

/** `RateLimit-Policy`: per rule, its quota `q` and window `w` in whole seconds (the draft allows no fractions). */
function policyField(limiter: RateLimiter): string {
  return serializeList(
    limiter.rules.map(
      (rule): Item => [
        rule.name,
        new Map([
          ['q', rule.limit],
          ['w', Math.max(1, Math.ceil(rule.window / 1000))],
        ]),
      ],
    ),
  );
}

/** The largest sf-integer (RFC 9651 §3.3.1): fifteen digits. */
const SF_INTEGER_MAX = 999_999_999_999_999;
/** A rule name that is an sf-string as it stands (no escapes) — what `normalizeRule` accepts. */
const PLAIN_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * `RateLimit`: per rule, the units remaining `r`, and `t`, the seconds until more are
 * available — until it would pass again for a rule that refused, until it is back to full
 * for one that did not. Written by hand when every rule name needs no escaping (the usual
 * case: this runs on every request, and serializeList builds an Item and a Map per rule);
 * serializeList otherwise, and for values past an sf-integer (which it refuses). Exported for
 * the test that holds the two to the same output.
 *
 * @example stateFieldOf(limiter)(await limiter.consume('ip:203.0.113.7')) // '"api";r=99;t=60'
 */
export function stateFieldOf(limiter: RateLimiter): (result: RateLimitResult) => string {
  const heads = limiter.rules.map((rule) => `"${rule.name}";r=`);
  const plain = limiter.rules.every((rule) => PLAIN_NAME.test(rule.name));
  return function stateField(result) {
    const rules = result.rules;
    if (plain) {
      let field = '';
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i];
        const r = unitsLeft(rule);
        const t = secondsUntilMore(rule);
        if (!(r <= SF_INTEGER_MAX && t <= SF_INTEGER_MAX)) return serializedState(result);
        field += `${i === 0 ? '' : ', '}${heads[i]}${r};t=${t}`;
      }
      return field;
    }
    return serializedState(result);
  };
}

type RuleState = RateLimitResult['rules'][number];

/** `RateLimit`'s `r`: whole units left. */
const unitsLeft = (rule: RuleState): number => Math.max(0, Math.floor(rule.remaining));

/** `RateLimit`'s `t`: whole seconds until it would pass again (refused) or is full again (allowed). */
const secondsUntilMore = (rule: RuleState): number =>
  Math.max(0, Math.ceil(rule.allowed ? rule.resetAfter : rule.retryAfter));

/** `RateLimit` through serializeList. */
function serializedState(result: RateLimitResult): string {
  return serializeList(
    result.rules.map(
      (rule): Item => [
        rule.name,
        new Map([
          ['r', unitsLeft(rule)],
          ['t', secondsUntilMore(rule)],
        ]),
      ],
    ),
  );
}

/** The 429: draft §5.1's problem, and `Retry-After` no earlier than any refusing rule's `t` (§6). */
function quotaExceeded(
  limiter: RateLimiter,
  result: RateLimitResult,
  fields: Record<string, string>,
): NeutralResponse {
  const retry = Math.max(1, Math.ceil(result.retryAfter));
  return problemResponse(
    {
      type: QUOTA_EXCEEDED,
      title: 'Quota Exceeded',
      status: 429,
      detail: `Rate limit '${limiter.name}' exceeded; retry in ${retry} s.`,
      'violated-policies': result.rules.filter((rule) => !rule.allowed).map((rule) => rule.name),
      retryAfter: retry,
      code: RateLimitedError.code,
    },
    { ...fields, 'retry-after': String(retry) },
  );
}

/** The 403 while a ban lasts: draft §5.3's problem. */
function banResponse(limiter: RateLimiter, seconds: number): NeutralResponse {
  const retry = Math.max(1, Math.ceil(seconds));
  return problemResponse(
    {
      type: ABNORMAL_USAGE,
      title: 'Abnormal Usage Detected',
      status: 403,
      detail: `Too many requests refused by rate limit '${limiter.name}'; banned for ${retry} s more.`,
      retryAfter: retry,
      code: RateLimitedError.code,
    },
    { 'retry-after': String(retry) },
  );
}

/**
 * The escalation ladder, on the main limiter's store: `strikes` counts 429s per subject
 * (`after` in `within`, a fixed window from the first), `bans` holds one unit for `ban` —
 * taken when the last strike lands, so a refused peek means "banned", for as long as it says.
 */
class Ladder {
  readonly #strikes: RateLimiter;
  readonly #bans: RateLimiter;

  constructor(larder: Larder, limiter: RateLimiter, options: LadderOptions, path: string) {
    if (options === null || typeof options !== 'object') {
      throw new ConfigError(
        `${path}.ladder`,
        options,
        "{ after, within, ban }, e.g. { after: 5, within: '10m', ban: '1h' }",
      );
    }
    const { after } = options;
    if (!Number.isSafeInteger(after) || after < 1) {
      throw new ConfigError(`${path}.ladder.after`, after, 'a whole number of 429s, 1 or more');
    }
    const within = positiveDuration(options.within, `${path}.ladder.within`);
    const ban = positiveDuration(options.ban, `${path}.ladder.ban`);
    const log = (message: string) => larder.log('warn', message);
    // `<limiter>/strikes`, `<limiter>/ban`: names the app cannot give (no `/`), so no limit of
    // its own shares their keys; under the main limiter's prefix, on its store.
    const make = (name: string, limit: number, window: number) =>
      new RateLimiter({
        name: `${limiter.name}/${name}`,
        store: limiter.store,
        prefix: limiter.prefix,
        rules: [{ name, limit, window, algorithm: 'fixed-window', burst: limit }],
        log,
      });
    this.#strikes = make('strikes', after, within);
    this.#bans = make('ban', 1, ban);
  }

  /** Seconds left of `subject`'s ban; 0 when it is not banned. */
  async bannedFor(subject: string): Promise<number> {
    const state = await this.#bans.peek(subject);
    return state.allowed ? 0 : state.retryAfter;
  }

  /** Counts a 429; the `after`-th within the window bans the subject (and clears its strikes). */
  async strike(subject: string): Promise<void> {
    const strikes = await this.#strikes.consume(subject);
    if (strikes.allowed && strikes.remaining > 0) return;
    await this.#bans.consume(subject);
    await this.#strikes.reset(subject);
  }
}

function positiveDuration(value: Duration, path: string): number {
  const ms = parseDuration(value, path) as number;
  if (!(ms > 0)) throw new ConfigError(path, value, 'a duration greater than zero');
  return ms;
}

function checkOptions<Req>(options: RateLimitOptions<Req>, path: string, limiter: RateLimiter) {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError(`${path} options`, options, '{ key?, cost?, skip?, ladder?, headers? }');
  }
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.includes(name)) {
      throw new ConfigError(
        `${path}.${name}`,
        options[name as keyof typeof options],
        `one of ${OPTION_NAMES.join(', ')}`,
      );
    }
  }
  for (const name of ['key', 'skip'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new ConfigError(`${path}.${name}`, options[name], 'a function of the request');
    }
  }
  const { cost } = options;
  if (cost !== undefined && typeof cost !== 'function') {
    const most = limiter.maxCost;
    if (!Number.isSafeInteger(cost) || cost < 1 || cost > most) {
      throw new ConfigError(
        `${path}.cost`,
        cost,
        `a whole number from 1 to ${most} (the smallest limit), or a function of the request`,
      );
    }
  }
  if (options.headers !== undefined && typeof options.headers !== 'boolean') {
    throw new ConfigError(`${path}.headers`, options.headers, 'true or false');
  }
  return options;
}

function describeSpec(spec: RateLimitSpec): string {
  if (spec instanceof RateLimiter) return `limiter '${spec.name}'`;
  if (spec !== null && typeof spec === 'object' && !Array.isArray(spec)) {
    return describeValue((spec as RateLimiterSpec).name);
  }
  return describeValue(spec);
}
