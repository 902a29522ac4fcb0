/**
 * The session middleware's conformance suite over real HTTP, on the memory and redis engines:
 * Django's `SessionMiddlewareTests` adapted, plus larder's guarantees (DESIGN §4.3) — lazy (no
 * store call, no header for a route that never touches the session), field-level writes under
 * concurrency, an exact `incr`, no resurrection after logout, no fixation, a redirect that never
 * outruns its write, and a page cache that never serves one user's page to another.
 *
 * Each adapter's test file calls `sessionSuite` with a `start` that serves `routes` (below) on
 * its framework behind `web.session()`, then adds the cases only that framework has. A route
 * is framework-neutral: `handle(session, query)` returns a {@link SessionReply} the adapter
 * renders with its own idioms (`res.redirect`, `reply.redirect`, `c.redirect`, …), and a
 * handler that throws goes to the framework's error handling (which must answer 500).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { SessionsConfig } from '../../src/config/index.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { isSessionId, newSessionId } from '../../src/session/ids.js';
import type { Session } from '../../src/session/session.js';
import type { ServerSessionStore } from '../../src/session/store.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---- routes --------------------------------------------------------------------------------

/** What a route answers; the adapter renders it. */
export interface SessionReply {
  /** @default 200 */
  status?: number;
  /** A text/plain body. */
  text?: string;
  /** A JSON body. */
  json?: unknown;
  /** Answer 302 with this `Location` instead. */
  redirect?: string;
}

/** A framework-neutral route; `start` registers each one on its framework. */
export interface SessionRoute {
  method: 'GET' | 'POST';
  path: string;
  /** Put the route behind `web.cachePage(cachePage)`. */
  cachePage?: number;
  handle(session: Session, query: URLSearchParams): Promise<SessionReply>;
}

/**
 * Named rendezvous points for routes and tests, in-process: `arrive(name, n)` counts one
 * arrival and resolves once `n` have arrived, so overlapping requests overlap for certain (no
 * sleeps). A rendezvous that never fills fails the request after 5 s instead of hanging.
 */
export class Rendezvous {
  readonly #counts = new Map<string, number>();
  readonly #waiters = new Map<string, Array<{ n: number; resolve: () => void }>>();

  arrive(name: string, n: number): Promise<void> {
    const count = (this.#counts.get(name) ?? 0) + 1;
    this.#counts.set(name, count);
    for (const waiter of this.#waiters.get(name) ?? []) if (count >= waiter.n) waiter.resolve();
    return this.reached(name, n);
  }

  /** Resolves once `n` have arrived at `name`, without arriving. */
  reached(name: string, n: number): Promise<void> {
    if ((this.#counts.get(name) ?? 0) >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`rendezvous ${name}: ${this.#counts.get(name) ?? 0} of ${n} arrived in 5 s`)),
        5_000,
      );
      const waiters = this.#waiters.get(name) ?? [];
      waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      this.#waiters.set(name, waiters);
    });
  }
}

/** A value `/set` may hold: `v` as given. */
const field = (query: URLSearchParams, name = 'f') => query.get(name) ?? 'field';

/**
 * The routes every adapter serves:
 *
 * - `GET /untouched` — never touches the session; answers `untouched`.
 * - `GET /get` — JSON `{ key, data }`: the session's id (null when fresh) and every field.
 * - `POST /set?f&v[&wait&n]` — loads the session, waits at rendezvous `wait` until `n` requests
 *   arrived (when given), then sets `f` to `v`.
 * - `POST /delete?f` — deletes field `f`.
 * - `POST /incr?f[&wait&n]` — loads, waits as `/set` does, then `incr(f)`; JSON `{ value }`.
 * - `POST /flush` — logs out (`flush`).
 * - `POST /login?user` — `login(user)`, then sets `user`.
 * - `POST /browser-close` — `setExpiry(0)` and sets `x`.
 * - `GET /fail?f&v` — sets `f` to `v`, then answers 500.
 * - `GET /throw?f&v` — sets `f` to `v`, then throws.
 * - `POST /redirect?f&v` — sets `f` to `v`, then redirects (302) to `/get`.
 * - `GET /me` — behind `cachePage(60)`: `hello <user or anonymous>`.
 * - `GET /welcome` — behind `cachePage(60)`: asks only `isEmpty()`; `welcome back` or `welcome, guest`.
 */
export function sessionRoutes(rendezvous: Rendezvous): SessionRoute[] {
  const wait = async (query: URLSearchParams) => {
    const name = query.get('wait');
    if (name) await rendezvous.arrive(name, Number(query.get('n') ?? '1'));
  };
  return [
    { method: 'GET', path: '/untouched', handle: async () => ({ text: 'untouched' }) },
    {
      method: 'GET',
      path: '/get',
      handle: async (session) => {
        const data = Object.fromEntries(await session.entries());
        return { json: { key: session.key, data } };
      },
    },
    {
      method: 'POST',
      path: '/set',
      handle: async (session, query) => {
        await session.get(field(query));
        await wait(query);
        await session.set(field(query), query.get('v') ?? '');
        return { text: 'ok' };
      },
    },
    {
      method: 'POST',
      path: '/delete',
      handle: async (session, query) => ({ text: String(await session.delete(field(query))) }),
    },
    {
      method: 'POST',
      path: '/incr',
      handle: async (session, query) => {
        await session.get(field(query));
        await wait(query);
        return { json: { value: await session.incr(field(query)) } };
      },
    },
    {
      method: 'POST',
      path: '/flush',
      handle: async (session) => {
        await session.flush();
        return { text: 'bye' };
      },
    },
    {
      method: 'POST',
      path: '/login',
      handle: async (session, query) => {
        const user = query.get('user') ?? 'nobody';
        await session.login(user);
        await session.set('user', user);
        return { text: `welcome ${user}` };
      },
    },
    {
      method: 'POST',
      path: '/browser-close',
      handle: async (session) => {
        await session.setExpiry(0);
        await session.set('x', 1);
        return { text: 'ok' };
      },
    },
    {
      method: 'GET',
      path: '/fail',
      handle: async (session, query) => {
        await session.set(field(query), query.get('v') ?? '');
        return { status: 500, text: 'failed' };
      },
    },
    {
      method: 'GET',
      path: '/throw',
      handle: async (session, query) => {
        await session.set(field(query), query.get('v') ?? '');
        throw new Error('the route failed after setting a field');
      },
    },
    {
      method: 'POST',
      path: '/redirect',
      handle: async (session, query) => {
        await session.set(field(query), query.get('v') ?? '');
        return { redirect: '/get' };
      },
    },
    {
      method: 'GET',
      path: '/me',
      cachePage: 60,
      handle: async (session) => ({ text: `hello ${(await session.get('user')) ?? 'anonymous'}` }),
    },
    {
      method: 'GET',
      path: '/welcome',
      cachePage: 60,
      handle: async (session) => ({ text: (await session.isEmpty()) ? 'welcome, guest' : 'welcome back' }),
    },
  ];
}

// ---- the client side -----------------------------------------------------------------------

/** One `Set-Cookie` header, attribute names lower-cased. */
export interface SetCookie {
  name: string;
  value: string;
  attributes: Record<string, string | true>;
}

export function parseSetCookie(line: string): SetCookie {
  const [pair, ...rest] = line.split(';');
  const eq = pair.indexOf('=');
  const attributes: Record<string, string | true> = {};
  for (const part of rest) {
    const text = part.trim();
    const at = text.indexOf('=');
    if (at < 0) attributes[text.toLowerCase()] = true;
    else attributes[text.slice(0, at).toLowerCase()] = text.slice(at + 1);
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes };
}

/** A response, read whole. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** Every `Set-Cookie`. */
  cookies: SetCookie[];
  /** The `Set-Cookie` for `name` (the session cookie by default), if any. */
  cookie(name?: string): SetCookie | undefined;
  json<T = any>(): T;
}

function answer(status: number, headers: Headers, text: string): Answer {
  const cookies = headers.getSetCookie().map(parseSetCookie);
  return {
    status,
    headers,
    text,
    cookies,
    cookie: (name = 'sessionid') => cookies.find((c) => c.name === name),
    json: () => JSON.parse(text),
  };
}

/**
 * A request with `fetch` (redirects not followed); `cookie` is the whole `Cookie` header. The
 * method defaults to the suite route's: GET for `/get`, `/untouched`, `/fail`, `/throw`, `/me`, `/welcome`,
 * POST otherwise.
 */
export async function call(
  base: string,
  path: string,
  options: { method?: string; cookie?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method: options.method ?? (/^\/(get|untouched|fail|throw|me|welcome)\b/.test(path) ? 'GET' : 'POST'),
    redirect: 'manual',
    headers: { ...options.headers, ...(options.cookie === undefined ? {} : { cookie: options.cookie }) },
  });
  return answer(res.status, res.headers, await res.text());
}

/** `sessionid=<id>`. */
export const sid = (id: string, name = 'sessionid') => `${name}=${id}`;

/** Whether `Vary` names `Cookie`. */
export const variesOnCookie = (headers: Headers) =>
  (headers.get('vary') ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .includes('cookie');

/** A new stored session holding `fields`; returns its id. */
export async function establish(base: string, fields: Record<string, string>, name = 'sessionid') {
  let id: string | undefined;
  for (const [f, v] of Object.entries(fields)) {
    const res = await call(base, `/set?f=${encodeURIComponent(f)}&v=${encodeURIComponent(v)}`, {
      ...(id === undefined ? {} : { cookie: sid(id, name) }),
    });
    assert.equal(res.status, 200, res.text);
    id ??= res.cookie(name)?.value;
  }
  assert.ok(id && isSessionId(id), `a session id was set: ${id}`);
  return id;
}

/** The data `/get` sees for `cookie`. */
export async function dataOf(base: string, cookie?: string): Promise<{ key: string | null; data: any }> {
  const res = await call(base, '/get', cookie === undefined ? {} : { cookie });
  assert.equal(res.status, 200, res.text);
  return res.json();
}

/** A cookie that clears the session cookie. */
export function assertCleared(cookie: SetCookie | undefined, name = 'sessionid') {
  assert.ok(cookie, `a Set-Cookie for ${name}`);
  assert.equal(cookie.value, '');
  assert.equal(cookie.attributes['max-age'], '0');
}

/** A problem+json answer with `status` and `code`. */
export function assertProblem(res: Answer, status: number, code: string) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const problem = res.json();
  assert.equal(problem.status, status);
  assert.equal(problem.code, code);
  assert.equal(typeof problem.detail, 'string');
}

/** The session store of `larder` (the engines under test keep sessions server-side). */
export const storeOf = (larder: Larder) => larder.sessions.store as ServerSessionStore;

const STORE_METHODS = ['load', 'create', 'update', 'incr', 'touch', 'destroy'] as const;

/**
 * Counts the calls made to the real store (and optionally delays writes); `restore()` puts the
 * methods back. A spy, not a mock: every call still reaches the engine.
 */
export function spyOnStore(larder: Larder, options: { delayWrites?: number } = {}) {
  const store = storeOf(larder) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const calls: string[] = [];
  const originals = STORE_METHODS.map((name) => [name, store[name]] as const);
  for (const [name, original] of originals) {
    store[name] = async (...args: unknown[]) => {
      calls.push(name);
      if (options.delayWrites && (name === 'create' || name === 'update')) await sleep(options.delayWrites);
      return original.apply(store, args);
    };
  }
  return {
    calls,
    restore() {
      for (const [name, original] of originals) store[name] = original;
    },
  };
}

// ---- the suite -----------------------------------------------------------------------------

/** A framework's app serving the routes, listening on `base`. */
export interface Served {
  base: string;
  close(): Promise<void>;
}

/** What a framework's own cases see; set once the suite's `before` ran. */
export interface SessionSuiteContext {
  readonly base: string;
  readonly larder: Larder;
  readonly rendezvous: Rendezvous;
  /** Runs `body` against a second app on a larder with these session settings, then closes it. */
  withApp(sessions: SessionsConfig, body: (base: string, larder: Larder) => Promise<void>): Promise<void>;
}

/** The framework's own cases, run after the shared ones in the same describe, same server. */
export interface SessionSuiteOptions {
  extra?: (ctx: SessionSuiteContext) => void;
}

type Target = 'memory' | 'standalone';

function larderFor(target: Target, sessions: SessionsConfig = {}): Larder {
  const redis = target === 'memory' ? undefined : redisUrlFor(target);
  return createLarder(
    {
      logger: false,
      redis: redis ?? false,
      caches: {
        default:
          redis === undefined
            ? { backend: 'memory' }
            : { backend: 'redis', keyPrefix: uniquePrefix('session-pages') },
      },
      sessions: {
        engine: redis === undefined ? 'memory' : 'redis',
        prefix: uniquePrefix('sessions'),
        ...sessions,
      },
    },
    {},
  );
}

let fresh = 0;
/** A name no other test of this process uses (users, rendezvous). */
const unique = (label: string) => `${label}-${++fresh}`;

/**
 * Runs the shared session cases against `framework` on the memory and redis engines, then
 * `options.extra` (the framework's own cases) on the same server and larder.
 */
export function sessionSuite(
  framework: string,
  start: (larder: Larder, routes: SessionRoute[]) => Promise<Served>,
  options: SessionSuiteOptions = {},
) {
  for (const target of ['memory', 'standalone'] as const) {
    describe(`${framework} sessions (${target === 'memory' ? 'memory' : 'redis'} engine)`, () => {
      const rendezvous = new Rendezvous();
      const routes = sessionRoutes(rendezvous);
      let larder: Larder;
      let served: Served;
      const withApp: SessionSuiteContext['withApp'] = async (sessions, body) => {
        const other = larderFor(target, sessions);
        const app = await start(other, routes);
        try {
          await body(app.base, other);
        } finally {
          await app.close();
          await other.close();
        }
      };
      const ctx: SessionSuiteContext = {
        get base() {
          return served.base;
        },
        get larder() {
          return larder;
        },
        rendezvous,
        withApp,
      };

      before(async () => {
        larder = larderFor(target);
        served = await start(larder, routes);
      });
      after(async () => {
        await served.close();
        await larder.close();
      });

      // ---- cookie attributes (Django: test_httponly_session_cookie, test_samesite_…, test_secure_…)

      test('the session cookie is HttpOnly, SameSite=Lax, Path=/, Max-Age = maxAge, and not Secure over http', async () => {
        const res = await call(ctx.base, '/set?f=a&v=1');
        assert.equal(res.status, 200);
        assert.equal(res.cookies.length, 1);
        const cookie = res.cookie()!;
        assert.ok(isSessionId(cookie.value));
        assert.equal(cookie.attributes.httponly, true);
        assert.equal(cookie.attributes.samesite, 'Lax');
        assert.equal(cookie.attributes.path, '/');
        assert.equal(cookie.attributes['max-age'], '1209600', "Django's SESSION_COOKIE_AGE");
        assert.equal(cookie.attributes.secure, undefined);
        assert.equal(cookie.attributes.domain, undefined);
        const expires = Date.parse(String(cookie.attributes.expires));
        assert.ok(
          expires > Date.now() + 1_209_000_000,
          `Expires two weeks ahead: ${cookie.attributes.expires}`,
        );

        await withApp({ maxAge: 3600 }, async (base) => {
          const short = (await call(base, '/set?f=a&v=1')).cookie()!;
          assert.equal(short.attributes['max-age'], '3600');
          const until = Date.parse(String(short.attributes.expires));
          assert.ok(until > Date.now() + 3_500_000 && until <= Date.now() + 3_601_000, String(until));
        });
      });

      test('Secure with cookie.secure: true; with the default (auto) under NODE_ENV=production; never with false', async () => {
        await withApp({ cookie: { secure: true } }, async (base) => {
          assert.equal((await call(base, '/set?f=a&v=1')).cookie()?.attributes.secure, true);
        });
        const saved = process.env.NODE_ENV;
        process.env.NODE_ENV = 'production';
        try {
          const auto = (await call(ctx.base, '/set?f=a&v=1')).cookie()!;
          assert.equal(auto.attributes.secure, true, 'auto + NODE_ENV=production');
          await withApp({ cookie: { secure: false } }, async (base) => {
            assert.equal((await call(base, '/set?f=a&v=1')).cookie()?.attributes.secure, undefined);
          });
        } finally {
          if (saved === undefined) delete process.env.NODE_ENV;
          else process.env.NODE_ENV = saved;
        }
        const plain = (await call(ctx.base, '/set?f=a&v=1')).cookie()!;
        assert.equal(plain.attributes.secure, undefined, 'auto over http outside production');
      });

      test('httpOnly: false, a custom name, domain, path and SameSite are honoured, and only that cookie is read', async () => {
        const cookie = {
          name: 'sid',
          domain: 'example.test',
          path: '/app',
          httpOnly: false,
          sameSite: 'strict',
        };
        await withApp({ cookie: cookie as SessionsConfig['cookie'] }, async (base) => {
          const res = await call(base, '/set?f=a&v=1');
          assert.equal(res.cookie('sessionid'), undefined);
          const set = res.cookie('sid')!;
          assert.ok(isSessionId(set.value));
          assert.equal(set.attributes.httponly, undefined);
          assert.equal(set.attributes.domain, 'example.test');
          assert.equal(set.attributes.path, '/app');
          assert.equal(set.attributes.samesite, 'Strict');
          assert.deepEqual((await dataOf(base, sid(set.value, 'sid'))).data, { a: '1' });
          assert.deepEqual((await dataOf(base, sid(set.value))).data, {}, 'sessionid is not our cookie here');
          // Django: test_session_delete_on_end_with_custom_domain_and_path.
          const out = await call(base, '/flush', { cookie: sid(set.value, 'sid') });
          assertCleared(out.cookie('sid'), 'sid');
          assert.equal(out.cookie('sid')?.attributes.domain, 'example.test');
          assert.equal(out.cookie('sid')?.attributes.path, '/app');
        });
      });

      test('expireAtBrowserClose (config or setExpiry(0)): the cookie has neither Max-Age nor Expires', async () => {
        await withApp({ expireAtBrowserClose: true }, async (base) => {
          const cookie = (await call(base, '/set?f=a&v=1')).cookie()!;
          assert.ok(isSessionId(cookie.value));
          assert.equal(cookie.attributes['max-age'], undefined);
          assert.equal(cookie.attributes.expires, undefined);
          assert.deepEqual((await dataOf(base, sid(cookie.value))).data, { a: '1' });
        });
        const res = await call(ctx.base, '/browser-close');
        const cookie = res.cookie()!;
        assert.ok(isSessionId(cookie.value));
        assert.equal(cookie.attributes['max-age'], undefined);
        assert.equal(cookie.attributes.expires, undefined);
        assert.deepEqual((await dataOf(ctx.base, sid(cookie.value))).data, { x: 1 });
      });

      // ---- laziness and headers

      test('a route that never touches the session makes no store call and sends neither Set-Cookie nor Vary: Cookie', async () => {
        const id = await establish(ctx.base, { a: '1' });
        const spy = spyOnStore(larder);
        try {
          for (const cookie of [undefined, sid(id), `theme=dark; ${sid(id)}`]) {
            const res = await call(ctx.base, '/untouched', cookie === undefined ? {} : { cookie });
            assert.equal(res.text, 'untouched');
            assert.deepEqual(res.cookies, [], String(cookie));
            assert.equal(variesOnCookie(res.headers), false, String(cookie));
          }
          assert.deepEqual(spy.calls, [], 'no store call');
        } finally {
          spy.restore();
        }
      });

      test('Vary: Cookie on every response that read or wrote the session, with or without a cookie', async () => {
        const fresh = await call(ctx.base, '/get');
        assert.ok(variesOnCookie(fresh.headers));
        assert.deepEqual(fresh.cookies, []);
        const id = await establish(ctx.base, { a: '1' });
        const read = await call(ctx.base, '/get', { cookie: sid(id) });
        assert.ok(variesOnCookie(read.headers));
        assert.deepEqual(read.cookies, [], 'reading an unchanged session sets no cookie');
        const write = await call(ctx.base, '/set?f=b&v=2', { cookie: sid(id) });
        assert.ok(variesOnCookie(write.headers));
        const failed = await call(ctx.base, '/fail?f=c&v=3', { cookie: sid(id) });
        assert.ok(variesOnCookie(failed.headers), 'a 5xx that read the session varies too');
      });

      test('an empty session sets no cookie and stores nothing; flush without a cookie sets none either', async () => {
        const spy = spyOnStore(larder);
        try {
          const read = await call(ctx.base, '/get');
          assert.deepEqual(read.json(), { key: null, data: {} });
          assert.deepEqual(read.cookies, []);
          // Django: test_flush_empty_without_session_cookie_doesnt_set_cookie.
          const flushed = await call(ctx.base, '/flush');
          assert.equal(flushed.status, 200);
          assert.deepEqual(flushed.cookies, []);
          assert.ok(variesOnCookie(flushed.headers));
          assert.deepEqual(
            spy.calls.filter((c) => c === 'create' || c === 'update'),
            [],
          );
        } finally {
          spy.restore();
        }
      });

      test('a session emptied field by field is deleted and its cookie cleared', async () => {
        const id = await establish(ctx.base, { only: '1' });
        const res = await call(ctx.base, '/delete?f=only', { cookie: sid(id) });
        assert.equal(res.text, 'true');
        assertCleared(res.cookie());
        assert.equal(await storeOf(larder).load(id), undefined);
      });

      test('flush (logout) on a session with a cookie clears it (Max-Age=0) and deletes it from the store', async () => {
        const id = await establish(ctx.base, { a: '1' });
        assert.ok(await storeOf(larder).load(id));
        const res = await call(ctx.base, '/flush', { cookie: sid(id) });
        assert.equal(res.text, 'bye');
        // Django: test_session_delete_on_end.
        assertCleared(res.cookie());
        assert.equal(res.cookies.length, 1);
        assert.equal(res.cookie()?.attributes.path, '/');
        assert.ok(variesOnCookie(res.headers));
        assert.equal(await storeOf(larder).load(id), undefined);
        assert.deepEqual(await dataOf(ctx.base, sid(id)), { key: null, data: {} });
      });

      test('a malformed cookie is cleared without a store call, whether or not the route reads the session', async () => {
        const spy = spyOnStore(larder);
        try {
          for (const value of ['not-an-id', 'x'.repeat(43).replace('x', '!'), `${newSessionId()}x`]) {
            const untouched = await call(ctx.base, '/untouched', { cookie: sid(value) });
            assertCleared(untouched.cookie());
            const read = await call(ctx.base, '/get', { cookie: sid(value) });
            assert.deepEqual(read.json(), { key: null, data: {} });
            assertCleared(read.cookie());
          }
          assert.deepEqual(spy.calls, [], 'a malformed id is never looked up');
        } finally {
          spy.restore();
        }
      });

      test('a well-formed id unknown to the store starts a fresh session and is never adopted', async () => {
        const planted = newSessionId();
        const read = await call(ctx.base, '/get', { cookie: sid(planted) });
        assert.deepEqual(read.json(), { key: null, data: {} });
        // Django: the cookie of a session found empty is deleted.
        assertCleared(read.cookie());
        const write = await call(ctx.base, '/set?f=a&v=1', { cookie: sid(planted) });
        const id = write.cookie()?.value;
        assert.ok(id && isSessionId(id) && id !== planted, `a fresh id, not the planted one: ${id}`);
        assert.equal(await storeOf(larder).load(planted), undefined);
      });

      // ---- what is saved, and when

      test('nothing is saved on a 5xx: neither a new session nor a change to an existing one', async () => {
        const spy = spyOnStore(larder);
        try {
          for (const path of ['/fail?f=x&v=1', '/throw?f=x&v=1']) {
            const res = await call(ctx.base, path);
            assert.equal(res.status, 500, path);
            assert.deepEqual(res.cookies, [], path);
          }
          assert.deepEqual(spy.calls, [], 'a fresh session is not even loaded, nor created');
        } finally {
          spy.restore();
        }
        const id = await establish(ctx.base, { a: '1' });
        for (const path of ['/fail?f=x&v=1', '/throw?f=x&v=1']) {
          const res = await call(ctx.base, path, { cookie: sid(id) });
          assert.equal(res.status, 500, path);
          assert.deepEqual(res.cookies, [], path);
          assert.deepEqual((await dataOf(ctx.base, sid(id))).data, { a: '1' }, path);
        }
      });

      test('a session over maxBytes answers 413 problem+json, sets no cookie and stores nothing', async () => {
        await withApp({ maxBytes: 100 }, async (base, other) => {
          const spy = spyOnStore(other);
          try {
            const res = await call(base, `/set?f=big&v=${'x'.repeat(200)}`);
            assertProblem(res, 413, 'E_SESSION_TOO_LARGE');
            assert.deepEqual(res.cookies, []);
            assert.deepEqual(
              spy.calls.filter((c) => c !== 'load'),
              [],
            );
          } finally {
            spy.restore();
          }
          const id = await establish(base, { small: '1' });
          const res = await call(base, `/set?f=big&v=${'x'.repeat(200)}`, { cookie: sid(id) });
          assertProblem(res, 413, 'E_SESSION_TOO_LARGE');
          assert.deepEqual(res.cookies, []);
          assert.deepEqual((await dataOf(base, sid(id))).data, { small: '1' });
        });
      });

      test('a redirect never outruns its session write (a slow store, the next GET sent on the 302 headers)', async () => {
        const spy = spyOnStore(larder, { delayWrites: 60 });
        try {
          let cookie: string | undefined;
          for (const value of ['1', '2']) {
            const res = await fetch(`${ctx.base}/redirect?f=r&v=${value}`, {
              method: 'POST',
              redirect: 'manual',
              headers: cookie === undefined ? {} : { cookie },
            });
            assert.equal(res.status, 302);
            assert.match(res.headers.get('location') ?? '', /\/get$/);
            const set = res.headers
              .getSetCookie()
              .map(parseSetCookie)
              .find((c) => c.name === 'sessionid');
            if (set) cookie = sid(set.value);
            assert.ok(cookie, 'the first redirect sets the cookie');
            // Before reading the 302's body: the write must already be in the store.
            const next = await dataOf(ctx.base, cookie);
            assert.equal(next.data.r, value);
            await res.arrayBuffer();
          }
          assert.ok(spy.calls.includes('create') && spy.calls.includes('update'));
        } finally {
          spy.restore();
        }
      });

      // ---- concurrency (DESIGN §4.3: field-level writes, atomic incr, delete-wins)

      test('two overlapping requests editing different fields of one session keep both writes', async () => {
        const id = await establish(ctx.base, { base: '0' });
        const meet = unique('pair');
        const [a, b] = await Promise.all([
          call(ctx.base, `/set?f=a&v=1&wait=${meet}&n=2`, { cookie: sid(id) }),
          call(ctx.base, `/set?f=b&v=2&wait=${meet}&n=2`, { cookie: sid(id) }),
        ]);
        assert.equal(a.status, 200, a.text);
        assert.equal(b.status, 200, b.text);
        assert.deepEqual((await dataOf(ctx.base, sid(id))).data, { base: '0', a: '1', b: '2' });
      });

      test('100 concurrent requests each setting its own field: all 100 fields are kept', async () => {
        const id = await establish(ctx.base, { base: '0' });
        const meet = unique('hundred');
        const answers = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            call(ctx.base, `/set?f=f${i}&v=${i}&wait=${meet}&n=100`, { cookie: sid(id) }),
          ),
        );
        assert.deepEqual(
          answers.map((r) => r.status),
          answers.map(() => 200),
        );
        const { data } = await dataOf(ctx.base, sid(id));
        const expected: Record<string, string> = { base: '0' };
        for (let i = 0; i < 100; i++) expected[`f${i}`] = String(i);
        assert.deepEqual(data, expected);
      });

      test('100 concurrent incr on one session count exactly 100', async () => {
        const id = await establish(ctx.base, { base: '0' });
        const meet = unique('incr');
        const answers = await Promise.all(
          Array.from({ length: 100 }, () =>
            call(ctx.base, `/incr?f=n&wait=${meet}&n=100`, { cookie: sid(id) }),
          ),
        );
        const values = answers.map((r) => (r.status === 200 ? r.json().value : r.text)).sort((x, y) => x - y);
        assert.deepEqual(
          values,
          Array.from({ length: 100 }, (_, i) => i + 1),
        );
        assert.equal((await dataOf(ctx.base, sid(id))).data.n, 100);
      });

      test('a session logged out meanwhile is never resurrected: the late request answers 400 problem+json', async () => {
        const id = await establish(ctx.base, { user: 'alice' });
        const meet = unique('resurrect');
        // Request A loads the session, then waits until B has logged out.
        const late = call(ctx.base, `/set?f=late&v=1&wait=${meet}&n=2`, { cookie: sid(id) });
        await rendezvous.reached(meet, 1);
        const logout = await call(ctx.base, '/flush', { cookie: sid(id) });
        assertCleared(logout.cookie());
        void rendezvous.arrive(meet, 2);
        const res = await late;
        assertProblem(res, 400, 'E_SESSION_INTERRUPTED');
        assert.equal(res.cookie()?.value, undefined, 'no cookie for a session that is gone');
        assert.equal(await storeOf(larder).load(id), undefined, 'the old id is not in the store');
        assert.deepEqual(await dataOf(ctx.base, sid(id)), { key: null, data: {} });
      });

      // ---- fixation (OWASP; Django's cycle_key on login)

      test('a login on an attacker-chosen id gets a different id; the planted one is never stored', async () => {
        const planted = newSessionId();
        const user = unique('victim');
        const res = await call(ctx.base, `/login?user=${user}`, { cookie: sid(planted) });
        assert.equal(res.status, 200, res.text);
        const id = res.cookie()?.value;
        assert.ok(id && isSessionId(id) && id !== planted, `a fresh id: ${id}`);
        assert.equal(await storeOf(larder).load(planted), undefined);
        assert.deepEqual((await dataOf(ctx.base, sid(id))).data, { user });
        assert.deepEqual((await dataOf(ctx.base, sid(planted))).data, {});
      });

      test('login on an existing session changes its id and keeps its data; the old cookie no longer works', async () => {
        const before = await establish(ctx.base, { cart: 'sku-1' });
        const user = unique('alice');
        const res = await call(ctx.base, `/login?user=${user}`, { cookie: sid(before) });
        const after = res.cookie()?.value;
        assert.ok(after && isSessionId(after) && after !== before, `a new id: ${after}`);
        assert.deepEqual((await dataOf(ctx.base, sid(after))).data, { cart: 'sku-1', user });
        assert.equal(await storeOf(larder).load(before), undefined);
        assert.deepEqual((await dataOf(ctx.base, sid(before))).data, {});
        const devices = await larder.sessions.forUser(user).list();
        assert.deepEqual(
          devices.map((d) => d.id),
          [after],
        );
      });

      // ---- hostile input

      test('fuzz: any Cookie header answers < 500 and never sets sessionid to a value the client sent', async () => {
        const id = fc.stringMatching(/^[A-Za-z0-9_-]{43}$/);
        const junk = fc.oneof(
          fc.string({ unit: 'binary', maxLength: 60 }),
          fc.string({ unit: 'grapheme', maxLength: 20 }),
          fc.constantFrom('', ';', '=', '"', '%', '%zz', '%E2%82', '\t', '=;=;', 'sessionid', '\u00ff\u00fe'),
        );
        const value = fc.oneof(
          { arbitrary: id, weight: 3 },
          { arbitrary: junk, weight: 3 },
          { arbitrary: id.map((v) => `"${v}"`), weight: 1 },
          { arbitrary: id.map((v) => encodeURIComponent(`${v};x`)), weight: 1 },
          { arbitrary: fc.integer({ min: 4_000, max: 12_000 }).map((n) => 'A'.repeat(n)), weight: 1 },
        );
        const name = fc.constantFrom(
          'sessionid',
          'sessionid',
          'SESSIONID',
          ' sessionid',
          'sessionid ',
          'sid',
          'x',
        );
        const pair = fc
          .tuple(name, value, fc.constantFrom('; ', ';', ', ', ';;', ' '))
          .map(([n, v, s]) => `${n}=${v}${s}`);
        const header = fc.oneof(
          {
            arbitrary: fc.array(pair, { minLength: 1, maxLength: 4 }).map((pairs) => pairs.join('')),
            weight: 4,
          },
          { arbitrary: junk, weight: 1 },
        );
        const route = fc.constantFrom(['GET', '/get'], ['POST', '/set?f=fuzz&v=1'], ['GET', '/untouched']);
        await fc.assert(
          fc.asyncProperty(header, route, async (text, [method, path]) => {
            const wire = toWire(text);
            const res = await rawRequest(ctx.base, method, path, wire);
            assert.ok(res.status < 500, `status ${res.status} for ${JSON.stringify(wire.slice(0, 200))}`);
            for (const cookie of res.cookies.filter((c) => c.name === 'sessionid')) {
              if (cookie.value === '') continue;
              assert.ok(isSessionId(cookie.value), `a well-formed id: ${cookie.value.slice(0, 80)}`);
              assert.ok(!wire.includes(cookie.value), 'never an id the client sent');
            }
            if (path.startsWith('/set')) {
              assert.equal(res.status, 200);
              assert.ok(res.cookies.some((c) => c.name === 'sessionid' && isSessionId(c.value)));
            }
          }),
          { numRuns: 100 },
        );
      });

      // ---- the page cache (DESIGN §4.2: never a personalised page to another user)

      test('a cached page that read the session is never served to another user nor to an anonymous request', async () => {
        const alice = unique('alice');
        const bob = unique('bob');
        const a = (await call(ctx.base, `/login?user=${alice}`)).cookie()!.value;
        const b = (await call(ctx.base, `/login?user=${bob}`)).cookie()!.value;
        const page = async (query: string, cookie?: string) => {
          const res = await call(ctx.base, `/me?${query}`, cookie === undefined ? {} : { cookie });
          assert.equal(res.status, 200);
          assert.ok(variesOnCookie(res.headers), 'the page varies on Cookie');
          return res;
        };
        // Anonymous first, then the users; then users first, then anonymous.
        for (const [query, order] of [
          ['o=anon-first', [undefined, a, b]],
          ['o=user-first', [a, b, undefined]],
        ] as const) {
          const expected = (cookie: string | undefined) =>
            cookie === a ? `hello ${alice}` : cookie === b ? `hello ${bob}` : 'hello anonymous';
          for (const cookie of order) {
            const res = await page(query, cookie === undefined ? undefined : sid(cookie));
            assert.equal(res.text, expected(cookie), query);
          }
          // Again, now from the cache: each still gets its own page.
          for (const cookie of order) {
            const res = await page(query, cookie === undefined ? undefined : sid(cookie));
            assert.equal(res.text, expected(cookie), query);
            assert.match(res.headers.get('cache-status') ?? '', /hit/, `${query}: the page cache is engaged`);
          }
        }
        // An anonymous request with another, unrelated cookie is still anonymous.
        assert.equal((await page('o=anon-first', 'theme=dark')).text, 'hello anonymous');
      });

      // Regression (session review, finding 2): isEmpty() read a stored session without marking
      // it accessed, so the page went out without Vary: Cookie and the page cache served one
      // visitor's page to every other visitor, signed in or not.
      test('a cached page that only asked isEmpty() of a session varies on Cookie and is never served to another visitor', async () => {
        const alice = (await call(ctx.base, `/login?user=${unique('alice')}`)).cookie()!.value;
        const bob = (await call(ctx.base, `/login?user=${unique('bob')}`)).cookie()!.value;
        const page = async (cookie: string | undefined) =>
          call(ctx.base, '/welcome?o=user-first', cookie === undefined ? {} : { cookie: sid(cookie) });
        const first = await page(alice);
        assert.equal(first.text, 'welcome back');
        assert.ok(variesOnCookie(first.headers), 'the page varies on Cookie');
        const again = await page(alice);
        assert.match(again.headers.get('cache-status') ?? '', /hit/, 'the page cache is engaged');
        const other = await page(bob);
        assert.equal(other.text, 'welcome back');
        assert.doesNotMatch(other.headers.get('cache-status') ?? '', /hit/, "bob is not served alice's page");
        const anonymous = await page(undefined);
        assert.equal(anonymous.text, 'welcome, guest');
      });

      options.extra?.(ctx);
    });
  }
}

// ---- raw requests for the fuzz case --------------------------------------------------------

/**
 * A `Cookie` header value as bytes on the wire: the text's UTF-8 bytes (so unicode arrives as
 * a browser would send it), without the control bytes HTTP forbids, as a latin1 string.
 */
function toWire(text: string): string {
  const bytes = [...Buffer.from(text, 'utf8')].filter((b) => b === 0x09 || (b >= 0x20 && b !== 0x7f));
  // Under Node's 16 KiB header limit: the app, not the parser, must see every value.
  return Buffer.from(bytes).toString('latin1').slice(0, 14_000).trim();
}

const agent = new http.Agent({ keepAlive: true });

/** One request with node:http, whose `Cookie` header is sent byte for byte. */
function rawRequest(base: string, method: string, path: string, cookie: string): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: hostname,
        port,
        path,
        method,
        agent,
        // An explicit empty body: without it node:http chunks a POST, and Fastify wants a type for that.
        headers: { 'content-length': '0', ...(cookie === '' ? {} : { cookie }) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const one of Array.isArray(value) ? value : [value ?? '']) headers.append(name, one);
          }
          resolve(answer(res.statusCode ?? 0, headers, Buffer.concat(chunks).toString('utf8')));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
