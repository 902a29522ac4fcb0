/**
 * @module larder/hono — larder for Hono 4 apps (on @hono/node-server or any Fetch runtime).
 *
 * `adapt(larder)` returns the same factories as `larder/express` and `larder/fastify`;
 * here they return Hono middleware and handlers.
 *
 * Two Hono-specific rules, decided here:
 *
 * - **Complete or streamed.** A Hono handler hands back a `Response` whose body is a stream
 *   in every case, so the page cache decides by how it was made. A body is *complete* (read
 *   whole, may be stored) when it is empty, when the response came from `c.text`, `c.json`,
 *   `c.html`, `c.render`, or `c.body` / `c.newResponse` with a string or bytes, or when it
 *   declares its size with `Content-Length` (a proxied `fetch()`, a file). Anything else is
 *   *streamed* and passes through untouched, never buffered nor stored: the `stream()`,
 *   `streamText()` and `streamSSE()` helpers, `c.body(readable)`, `text/event-stream`,
 *   `Transfer-Encoding: chunked`, and a `new Response(…)` built by the handler without a
 *   `Content-Length` (its body may never end, so it is not read).
 * - **Header helpers go anywhere.** `neverCache`, `cacheControl`, `varyOnHeaders` and
 *   `varyOnCookie` may sit before or after `cachePage` (on the route or in `app.use`): each
 *   registers its patch before the route runs, and the patches are applied once, to the
 *   route's response, before `cachePage` decides what to store — so a `Vary` they add
 *   always keys the cache. Middleware of your own that edits `c.res` after `await next()`
 *   must come after `cachePage` (it then runs inside it) for its edits to be stored.
 */
import { type Context, type Handler, Hono, type Next } from 'hono';
import type { StatusCode } from 'hono/utils/http-status';
import { ConfigError, describeValue } from '../errors.js';
import {
  addNeverCacheHeaders,
  applyHeaderChanges,
  type CacheControlDirectives,
  type HeaderRecord,
  type HeaderWriter,
  patchCacheControl,
  patchVaryHeaders,
} from '../http/cache-headers.js';
import { clientAddress, type PeerRequest } from '../http/client-ip.js';
import { createDashboard, type DashboardOptions } from '../http/dashboard/index.js';
import { createEventStream, type EventChannels, type EventsOptions, webEventBody } from '../http/events.js';
import { healthResponse } from '../http/health.js';
import { metricsResponse } from '../http/metrics.js';
import {
  type CachePageOptions,
  createPageCache,
  type PageCache,
  type PageExchange,
  type PageRequest,
  type PageResponse,
  pageHeader,
} from '../http/page-cache.js';
import {
  createRateLimit,
  defaultSubject,
  mergeHeader,
  type RateLimitOptions,
  type RateLimitSpec,
} from '../http/ratelimit.js';
import { applySessionHeaders, errorResponse, openSession, type SessionCommit } from '../http/session.js';
import type { Larder } from '../larder.js';
import type { Session } from '../session/session.js';
import type { AdaptOptions } from './express.js';

export type { AdaptOptions };

declare module 'hono' {
  interface ContextVariableMap {
    /** The request's session, set by `web.session()` (larder): `c.get('session')`. */
    session: Session;
  }
}

/**
 * Binds larder to Hono.
 *
 * @example
 * const web = adapt(larder);
 * app.get('/products', web.cachePage(60 * 15), (c) => c.html(renderProducts()));
 * app.get('/health', web.health());
 */
export function adapt(larder: Larder, options: AdaptOptions = {}) {
  // A named object, not `this`: `const { siteCache } = adapt(larder)` works too.
  const factories = {
    options,
    /**
     * Sessions (Django's SessionMiddleware): `c.get('session')` is a lazy `Session`; changes
     * are saved after the route, before the response leaves (and their headers are in place
     * before a `cachePage` inside decides what to store); nothing is saved on a 5xx.
     *
     * @example
     * app.use(web.session());
     * app.post('/cart', async (c) => { await c.get('session').set('cart', ['sku-1']); return c.redirect('/cart'); });
     */
    session() {
      return async function session(c: Context, next: Next): Promise<void> {
        const exchange = openSession(larder.sessions, {
          cookie: c.req.header('cookie'),
          secure: c.req.url.startsWith('https:'),
          userAgent: c.req.header('user-agent'),
        });
        c.set('session', exchange.session);
        let commit: SessionCommit | undefined;
        let failure: { error: unknown } | undefined;
        const decide = () => {
          if (commit === undefined && failure === undefined) {
            try {
              commit = exchange.commit(c.res.status);
            } catch (error) {
              failure = { error };
            }
          }
          return commit;
        };
        onHeaders(c, (headers) => {
          const decided = decide();
          if (decided) applySessionHeaders(headers, decided);
        });
        if (exchange.ready) await exchange.ready;
        await next();
        flushHeaderPatches(c);
        decide();
        try {
          if (failure) throw failure.error;
          await commit?.persist?.();
        } catch (error) {
          const out = errorResponse(error);
          replaceResponse(c, new Response(out.body, { status: out.status, headers: out.headers }));
        }
      };
    },
    /**
     * Caches this route's responses for `ttl` seconds (Django's `@cache_page`): middleware,
     * or — called with the route's handler, as Django's `cache_page(ttl)(view)` — that
     * handler cached. The second form is the faster one on Hono: a route with one handler
     * skips Hono's middleware chain, and a hit held in this process (a memory cache, a
     * tiered cache's tier) is answered in the same turn, on @hono/node-server's synchronous
     * path. Both forms store and serve the same pages. The wrapper form is an addition to
     * DESIGN §4.0 (which names the factories, each returning Hono middleware), on Hono only:
     * Express and Fastify run a route's middleware and handler alike, so it would gain nothing.
     *
     * @example
     * app.get('/products', web.cachePage(60 * 15), listProducts);
     * app.get('/catalog', web.cachePage(60 * 15)(listCatalog));
     */
    cachePage(ttl: number | string, pageOptions: CachePageOptions = {}): CachePageMiddleware {
      const pages = createPageCache(larder, ttl, pageOptions);
      function cachePage(c: Context, next: Next): Promise<Response | void>;
      function cachePage<H extends AnyHandler>(handler: H): H;
      function cachePage(first: Context | AnyHandler, next?: Next): Promise<Response | void> | AnyHandler {
        if (typeof first === 'function') return cachedHandler(pages, first);
        const done = pages.handle(new HonoExchange(first, next!));
        // A hit sent in this turn: c.res is set, and Hono awaits what it gets.
        return done instanceof Promise ? done : SENT;
      }
      return cachePage;
    },
    /**
     * The whole site's GET/HEAD responses, cached for `ttl` (default 600 s, Django's
     * CACHE_MIDDLEWARE_SECONDS) — UpdateCacheMiddleware + FetchFromCacheMiddleware in one.
     *
     * @example app.use(web.siteCache({ ttl: 600 }));
     */
    siteCache(siteOptions: CachePageOptions & { ttl?: number | string } = {}) {
      return factories.cachePage(siteOptions.ttl ?? 600, siteOptions);
    },
    /**
     * Marks the response as never cacheable (Django's `@never_cache`).
     *
     * @example app.get('/account', web.neverCache(), account);
     */
    neverCache() {
      return async function neverCache(c: Context, next: Next): Promise<void> {
        onHeaders(c, (headers) => addNeverCacheHeaders(headers));
        await next();
        flushHeaderPatches(c);
      };
    },
    /**
     * Adds Cache-Control directives with Django's `patch_cache_control` rules.
     *
     * @example app.get('/logo.png', web.cacheControl({ public: true, 'max-age': 86400 }), logo);
     */
    cacheControl(directives: CacheControlDirectives) {
      return async function cacheControl(c: Context, next: Next): Promise<void> {
        onHeaders(c, (headers) => patchCacheControl(headers, directives));
        await next();
        flushHeaderPatches(c);
      };
    },
    /**
     * Adds request headers to `Vary` (Django's `@vary_on_headers`), so the page cache keys on them.
     *
     * @example app.get('/home', web.cachePage(60), web.varyOnHeaders('Accept-Language'), home);
     */
    varyOnHeaders(...names: string[]) {
      return async function varyOnHeaders(c: Context, next: Next): Promise<void> {
        onHeaders(c, (headers) => patchVaryHeaders(headers, names));
        await next();
        flushHeaderPatches(c);
      };
    },
    /** `varyOnHeaders('Cookie')` (Django's `@vary_on_cookie`). @example web.varyOnCookie() */
    varyOnCookie() {
      return factories.varyOnHeaders('Cookie');
    },
    /** A handler answering `larder.health()`: 200, or 503 when a backend is down. */
    health() {
      return async function health(_c: Context) {
        const out = await healthResponse(larder);
        return new Response(out.body, { status: out.status, headers: out.headers });
      };
    },
    /**
     * A handler answering `larder.metrics` in the Prometheus text exposition (counters and
     * latency histograms of every cache, session, rate-limit, task and pub/sub operation).
     * Put it behind your own access rule if the port is public.
     *
     * @example app.get('/metrics', web.metrics());
     */
    metrics() {
      return async function metrics(_c: Context): Promise<Response> {
        const out = await metricsResponse(larder);
        return new Response(out.body, { status: out.status, headers: out.headers });
      };
    },
    /**
     * Rate limiting (DESIGN §4.4): middleware that counts each request against `spec` (a
     * configured name, several names, a spec in code, or a `RateLimiter`) for the logged-in
     * user (`web.session()` placed before) or else the client address — the socket's, as
     * @hono/node-server gives it (`trustProxy` decides whether `X-Forwarded-For` is
     * believed; elsewhere, pass `key`). Past the limit: 429 problem+json with `Retry-After`;
     * the `RateLimit` / `RateLimit-Policy` headers on every answer; with a `ladder`, 403 for
     * a banned subject; 503 when the limiter fails closed.
     *
     * @example
     * app.use(web.session());
     * app.use('/api/*', web.rateLimit('api'));
     * app.post('/login', web.rateLimit({ name: 'login', limit: 5, window: '15m' }, { ladder: { after: 3, within: '1h', ban: '1h' } }), login);
     */
    rateLimit(spec: RateLimitSpec, limitOptions: RateLimitOptions<Context> = {}) {
      const check = createRateLimit(larder, spec, limitOptions);
      const addressOf = clientAddress(options.trustProxy);
      const name = typeof spec === 'object' && spec !== null && 'name' in spec ? spec.name : spec;
      return async function rateLimit(c: Context, next: Next): Promise<Response | undefined> {
        const decision = await check(c, () =>
          defaultSubject(c.get('session'), () => addressOf(incomingOf(c, name))),
        );
        if (!decision.allowed) {
          const { status, headers, body } = decision.response;
          return c.newResponse(body, { status: status as StatusCode, headers });
        }
        await next();
        const added = Object.entries(decision.headers);
        if (added.length === 0) return undefined;
        // After the route, so the headers land on whatever response it made (`c.json`, a `new Response`).
        editHeaders(c, (headers) => {
          for (const [field, value] of added)
            headers.set(field, mergeHeader(field, headers.get(field), value));
        });
        return undefined;
      };
    },
    /**
     * Server-Sent Events (DESIGN §4.6): a handler streaming `channels` of `larder.pubsub` —
     * every `larder.pubsub.sendEvent()` from any process, each with an id; a browser that
     * reconnects with `Last-Event-ID` gets what it missed, in order, once (or a `gap` event
     * when it was trimmed). `authorize(c, channels)` answers 403 when false; `channels` may
     * be a function of the context.
     *
     * @example
     * app.get('/events', web.events(['orders'], { authorize: (c) => c.req.header('x-staff') === '1' }));
     */
    events(channels: EventChannels<Context>, eventOptions: EventsOptions<Context> = {}) {
      const stream = createEventStream(larder, channels, eventOptions);
      return async function events(c: Context): Promise<Response> {
        const opening = await stream.open(c, c.req.header('last-event-id'));
        if (opening.kind === 'response') {
          const { status, headers, body } = opening.response;
          return new Response(body, { status, headers });
        }
        // Under @hono/node-server the Node response's buffer counts toward the bound too.
        const outgoing = (c.env as { outgoing?: { writableLength?: number } } | undefined)?.outgoing;
        return new Response(webEventBody(opening, outgoing), { status: 200, headers: opening.headers });
      };
    },
    /**
     * The ops dashboard (live charts of the caches, sessions, rate limits, queues and
     * pub/sub; Redis INFO per server; the biggest keys of a cache on demand): a sub-app to
     * mount with `app.route(path, …)`. It serves `/`, `/stream`, `/info`, `/keys` and
     * `/assets/:file` under that path (the page at the path itself, `/ops`, Hono being
     * strict about trailing slashes). `authorize(c)` is required and receives the Hono
     * `Context`; anything but `true` answers 403.
     *
     * @example
     * app.route('/ops', web.dashboard({ authorize: (c) => c.req.header('x-staff-token') === process.env.STAFF_TOKEN }));
     */
    dashboard(dashboardOptions: DashboardOptions<Context>): Hono {
      const board = createDashboard(larder, dashboardOptions);
      const serve = (c: Context, path: string) => {
        const full = c.req.path;
        const base = full.endsWith(path) ? full.slice(0, full.length - path.length) : full;
        return board
          .handle({
            raw: c,
            path,
            query: new URL(c.req.url).searchParams,
            base,
            head: c.req.method === 'HEAD',
          })
          .then((answer) => {
            if (answer === undefined) return c.notFound();
            if (answer.kind === 'response') {
              const { status, headers, body } = answer.response;
              return new Response(body, { status, headers });
            }
            const outgoing = (c.env as { outgoing?: { writableLength?: number } } | undefined)?.outgoing;
            return new Response(webEventBody(answer, outgoing), { status: 200, headers: answer.headers });
          });
      };
      const routes = new Hono();
      routes.get('/', (c) => serve(c, c.req.path.endsWith('/') ? '/' : ''));
      for (const path of ['/stream', '/info', '/keys']) routes.get(path, (c) => serve(c, path));
      routes.get('/assets/:file', (c) => serve(c, `/assets/${c.req.param('file')}`));
      return routes;
    },
  };
  return factories;
}

/**
 * The Node request under @hono/node-server (`c.env.incoming`; `c.env.server.incoming` behind
 * a wrapper, as its `getConnInfo` reads it). Elsewhere there is no socket to key by.
 */
function incomingOf(c: Context, limit: unknown): PeerRequest {
  const env = c.env as { incoming?: PeerRequest; server?: { incoming?: PeerRequest } } | undefined;
  const incoming = env?.server?.incoming ?? env?.incoming;
  if (incoming) return incoming;
  throw new ConfigError(
    `rateLimit(${describeValue(limit)}).key`,
    undefined,
    "a key function (e.g. key: (c) => c.req.header('x-api-key')): outside @hono/node-server this " +
      'request has no client address to limit by',
  );
}

/** A request URL's parts the page cache keys on. */
interface UrlParts {
  scheme: string;
  host: string;
  /** Path and query. */
  path: string;
}

/** Parsed request URLs (bounded): parsing one costs more than the rest of a hit's key. */
const urlParts = new Map<string, UrlParts>();
const MAX_PARSED_URLS = 10_000;

function partsOf(href: string): UrlParts {
  let parts = urlParts.get(href);
  if (parts === undefined) {
    const url = new URL(href);
    parts = { scheme: url.protocol.slice(0, -1), host: url.host, path: url.pathname + url.search };
    if (urlParts.size >= MAX_PARSED_URLS) urlParts.clear();
    urlParts.set(href, parts);
  }
  return parts;
}

/**
 * The core's view of a Hono request: scheme and host as the URL and `Host` say. A class, as
 * the exchange below: a hit makes no closures.
 */
class HonoPageRequest implements PageRequest {
  readonly method: string;
  readonly scheme: string;
  readonly host: string;
  readonly url: string;
  readonly #c: Context;
  /** Node's request under @hono/node-server over HTTP/1 (see `nodeRequest`). */
  readonly #node: NodeRequest | undefined;

  constructor(c: Context) {
    const parts = partsOf(c.req.url);
    this.#c = c;
    this.#node = nodeRequest(c);
    this.method = c.req.method;
    this.scheme = parts.scheme;
    this.url = parts.path;
    this.host = this.header('host') ?? parts.host;
  }

  header(name: string): string | undefined {
    const node = this.#node;
    if (node === undefined) return this.#c.req.header(name);
    if (KEPT_ONCE.has(name)) {
      const joined = everyCopy(node.rawHeaders, name);
      return joined === null ? this.#c.req.header(name) : joined;
    }
    const value = node.headers[name];
    return typeof value === 'string' || value === undefined ? value : value.join(', ');
  }
}

/**
 * Headers Node keeps only the first of when a request repeats them, where `c.req.header()`
 * joins every copy. Those are read from the raw list, joined the same way: a page rendered
 * for `User-Agent: a, b` must not be stored under the key of `User-Agent: a`.
 */
const KEPT_ONCE = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** Node's parsed request headers: lower-case names, repeated ones joined as Node joins them. */
type NodeHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** What a hit reads of Node's request: its parsed headers, and the list they came from. */
interface NodeRequest {
  headers: NodeHeaders;
  /** Names and values as received, alternating. */
  rawHeaders: readonly string[];
}

/**
 * Node's request when @hono/node-server serves HTTP/1 (`c.env.incoming`): a hit reads
 * If-None-Match, `Host` and what its page varies on, and `c.req.header()` goes through
 * @hono/node-server's Headers (a name check, a copy of the raw list, a value check) for each.
 * Node's object joins repeated headers as Headers does, but for {@link KEPT_ONCE}. `undefined`
 * elsewhere.
 */
function nodeRequest(c: Context): NodeRequest | undefined {
  const incoming = (
    c.env as
      | { incoming?: { httpVersionMajor?: unknown; headers?: unknown; rawHeaders?: unknown } }
      | undefined
  )?.incoming;
  if (incoming === undefined || incoming.httpVersionMajor !== 1) return undefined;
  const { headers, rawHeaders } = incoming;
  return typeof headers === 'object' && headers !== null && Array.isArray(rawHeaders)
    ? (incoming as NodeRequest)
    : undefined;
}

/**
 * Every copy of the header `name` (lower-case) in a raw list, joined with `, ` and trimmed of
 * HTTP whitespace, as Fetch's `Headers.get` gives it; `undefined` when it is absent. `null`
 * when a value holds what Headers refuses (NUL, CR, LF; Node's parser never lets those
 * through): the caller then asks Hono.
 */
function everyCopy(raw: readonly string[], name: string): string | undefined | null {
  let joined: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const rawName = raw[i]!;
    if (rawName.length !== name.length || rawName.toLowerCase() !== name) continue;
    const value = trimHttpWhitespace(raw[i + 1]!);
    if (/[\0\r\n]/.test(value)) return null;
    joined = joined === undefined ? value : `${joined}, ${value}`;
  }
  return joined;
}

/** `value` without leading or trailing HTTP whitespace (tab, space, CR, LF; Fetch's normalize). */
function trimHttpWhitespace(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isHttpWhitespace(value.charCodeAt(start))) start++;
  while (end > start && isHttpWhitespace(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

function isHttpWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

/**
 * The page cache's exchange on Hono. `pass` and `render` run the rest of the chain, which
 * is asynchronous here, and hand its promise back to the core, so `handle` settles after
 * it — rejected when the route failed, so Hono's error handler sees it.
 */
class HonoExchange implements PageExchange {
  readonly request: PageRequest;
  readonly #c: Context;
  readonly #next: Next;
  /** Nothing ran before this exchange's handler (see `send`). */
  readonly #first: boolean;

  constructor(c: Context, next: Next, first = false) {
    this.request = new HonoPageRequest(c);
    this.#c = c;
    this.#next = next;
    this.#first = first;
  }

  send(page: PageResponse): Response {
    return send(this.#c, page, this.#first);
  }

  pass(cacheStatus: string): Promise<void> {
    return passThrough(this.#c, this.#next, cacheStatus);
  }

  render(finalize: (response: PageResponse, streamed: boolean) => PageResponse): Promise<void> {
    return render(this.#c, this.#next, finalize);
  }

  /**
   * Middleware around the route runs its code after `await next()` once `render` resolved,
   * and may add headers then (a cookie): on @hono/node-server the headers of the response
   * that went out, read when Node has sent it. Elsewhere nothing (the response as the route
   * left it is what the core checks).
   */
  sent(): Promise<HeaderRecord | void> {
    const c = this.#c;
    // Duck-typed: this module imports nothing from Node, for the other Fetch runtimes.
    const node = (c.env as { outgoing?: NodeOutgoing } | undefined)?.outgoing;
    if (typeof node?.once !== 'function') return Promise.resolve();
    if (node.writableFinished || node.destroyed) return Promise.resolve(headerRecord(c.res.headers));
    return new Promise((resolve) => {
      const done = () => {
        node.off('finish', done);
        node.off('close', done);
        resolve(headerRecord(c.res.headers));
      };
      node.once('finish', done);
      node.once('close', done);
    });
  }
}

/** What `sent` uses of @hono/node-server's `c.env.outgoing` (a Node ServerResponse). */
interface NodeOutgoing {
  once(event: 'finish' | 'close', listener: () => void): unknown;
  off(event: 'finish' | 'close', listener: () => void): unknown;
  writableFinished?: boolean;
  destroyed?: boolean;
}

/** Any Hono handler, whatever its route's types. */
type AnyHandler = Handler<any, any, any, any>;

/** What `cachePage(ttl)` returns: middleware, and a wrapper of the route's handler. */
export type CachePageMiddleware = {
  (c: Context, next: Next): Promise<Response | void>;
  <H extends AnyHandler>(handler: H): H;
};

/** The middleware's answer when a hit went out in this turn (Hono awaits what it gets). */
const SENT: Promise<void> = Promise.resolve();

/**
 * `cachePage(ttl)(handler)`: the page cache around the route's handler. A hit is the
 * handler's answer; a miss runs the handler as Hono's chain would (its returned response
 * becomes `c.res`) and stores what the rules allow. Registered as the route's only handler,
 * nothing else ran before it, so a hit is a new response with no headers to carry over.
 */
function cachedHandler(pages: PageCache, handler: AnyHandler): AnyHandler {
  return function cachedPage(c: Context, next: Next): Response | Promise<Response | void> | void {
    // A sent page is the answer (in this turn, or what the promise resolves); when the route
    // ran instead, the promise resolves empty and Hono answers with c.res, which it set.
    return pages.handle(new HonoExchange(c, () => runHandler(handler, c, next), c.req.routeIndex === 0));
  };
}

/**
 * Runs a wrapped handler as Hono runs a route's handler: a returned response becomes `c.res`;
 * with none, Hono's not-found answer (what `next` gives the last handler).
 */
async function runHandler(handler: AnyHandler, c: Context, next: Next): Promise<void> {
  const response = (await handler(c, next)) as Response | undefined;
  if (c.finalized) return;
  if (response) c.res = response;
  else await next();
}

/**
 * Answers without running the route (a hit, a stale copy, a coalesced render), and returns
 * the response. Headers that earlier middleware set with `c.header()` belong to this request
 * and win over the stored copy's (a request id set before the route was stored with the
 * first request's value). `first`: nothing ran before (a wrapped handler alone on its route),
 * so there are none, and `c.res` is left alone — the response is the handler's answer.
 */
function send(c: Context, page: PageResponse, first: boolean): Response {
  const body = hasNoBody(page.status, c.req.method) ? null : (page.text ?? bytes(page.body));
  const headers = plainHeaders(page, body !== null);
  // Reading c.res finds earlier headers (it makes the response they wait in, when none exists).
  const own = first ? undefined : c.res.headers;
  // Without a Content-Type, the Headers path below lets @hono/node-server add its default.
  if ((body === null || headers['content-type'] !== undefined) && (own === undefined || isEmpty(own))) {
    // A plain header object (not a Headers instance) keeps @hono/node-server on its fast
    // path, which writes status, headers and body without building a Fetch Response or
    // Headers (building Headers from a record cost a hit more than the rest of its work).
    const response = new Response(body, { status: page.status, headers });
    if (!first) replaceResponse(c, response);
    return response;
  }
  // This request's own headers win but for those that describe the page; Vary names both
  // sides' headers (pageHeader).
  const stored: Record<string, string> = {};
  const ownOf = (name: string) => own?.get(name);
  for (const name in headers) {
    const value = pageHeader(name, headers[name]!, ownOf);
    if (value !== undefined) stored[name] = value;
  }
  // c.newResponse starts from this request's headers and sets the stored ones over them.
  const response = c.newResponse(body, { status: page.status as StatusCode, headers: stored });
  replaceResponse(c, response);
  return response;
}

/** True when `headers` has no entry. */
function isEmpty(headers: Headers): boolean {
  for (const _ of headers) return false;
  return true;
}

/** A page's headers as strings, made once per response (a hit's is shared for a second). */
const plainRecords = new WeakMap<PageResponse, Readonly<Record<string, string>>>();
/** The same, without `Content-Length`, for a response that sends its body. */
const bodyRecords = new WeakMap<PageResponse, Readonly<Record<string, string>>>();

/**
 * `page`'s headers as a record of strings. With `body`, its `Content-Length` is left out:
 * the runtime sets it from the body it is given (@hono/node-server by the Node response's own
 * fast path; a scratch run put a lone handler's CPU per request at 23.5 µs without the header
 * and 26.7 µs with it). Without a body (HEAD, 304) it is kept, as the GET's length.
 */
function plainHeaders(page: PageResponse, body: boolean): Readonly<Record<string, string>> {
  const records = body ? bodyRecords : plainRecords;
  let record = records.get(page);
  if (record === undefined) {
    const made: Record<string, string> = {};
    for (const name in page.headers) {
      const value = page.headers[name];
      if (value !== undefined && !(body && name === 'content-length')) {
        made[name] = Array.isArray(value) ? value.join(', ') : String(value);
      }
    }
    record = Object.freeze(made);
    records.set(page, record);
  }
  return record;
}

/** Runs the route uncached and labels its response. */
async function passThrough(c: Context, next: Next, cacheStatus: string): Promise<void> {
  await next();
  editHeaders(c, (headers) => headers.set('cache-status', cacheStatus));
}

/**
 * Runs the route, then hands its response to `finalize`: a complete body is read and the
 * response `finalize` returns replaces `c.res`; a streamed one goes out as it is.
 */
async function render(
  c: Context,
  next: Next,
  finalize: (response: PageResponse, streamed: boolean) => PageResponse,
): Promise<void> {
  const tracking = trackCompleteResponses(c);
  try {
    await next();
  } finally {
    tracking.restore();
  }
  // Patches of header helpers placed before cachePage must be in what is stored.
  flushHeaderPatches(c);
  const res = c.res;
  const captured = headerRecord(res.headers);
  if (isStreamed(res, tracking.complete)) {
    const out = finalize({ status: res.status, headers: { ...captured }, body: Buffer.alloc(0) }, true);
    if (out.status !== res.status)
      replaceResponse(c, new Response(res.body, { status: out.status, headers: res.headers }));
    editHeaders(c, (headers) => applyHeaderChanges(headers, FETCH_HEADERS, captured, out.headers));
    return;
  }
  const body = Buffer.from(await res.arrayBuffer());
  const out = finalize({ status: res.status, headers: { ...captured }, body }, false);
  const outBody = hasNoBody(out.status, c.req.method) ? null : bytes(out.body);
  replaceResponse(c, new Response(outBody, { status: out.status, headers: toHeaders(out.headers) }));
}

/** Context helpers that build a response; `body` and `newResponse` may be given a stream. */
const RESPONSE_HELPERS = ['body', 'newResponse', 'text', 'json', 'html'] as const;

/**
 * Wraps the context's response helpers for the duration of the route, collecting the
 * responses they build from a complete body (a string or bytes, not a ReadableStream).
 * `c.render` and `c.redirect` go through `c.html` and `c.newResponse`, so they count too.
 */
function trackCompleteResponses(c: Context): { complete: Response[]; restore(): void } {
  const complete: Response[] = [];
  const helpers = c as unknown as Record<string, unknown>;
  const originals: Array<[string, unknown]> = [];
  for (const name of RESPONSE_HELPERS) {
    const original = helpers[name];
    if (typeof original !== 'function') continue;
    originals.push([name, original]);
    helpers[name] = (...args: unknown[]) => {
      const made: unknown = original.apply(c, args);
      if (isReadableStream(args[0])) return made;
      if (made instanceof Promise) {
        return made.then((response: Response) => {
          complete.push(response);
          return response;
        });
      }
      if (made) complete.push(made as Response);
      return made;
    };
  }
  return {
    complete,
    restore() {
      for (const [name, original] of originals) helpers[name] = original;
    },
  };
}

/** The rule in the module header: true unless the body is known to be complete. */
function isStreamed(res: Response, complete: readonly Response[]): boolean {
  if (res.bodyUsed) return true;
  const type = res.headers.get('content-type') ?? '';
  if (/^text\/event-stream\b/i.test(type)) return true;
  if (/\bchunked\b/i.test(res.headers.get('transfer-encoding') ?? '')) return true;
  if (complete.includes(res)) return false;
  if (res.body === null) return false;
  // Hono's `c.res` setter re-wraps a response (new object, same body stream) when one existed.
  if (complete.some((made) => made.body === res.body)) return false;
  return !res.headers.has('content-length');
}

function isReadableStream(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { getReader?: unknown }).getReader === 'function'
  );
}

/** RFC 9110: these statuses, and any answer to HEAD, carry no content. */
function hasNoBody(status: number, method: string): boolean {
  return (
    method.toUpperCase() === 'HEAD' || status === 204 || status === 205 || status === 304 || status < 200
  );
}

function bytes(body: Buffer): Uint8Array<ArrayBuffer> {
  return body as Uint8Array<ArrayBuffer>;
}

/**
 * Sets `c.res` to exactly `response`. Assigning over an existing `c.res` makes Hono copy the
 * old headers onto the new response (overwriting ours, reviving removed ones), so clear first.
 */
function replaceResponse(c: Context, response: Response): void {
  c.res = undefined;
  c.res = response;
}

/** Edits `c.res` headers in place, or on a copy when they are immutable (a `fetch()` response). */
function editHeaders(c: Context, edit: (headers: Headers) => void): void {
  try {
    edit(c.res.headers);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    const copy = new Response(c.res.body, c.res);
    edit(copy.headers);
    replaceResponse(c, copy);
  }
}

/** Fetch headers as the core's record (lower-case names, every Set-Cookie kept apart). */
function headerRecord(headers: Headers): HeaderRecord {
  const record: HeaderRecord = {};
  for (const [name, value] of headers) if (name !== 'set-cookie') record[name] = value;
  const cookies = headers.getSetCookie();
  if (cookies.length) record['set-cookie'] = cookies;
  return record;
}

function toHeaders(record: HeaderRecord): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(record))
    if (value !== undefined) setHeader(headers, name, value);
  return headers;
}

/** How `applyHeaderChanges` writes onto Fetch headers. */
const FETCH_HEADERS: HeaderWriter<Headers> = {
  set: setHeader,
  remove: (headers, name) => headers.delete(name),
};

function setHeader(headers: Headers, name: string, value: string | string[] | number): void {
  if (Array.isArray(value)) {
    headers.delete(name);
    for (const one of value) headers.append(name, one);
  } else {
    headers.set(name, String(value));
  }
}

/** Header patches registered by neverCache, cacheControl and varyOn… for one request. */
const PATCHES = new WeakMap<Context, Array<(headers: HeaderRecord) => void>>();

function onHeaders(c: Context, patch: (headers: HeaderRecord) => void): void {
  const patches = PATCHES.get(c);
  if (patches) patches.push(patch);
  else PATCHES.set(c, [patch]);
}

/**
 * Applies (once) the registered header patches to `c.res`: by the helper itself after the
 * route, or earlier by cachePage, which must store the headers the client will see.
 */
function flushHeaderPatches(c: Context): void {
  const patches = PATCHES.get(c);
  if (!patches?.length) return;
  const pending = patches.splice(0);
  editHeaders(c, (headers) => {
    const before = headerRecord(headers);
    const after = { ...before };
    for (const patch of pending) patch(after);
    applyHeaderChanges(headers, FETCH_HEADERS, before, after);
  });
}
