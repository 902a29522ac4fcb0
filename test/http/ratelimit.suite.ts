/**
 * The rate-limit middleware's conformance suite over real HTTP (DESIGN §4.4), on the memory
 * store and on Redis standalone: 429 with `Retry-After` and a quota-exceeded problem, the
 * draft-ietf-httpapi-ratelimit-headers-10 fields parsed back as structured fields, per-route
 * and global limits, keys (logged-in user, client address, `key`), `cost`, `skip`, the
 * escalation ladder, fail closed / fail open on a Redis outage, and `X-Forwarded-For` believed
 * only from a trusted proxy.
 *
 * Each adapter's test file calls `rateLimitSuite` with an {@link RateLimitApp}: `serve` mounts
 * a {@link RateLimitPlan} on its framework behind `web.session()` — every route a GET that
 * answers `ok`, plus `POST /login?user=` — and `factory` hands out its `web.rateLimit`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseList } from 'structured-headers';
import { ConfigError } from '../../src/errors.js';
import type { LadderOptions, RateLimitOptions, RateLimitSpec } from '../../src/http/ratelimit.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---- the plan an adapter mounts ------------------------------------------------------------

/** What the suite's option functions may read of a request. */
export interface Probe {
  header(name: string): string | undefined;
}

/** `web.rateLimit` options, with functions of a {@link Probe} instead of the framework's request. */
export interface ProbeOptions {
  key?: (probe: Probe) => string | undefined;
  cost?: number | ((probe: Probe) => number);
  skip?: (probe: Probe) => boolean;
  ladder?: LadderOptions;
  headers?: boolean;
}

/** One limited route: `GET path` → `ok`, behind `web.rateLimit(spec, options)`. */
export interface LimitedRoute {
  path: string;
  spec: RateLimitSpec;
  options?: ProbeOptions;
}

/**
 * The app: `POST /login?user=` (a larder session login), the `routes`, and a group mounted
 * under `global.prefix` behind one limiter for all of it (`app.use(prefix, …)`, a Fastify
 * scope's `addHook`), whose routes may have their own limit too.
 */
export interface RateLimitPlan {
  routes: LimitedRoute[];
  global: { prefix: string; spec: RateLimitSpec; routes: Array<{ path: string; spec?: RateLimitSpec }> };
}

/** An app listening on `base`. */
export interface Served {
  base: string;
  close(): Promise<void>;
}

/** What an adapter's test file gives the suite. */
export interface RateLimitApp {
  /** Serves `plan` on a fresh app from `adapt(larder, { trustProxy })`. */
  serve(larder: Larder, trustProxy: boolean | string[], plan: RateLimitPlan): Promise<Served>;
  /** `adapt(larder).rateLimit`, to check what it refuses at construction. */
  factory(larder: Larder): (spec: RateLimitSpec, options?: Record<string, unknown>) => unknown;
}

/** The framework's options for a route: each function reads the request through `probe`. */
export function frameworkOptions<Req>(
  options: ProbeOptions | undefined,
  probe: (request: Req) => Probe,
): RateLimitOptions<Req> {
  if (options === undefined) return {};
  const { key, cost, skip, ...rest } = options;
  return {
    ...rest,
    ...(key ? { key: (request: Req) => key(probe(request)) } : {}),
    ...(skip ? { skip: (request: Req) => skip(probe(request)) } : {}),
    ...(cost === undefined
      ? {}
      : { cost: typeof cost === 'number' ? cost : (request: Req) => cost(probe(request)) }),
  };
}

// ---- HTTP ----------------------------------------------------------------------------------

/** A response, read whole. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json<T = any>(): T;
}

/** `GET path` (or another method) with these request headers. */
export async function call(
  base: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method, headers, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** One item of a `RateLimit` / `RateLimit-Policy` List. */
export interface FieldItem {
  name: string;
  params: Record<string, unknown>;
}

/**
 * Parses `field` as a structured-field List (RFC 9651) whose items are Strings, as
 * draft-10 §3 and §4 require; fails on anything else.
 */
export function listField(res: Answer, field: string): FieldItem[] {
  const value = res.headers.get(field);
  assert.ok(value, `a ${field} header`);
  return parseList(value).map((member) => {
    const [item, params] = member;
    assert.equal(typeof item, 'string', `${field}: each item is a String (draft-10), got ${String(item)}`);
    return { name: item as string, params: Object.fromEntries(params) };
  });
}

/** The item named `name`, which must be there once. */
function itemOf(items: FieldItem[], name: string): Record<string, unknown> {
  const found = items.filter((item) => item.name === name);
  assert.equal(found.length, 1, `one item "${name}" in ${JSON.stringify(items)}`);
  return found[0].params;
}

/** A `t` or `w` parameter: a whole number of seconds in [min, max]. */
function assertSeconds(value: unknown, min: number, max: number) {
  assert.ok(Number.isInteger(value), `an Integer: ${String(value)}`);
  assert.ok((value as number) >= min && (value as number) <= max, `${String(value)} in [${min}, ${max}]`);
}

/** The 429 problem of draft-10 §5.1, with `Retry-After` and the limiter's fields. */
function assertQuotaExceeded(res: Answer, violated: string[], maxWait: number) {
  assert.equal(res.status, 429, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const retryAfter = res.headers.get('retry-after') ?? '';
  assert.match(retryAfter, /^\d+$/, 'Retry-After in whole seconds');
  assertSeconds(Number(retryAfter), 1, maxWait);
  const problem = res.json();
  assert.equal(problem.type, 'https://iana.org/assignments/http-problem-types#quota-exceeded');
  assert.equal(problem.title, 'Quota Exceeded');
  assert.equal(problem.status, 429);
  assert.equal(typeof problem.detail, 'string');
  assert.ok(problem.detail.length > 0);
  assert.deepEqual(problem['violated-policies'], violated);
  assert.equal(problem.retryAfter, Number(retryAfter));
  assert.equal(problem.code, 'E_RATE_LIMITED');
  // draft-10 §6: Retry-After no earlier than the reset of a policy that refused.
  const state = listField(res, 'ratelimit');
  for (const name of violated) assert.ok((itemOf(state, name).t as number) <= Number(retryAfter));
}

/** `sessionid=…` of a fresh login as `user`. */
async function login(base: string, user: string): Promise<string> {
  const res = await call(base, `/login?user=${user}`, {}, 'POST');
  assert.equal(res.status, 200, res.text);
  const cookie = res.headers.getSetCookie().find((line) => line.startsWith('sessionid='));
  assert.ok(cookie, 'a session cookie');
  return cookie.split(';')[0];
}

// ---- the suite -----------------------------------------------------------------------------

type Target = 'memory' | 'standalone';

/**
 * Runs the shared rate-limit cases against `framework` on the memory store and on Redis
 * standalone; `extra` adds the framework's own cases in the same describe.
 */
export function rateLimitSuite(
  framework: string,
  app: RateLimitApp,
  extra?: (ctx: { readonly larder: Larder; readonly base: string }) => void,
) {
  for (const target of ['memory', 'standalone'] as Target[]) {
    describe(`${framework} rate limiting (${target === 'memory' ? 'memory' : 'redis'} store)`, () => {
      // Limiter names carry this run's id: test files run in parallel against one Redis.
      const id = uniquePrefix('rl');
      const n = (label: string) => `${id}-${label}`;
      let larder: Larder;
      let dedicated: RedisServerHandle;
      let served: Served;
      let trusted: Served;

      before(async () => {
        const url = target === 'memory' ? undefined : redisUrlFor(target);
        larder = createLarder(
          {
            logger: false,
            redis: url ?? false,
            caches: { default: { backend: 'memory' } },
            sessions: { engine: url === undefined ? 'memory' : 'redis', prefix: uniquePrefix('rl-sessions') },
            rateLimits: {
              [n('api')]: { limit: 3, window: 60 },
              [n('burst')]: { limit: 2, window: 10 },
              [n('hourly')]: { limit: 5, window: 3600 },
            },
          },
          {},
        );
        // A Redis of its own for the outage case, stopped there.
        dedicated = await startStandalone();
        const outage = { url: dedicated.url, commandTimeout: '250ms', connectTimeout: '250ms' } as const;
        const plan: RateLimitPlan = {
          routes: [
            { path: '/basic', spec: n('api') },
            { path: '/fields', spec: { name: n('fields'), limit: 5, window: 30 } },
            { path: '/multi', spec: [n('burst'), n('hourly')] },
            { path: '/quiet', spec: { name: n('quiet'), limit: 1, window: 60 }, options: { headers: false } },
            { path: '/user', spec: larder.rateLimiter({ name: n('user'), limit: 2, window: 60 }) },
            {
              path: '/keyed',
              spec: { name: n('keyed'), limit: 1, window: 60 },
              options: {
                key: (probe) => {
                  const apiKey = probe.header('x-api-key');
                  return apiKey === undefined ? undefined : `key:${apiKey}`;
                },
              },
            },
            {
              path: '/cost',
              spec: { name: n('cost'), limit: 10, window: 60 },
              options: { cost: (probe) => Number(probe.header('x-cost') ?? '1') },
            },
            { path: '/cost-fixed', spec: { name: n('cost2'), limit: 5, window: 60 }, options: { cost: 2 } },
            {
              path: '/skip',
              spec: { name: n('skip'), limit: 1, window: 60 },
              options: { skip: (probe) => probe.header('x-skip') === '1' },
            },
            {
              path: '/ladder',
              spec: { name: n('ladder'), limit: 1, window: 1 },
              options: { ladder: { after: 2, within: 10, ban: 2 } },
            },
            {
              path: '/closed',
              spec: { name: n('closed'), limit: 5, window: 60, location: outage, insurance: false },
            },
            {
              path: '/open',
              spec: {
                name: n('open'),
                limit: 5,
                window: 60,
                location: outage,
                insurance: false,
                failOpen: true,
              },
            },
            { path: '/xff', spec: { name: n('xff'), limit: 1, window: 60 } },
            { path: '/xff4', spec: { name: n('xff4'), limit: 1, window: 60 } },
            { path: '/xff6', spec: { name: n('xff6'), limit: 1, window: 60 } },
            { path: '/xff-chain', spec: { name: n('xff-chain'), limit: 1, window: 60 } },
            { path: '/outside', spec: { name: n('outside'), limit: 1, window: 60 } },
          ],
          global: {
            prefix: '/g',
            spec: { name: n('global'), limit: 3, window: 60 },
            routes: [{ path: '/a' }, { path: '/b', spec: { name: n('route'), limit: 1, window: 60 } }],
          },
        };
        served = await app.serve(larder, false, plan);
        trusted = await app.serve(larder, ['loopback'], plan);
      });
      after(async () => {
        await served?.close();
        await trusted?.close();
        await larder?.close();
        await dedicated?.stop();
      });

      test('allows `limit` requests, then answers 429 with Retry-After and a quota-exceeded problem', async () => {
        for (const remaining of [2, 1, 0]) {
          const res = await call(served.base, '/basic');
          assert.equal(res.status, 200);
          assert.equal(res.text, 'ok');
          assert.equal(itemOf(listField(res, 'ratelimit'), n('api')).r, remaining);
        }
        const refused = await call(served.base, '/basic');
        assertQuotaExceeded(refused, [n('api')], 60);
        assert.equal(itemOf(listField(refused, 'ratelimit'), n('api')).r, 0);
        assert.deepEqual(itemOf(listField(refused, 'ratelimit-policy'), n('api')), { q: 3, w: 60 });
      });

      test('RateLimit and RateLimit-Policy are structured-field Lists: "name";q;w and "name";r;t', async () => {
        const first = await call(served.base, '/fields');
        assert.equal(first.status, 200);
        // The exact text of draft-10 §3.2 / §4.2: a String item, Integer parameters.
        assert.equal(first.headers.get('ratelimit-policy'), `"${n('fields')}";q=5;w=30`);
        assert.match(first.headers.get('ratelimit') ?? '', new RegExp(`^"${n('fields')}";r=4;t=\\d+$`));
        const policy = listField(first, 'ratelimit-policy');
        assert.deepEqual(policy, [{ name: n('fields'), params: { q: 5, w: 30 } }]);
        const state = listField(first, 'ratelimit');
        assert.equal(state.length, 1);
        assert.deepEqual(Object.keys(state[0].params), ['r', 't']);
        assert.equal(state[0].params.r, 4);
        assertSeconds(state[0].params.t, 1, 30);
        const second = await call(served.base, '/fields');
        assert.equal(itemOf(listField(second, 'ratelimit'), n('fields')).r, 3);
      });

      test('a limiter of several named rules lists one item per rule in both fields', async () => {
        const burst = n('burst');
        const hourly = n('hourly');
        const first = await call(served.base, '/multi');
        assert.equal(first.status, 200);
        assert.deepEqual(listField(first, 'ratelimit-policy'), [
          { name: burst, params: { q: 2, w: 10 } },
          { name: hourly, params: { q: 5, w: 3600 } },
        ]);
        const state = listField(first, 'ratelimit');
        assert.deepEqual(
          state.map((item) => item.name),
          [burst, hourly],
        );
        assert.equal(itemOf(state, burst).r, 1);
        assert.equal(itemOf(state, hourly).r, 4);
        assertSeconds(itemOf(state, hourly).t, 1, 3600);
        const second = await call(served.base, '/multi');
        assert.equal(itemOf(listField(second, 'ratelimit'), burst).r, 0);
        assert.equal(itemOf(listField(second, 'ratelimit'), hourly).r, 3);
        // The burst rule refuses; the hourly one passes and gives nothing up.
        const refused = await call(served.base, '/multi');
        assertQuotaExceeded(refused, [burst], 10);
        const refusedState = listField(refused, 'ratelimit');
        assert.equal(itemOf(refusedState, burst).r, 0);
        assertSeconds(itemOf(refusedState, burst).t, 1, 10);
        assert.equal(itemOf(refusedState, hourly).r, 3);
      });

      test('headers: false leaves allowed responses bare; the 429 still carries the fields', async () => {
        const allowed = await call(served.base, '/quiet');
        assert.equal(allowed.status, 200);
        assert.equal(allowed.headers.get('ratelimit'), null);
        assert.equal(allowed.headers.get('ratelimit-policy'), null);
        const refused = await call(served.base, '/quiet');
        assertQuotaExceeded(refused, [n('quiet')], 60);
        assert.deepEqual(listField(refused, 'ratelimit-policy'), [
          { name: n('quiet'), params: { q: 1, w: 60 } },
        ]);
      });

      test('a global limit counts every route under it; a route limit adds its own item beside it', async () => {
        const global = n('global');
        const route = n('route');
        const first = await call(served.base, '/g/b');
        assert.equal(first.status, 200);
        const both = listField(first, 'ratelimit');
        assert.deepEqual(both.map((item) => item.name).sort(), [global, route].sort());
        assert.equal(itemOf(both, global).r, 2);
        assert.equal(itemOf(both, route).r, 0);
        assert.deepEqual(
          listField(first, 'ratelimit-policy')
            .map((item) => item.name)
            .sort(),
          [global, route].sort(),
        );
        // The route's limit refuses; the global one counted the request before it.
        const refused = await call(served.base, '/g/b');
        assertQuotaExceeded(refused, [route], 60);
        assert.equal(itemOf(listField(refused, 'ratelimit'), global).r, 1);
        const other = await call(served.base, '/g/a');
        assert.equal(other.status, 200);
        const only = listField(other, 'ratelimit');
        assert.deepEqual(
          only.map((item) => item.name),
          [global],
        );
        assert.equal(itemOf(only, global).r, 0);
        assertQuotaExceeded(await call(served.base, '/g/a'), [global], 60);
        // A route outside the group is not limited by it.
        const outside = await call(served.base, '/outside');
        assert.equal(outside.status, 200);
        assert.deepEqual(
          listField(outside, 'ratelimit').map((item) => item.name),
          [n('outside')],
        );
      });

      test('keys by the logged-in user (session login), and by client address otherwise', async () => {
        const alice = await login(served.base, 'alice');
        const bob = await login(served.base, 'bob');
        assert.equal((await call(served.base, '/user', { cookie: alice })).status, 200);
        assert.equal((await call(served.base, '/user', { cookie: alice })).status, 200);
        assertQuotaExceeded(await call(served.base, '/user', { cookie: alice }), [n('user')], 60);
        // Bob and anonymous visitors have budgets of their own.
        const bobs = await call(served.base, '/user', { cookie: bob });
        assert.equal(bobs.status, 200);
        assert.equal(itemOf(listField(bobs, 'ratelimit'), n('user')).r, 1);
        const anonymous = await call(served.base, '/user');
        assert.equal(anonymous.status, 200);
        assert.equal(itemOf(listField(anonymous, 'ratelimit'), n('user')).r, 1);
        assert.equal((await call(served.base, '/user')).status, 200);
        assertQuotaExceeded(await call(served.base, '/user'), [n('user')], 60);
        // A limiter is one store: the same user through the other app is still refused.
        assert.equal((await call(trusted.base, '/user', { cookie: alice })).status, 429);
      });

      test('key(req) picks the subject; undefined falls back to the default', async () => {
        assert.equal((await call(served.base, '/keyed', { 'x-api-key': 'k1' })).status, 200);
        assertQuotaExceeded(await call(served.base, '/keyed', { 'x-api-key': 'k1' }), [n('keyed')], 60);
        assert.equal((await call(served.base, '/keyed', { 'x-api-key': 'k2' })).status, 200);
        assert.equal((await call(served.base, '/keyed')).status, 200);
        assert.equal((await call(served.base, '/keyed')).status, 429);
      });

      test('cost takes that many units: a function of the request, or a number', async () => {
        const four = await call(served.base, '/cost', { 'x-cost': '4' });
        assert.equal(four.status, 200);
        assert.equal(itemOf(listField(four, 'ratelimit'), n('cost')).r, 6);
        const six = await call(served.base, '/cost', { 'x-cost': '6' });
        assert.equal(six.status, 200);
        assert.equal(itemOf(listField(six, 'ratelimit'), n('cost')).r, 0);
        assertQuotaExceeded(await call(served.base, '/cost'), [n('cost')], 60);

        for (const remaining of [3, 1]) {
          const res = await call(served.base, '/cost-fixed');
          assert.equal(res.status, 200);
          assert.equal(itemOf(listField(res, 'ratelimit'), n('cost2')).r, remaining);
        }
        assertQuotaExceeded(await call(served.base, '/cost-fixed'), [n('cost2')], 60);
      });

      test('skip(req) lets a request through uncounted and without the fields', async () => {
        for (let i = 0; i < 3; i++) {
          const skipped = await call(served.base, '/skip', { 'x-skip': '1' });
          assert.equal(skipped.status, 200);
          assert.equal(skipped.headers.get('ratelimit'), null);
          assert.equal(skipped.headers.get('ratelimit-policy'), null);
        }
        const counted = await call(served.base, '/skip');
        assert.equal(counted.status, 200);
        assert.equal(itemOf(listField(counted, 'ratelimit'), n('skip')).r, 0);
        assertQuotaExceeded(await call(served.base, '/skip'), [n('skip')], 60);
        assert.equal((await call(served.base, '/skip', { 'x-skip': '1' })).status, 200);
      });

      test('ladder: `after` 429s within the window ban the subject (403), and the ban ends', async () => {
        assert.equal((await call(served.base, '/ladder')).status, 200);
        assertQuotaExceeded(await call(served.base, '/ladder'), [n('ladder')], 1);
        // The second 429 earns the ban; it is still answered 429.
        assertQuotaExceeded(await call(served.base, '/ladder'), [n('ladder')], 1);
        const banned = await call(served.base, '/ladder');
        assert.equal(banned.status, 403, banned.text);
        assert.match(banned.headers.get('content-type') ?? '', /^application\/problem\+json/);
        assert.equal(banned.headers.get('cache-control'), 'no-store');
        const wait = Number(banned.headers.get('retry-after'));
        assertSeconds(wait, 1, 2);
        const problem = banned.json();
        assert.equal(problem.type, 'https://iana.org/assignments/http-problem-types#abnormal-usage-detected');
        assert.equal(problem.status, 403);
        assert.equal(problem.retryAfter, wait);
        assert.equal(typeof problem.detail, 'string');
        // Banned through the other app too (one store), and whatever the main limit says.
        assert.equal((await call(trusted.base, '/ladder')).status, 403);
        await sleep(wait * 1000 + 100);
        const back = await call(served.base, '/ladder');
        assert.equal(back.status, 200, back.text);
        assert.equal(itemOf(listField(back, 'ratelimit'), n('ladder')).r, 0);
      });

      test('on a Redis outage, a limiter without insurance fails closed (503) or open, as configured', async () => {
        assert.equal((await call(served.base, '/closed')).status, 200);
        assert.equal((await call(served.base, '/open')).status, 200);
        await dedicated.stop();
        const closed = await call(served.base, '/closed');
        assert.equal(closed.status, 503, closed.text);
        assert.match(closed.headers.get('content-type') ?? '', /^application\/problem\+json/);
        assert.equal(closed.headers.get('cache-control'), 'no-store');
        assert.equal(closed.headers.get('ratelimit'), null);
        const problem = closed.json();
        assert.equal(problem.status, 503);
        assert.equal(problem.code, 'E_BACKEND_UNAVAILABLE');
        const open = await call(served.base, '/open');
        assert.equal(open.status, 200, open.text);
        assert.equal(open.text, 'ok');
      });

      test('trustProxy false: a spoofed X-Forwarded-For is ignored, the peer is the subject', async () => {
        assert.equal((await call(served.base, '/xff', { 'x-forwarded-for': '203.0.113.1' })).status, 200);
        const spoofed = await call(served.base, '/xff', { 'x-forwarded-for': '203.0.113.2' });
        assertQuotaExceeded(spoofed, [n('xff')], 60);
      });

      test("trustProxy ['loopback']: the forwarded client is the subject, IPv6 by /64", async () => {
        const v4 = (ip: string) => call(trusted.base, '/xff4', { 'x-forwarded-for': ip });
        assert.equal((await v4('203.0.113.1')).status, 200);
        assert.equal((await v4('203.0.113.1')).status, 429);
        assert.equal((await v4('203.0.113.2')).status, 200);

        const v6 = (ip: string) => call(trusted.base, '/xff6', { 'x-forwarded-for': ip });
        assert.equal((await v6('2001:db8:1:2::a')).status, 200);
        assert.equal((await v6('2001:db8:1:2:ffff::b')).status, 429, 'the same /64');
        assert.equal((await v6('2001:db8:1:3::a')).status, 200, 'the next /64');
        assert.equal((await v6('::ffff:203.0.113.9')).status, 200);
        assert.equal((await v6('203.0.113.9')).status, 429, 'an IPv4-mapped address is its IPv4');
      });

      test('behind a trusted proxy, entries left of the first untrusted hop are ignored', async () => {
        // The client itself wrote the leftmost entry; the proxy appended the address it saw.
        const chain = (spoofed: string) =>
          call(trusted.base, '/xff-chain', { 'x-forwarded-for': `${spoofed}, 203.0.113.50` });
        assert.equal((await chain('198.51.100.1')).status, 200);
        assert.equal((await chain('198.51.100.2')).status, 429);
      });

      test('options are checked when the middleware is made, naming the option', () => {
        const rateLimit = app.factory(larder);
        const spec = { name: n('checked'), limit: 2, window: 60 };
        const refuses = (make: () => unknown, path: RegExp) =>
          assert.throws(make, (error: unknown) => error instanceof ConfigError && path.test(error.path));
        refuses(() => rateLimit(n('unknown')), /^rateLimits\./);
        refuses(() => rateLimit(spec, { cost: 3 }), /\.cost$/);
        refuses(() => rateLimit(spec, { ladder: { after: 0, within: 10, ban: 10 } }), /\.ladder\.after$/);
        refuses(
          () => rateLimit(spec, { ladder: { after: 2, within: 'soon', ban: 10 } }),
          /\.ladder\.within$/,
        );
        refuses(() => rateLimit(spec, { ladder: { after: 2, within: 10, ban: 0 } }), /\.ladder\.ban$/);
        refuses(() => rateLimit(spec, { keys: () => 'x' }), /\.keys$/);
        refuses(() => rateLimit(spec, { headers: 'yes' }), /\.headers$/);
        refuses(() => rateLimit(spec, { skip: true }), /\.skip$/);
      });

      extra?.({
        get larder() {
          return larder;
        },
        get base() {
          return served.base;
        },
      });
    });
  }
}
