/**
 * @module larder/express — larder for Express 5 (and Connect-style) apps.
 *
 * `adapt(larder)` returns the same factories as `larder/fastify` and `larder/hono`;
 * only what they return differs (here: Express middleware).
 */
import { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { NextFunction, Request, Response } from 'express';
import {
  addNeverCacheHeaders,
  applyHeaderChanges,
  type CacheControlDirectives,
  type HeaderRecord,
  type HeaderWriter,
  patchCacheControl,
  patchVaryHeaders,
} from '../http/cache-headers.js';
import { clientAddress } from '../http/client-ip.js';
import { createDashboard, type DashboardOptions } from '../http/dashboard/index.js';
import {
  createEventStream,
  type EventChannels,
  type EventsOptions,
  startOnNodeResponse,
} from '../http/events.js';
import { healthResponse } from '../http/health.js';
import { metricsResponse } from '../http/metrics.js';
import {
  type CachePageOptions,
  createPageCache,
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
import { Exchange, errorResponse, type SessionCommit, sessionHeaders } from '../http/session.js';
import type { Larder } from '../larder.js';
import type { Session } from '../session/session.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The request's session, set by `web.session()` (larder). */
    session: Session;
  }
}

/** Options shared by every adapter. */
export interface AdaptOptions {
  /** Trust `X-Forwarded-*` from these proxies (addresses, CIDRs, or `true`). @default false */
  trustProxy?: boolean | string | string[];
}

/**
 * Binds larder to Express.
 *
 * @example
 * const web = adapt(larder);
 * app.get('/health', web.health());
 */
export function adapt(larder: Larder, options: AdaptOptions = {}) {
  hookExpressResponse();
  // A named object, not `this`: `const { siteCache } = adapt(larder)` works too.
  const factories = {
    options,
    /**
     * Sessions (Django's SessionMiddleware): `req.session` is a lazy `Session`; changes are
     * saved before the response headers go out, and nothing is saved on a 5xx.
     *
     * @example
     * app.use(web.session());
     * app.post('/cart', async (req, res) => { await req.session.set('cart', ['sku-1']); res.redirect('/cart'); });
     */
    session() {
      return function session(req: Request, res: Response, next: NextFunction) {
        const state = new ExpressSession(larder.sessions, req, next, larder);
        // One property per request: an Express req/res gets a hidden class of its own on
        // every request, so each property added to one makes a new class (and a WeakMap
        // instead kept every request's session alive into the old generation: 40 % more
        // promoted per request). `req.session` is a getter on `express.request` reading it.
        (res as Stateful)[STATE] = state;
        if (EXPRESS === undefined || !inheritsFrom.call(EXPRESS.request, req)) {
          req.session = state.session;
          hookWriteHead(res as Patchable);
        }
        // A middleware before this one wrapped `res.end` (compression): wrap it in turn, so
        // the store write still comes before its output.
        if (res.end !== EXPRESS?.end) wrapEnd(res, state);
        if (state.ready) state.ready.then(() => next(), next);
        else next();
      };
    },
    /**
     * Caches this route's responses for `ttl` seconds (Django's `@cache_page`).
     *
     * @example app.get('/products', web.cachePage(60 * 15), listProducts);
     */
    cachePage(ttl: number | string, pageOptions: CachePageOptions = {}) {
      const pages = createPageCache(larder, ttl, pageOptions);
      return function cachePage(req: Request, res: Response, next: NextFunction) {
        // undefined: a hit held in this process went out in this turn.
        pages.handle(new ExpressExchange(req, res, next))?.catch(next);
      };
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
      return function neverCache(_req: Request, res: Response, next: NextFunction) {
        onHeaders(res, (headers) => addNeverCacheHeaders(headers));
        next();
      };
    },
    /**
     * Adds Cache-Control directives with Django's `patch_cache_control` rules.
     *
     * @example app.get('/logo.png', web.cacheControl({ public: true, 'max-age': 86400 }), logo);
     */
    cacheControl(directives: CacheControlDirectives) {
      return function cacheControl(_req: Request, res: Response, next: NextFunction) {
        onHeaders(res, (headers) => patchCacheControl(headers, directives));
        next();
      };
    },
    /**
     * Adds request headers to `Vary` (Django's `@vary_on_headers`), so the page cache keys on them.
     *
     * @example app.get('/home', web.varyOnHeaders('Accept-Language'), web.cachePage(60), home);
     */
    varyOnHeaders(...names: string[]) {
      return function varyOnHeaders(_req: Request, res: Response, next: NextFunction) {
        onHeaders(res, (headers) => patchVaryHeaders(headers, names));
        next();
      };
    },
    /** `varyOnHeaders('Cookie')` (Django's `@vary_on_cookie`). @example web.varyOnCookie() */
    varyOnCookie() {
      return factories.varyOnHeaders('Cookie');
    },
    /** A route answering `larder.health()` as JSON: 200, or 503 when a backend is down. */
    health() {
      return async function health(_req: Request, res: Response, next: NextFunction) {
        try {
          const out = await healthResponse(larder);
          res.status(out.status).set(out.headers).send(out.body);
        } catch (error) {
          next(error);
        }
      };
    },
    /**
     * A route answering `larder.metrics` in the Prometheus text exposition (counters and
     * latency histograms of every cache, session, rate-limit, task and pub/sub operation).
     * Put it behind your own access rule if the port is public.
     *
     * @example app.get('/metrics', web.metrics());
     */
    metrics() {
      return async function metrics(_req: Request, res: Response, next: NextFunction) {
        try {
          const out = await metricsResponse(larder);
          res.status(out.status).set(out.headers).send(out.body);
        } catch (error) {
          next(error);
        }
      };
    },
    /**
     * Rate limiting (DESIGN §4.4): middleware that counts each request against `spec` (a
     * configured name, several names, a spec in code, or a `RateLimiter`) for the logged-in
     * user (`web.session()` placed before) or else the client address (`trustProxy` decides
     * whether `X-Forwarded-For` is believed). Past the limit: 429 problem+json with
     * `Retry-After`; the `RateLimit` / `RateLimit-Policy` headers on every answer; with a
     * `ladder`, 403 for a banned subject; 503 when the limiter fails closed.
     *
     * @example
     * app.use(web.session());
     * app.use('/api', web.rateLimit('api'));
     * app.post('/login', web.rateLimit({ name: 'login', limit: 5, window: '15m' }, { ladder: { after: 3, within: '1h', ban: '1h' } }), login);
     */
    rateLimit(spec: RateLimitSpec, limitOptions: RateLimitOptions<Request> = {}) {
      const check = createRateLimit(larder, spec, limitOptions);
      const addressOf = clientAddress(options.trustProxy);
      return function rateLimit(req: Request, res: Response, next: NextFunction) {
        check(req, () => defaultSubject(req.session, () => addressOf(req))).then((decision) => {
          if (decision.allowed) {
            addRateLimitHeaders(res, decision.headers);
            next();
            return;
          }
          addRateLimitHeaders(res, decision.response.headers);
          res.status(decision.response.status).send(decision.response.body);
        }, next);
      };
    },
    /**
     * Server-Sent Events (DESIGN §4.6): a route streaming `channels` of `larder.pubsub` —
     * every `larder.pubsub.sendEvent()` from any process, each with an id; a browser that
     * reconnects with `Last-Event-ID` gets what it missed, in order, once (or a `gap` event
     * when it was trimmed). `authorize(req, channels)` answers 403 when false; `channels` may
     * be a function of the request.
     *
     * @example
     * app.get('/events', web.events(['orders'], { authorize: (req) => req.get('x-staff') === '1' }));
     * await larder.pubsub.sendEvent('orders', { sku: 'mug' }, { event: 'bought' });
     */
    events(channels: EventChannels<Request>, eventOptions: EventsOptions<Request> = {}) {
      const stream = createEventStream(larder, channels, eventOptions);
      return function events(req: Request, res: Response, next: NextFunction) {
        stream.open(req, req.get('last-event-id')).then((opening) => {
          if (opening.kind === 'stream') {
            startOnNodeResponse(opening, res);
            return;
          }
          const { status, headers, body } = opening.response;
          res.status(status).set(headers).send(body);
        }, next);
      };
    },
    /**
     * The ops dashboard (live charts of the caches, sessions, rate limits, queues and
     * pub/sub; Redis INFO per server; the biggest keys of a cache on demand): middleware to
     * mount with `app.use(path, …)`. It serves `/`, `/stream`, `/info`, `/keys` and
     * `/assets/<file>` below that path and passes anything else on. `authorize(req)` is
     * required and receives the Express `req`; anything but `true` answers 403.
     *
     * @example
     * app.use(web.session());
     * app.use('/ops', web.dashboard({ authorize: async (req) => (await req.session.get('role')) === 'staff' }));
     */
    dashboard(dashboardOptions: DashboardOptions<Request>) {
      const board = createDashboard(larder, dashboardOptions);
      return function dashboard(req: Request, res: Response, next: NextFunction) {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          next();
          return;
        }
        const at = req.url.indexOf('?');
        const query = new URLSearchParams(at >= 0 ? req.url.slice(at + 1) : '');
        board
          .handle({ raw: req, path: req.path, query, base: req.baseUrl, head: req.method === 'HEAD' })
          .then((answer) => {
            if (answer === undefined) next();
            else if (answer.kind === 'stream') startOnNodeResponse(answer, res);
            else res.status(answer.response.status).set(answer.response.headers).send(answer.response.body);
          }, next);
      };
    },
  };
  return factories;
}

/** Sets rate-limit headers, joining the `RateLimit` Lists an earlier limiter put there. */
function addRateLimitHeaders(res: Response, headers: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(headers)) {
    res.setHeader(name, mergeHeader(name, res.getHeader(name), value));
  }
}

/** The core's view of an Express request (a class: no closures made per request). */
class ExpressPageRequest implements PageRequest {
  readonly method: string;
  readonly scheme: string;
  readonly host: string;
  readonly url: string;
  readonly #req: Request;

  constructor(req: Request) {
    this.#req = req;
    this.method = req.method;
    this.scheme = req.protocol;
    // The host the app sees: Express 5's req.host reads X-Forwarded-Host under `trust proxy`,
    // as req.hostname does. Keyed on the raw Host, a page rendered for a forwarded host (its
    // links, its canonical URL) would be stored for every client of the real one.
    this.host = req.host ?? req.get('host') ?? '';
    this.url = req.originalUrl;
  }

  header(name: string): string | undefined {
    return this.#req.get(name);
  }
}

/** The response's headers as the core's record (lower-case names). */
function headersOf(res: Response): HeaderRecord {
  return res.getHeaders() as HeaderRecord;
}

/** How `applyHeaderChanges` writes onto an Express response. */
const RESPONSE_HEADERS: HeaderWriter<Response> = {
  set: (res, name, value) => res.setHeader(name, value),
  remove: (res, name) => res.removeHeader(name),
};

const PATCHES = Symbol('larder.headerPatches');
const HOOKED = Symbol('larder.writeHeadHooked');
const CAPTURED = Symbol('larder.pageCaptured');
type Captured = Response & { [CAPTURED]?: boolean };
/** A patch edits a header record (`neverCache`, `varyOn…`) or, marked `direct`, the response itself (sessions). */
type HeaderPatch = ((headers: HeaderRecord) => void) | { direct: (res: Response) => void };
type Patchable = Response & { [PATCHES]?: HeaderPatch[]; [HOOKED]?: true };

/**
 * Runs `patch` on the response headers just before they are sent — or earlier, when the
 * page cache captures the response (it must store the headers the client will see).
 */
function onHeaders(res: Response, patch: HeaderPatch): void {
  const patchable = res as Patchable;
  if (patchable[PATCHES]) patchable[PATCHES].push(patch);
  else patchable[PATCHES] = [patch];
  hookWriteHead(patchable);
}

/**
 * Makes `writeHead` apply the patches first. On Express the hook goes once on the
 * `express.response` prototype all apps' responses inherit from (Express's own extension
 * point): assigning a wrapper to every response object, as on-headers does, gives each its
 * own shape, and cost about a quarter of a session request's throughput in
 * bench/session.ts. A response that is not Express's gets its own wrapper.
 */
function hookWriteHead(res: Patchable): void {
  if (res[HOOKED]) return;
  let target: object = res;
  for (let proto = Object.getPrototypeOf(res); proto && proto !== ServerResponse.prototype; ) {
    const parent = Object.getPrototypeOf(proto);
    if (parent === ServerResponse.prototype) target = proto;
    proto = parent;
  }
  const hooked = target as Patchable;
  const original = hooked.writeHead;
  Object.defineProperty(hooked, 'writeHead', {
    value: function writeHead(this: Response, ...args: unknown[]) {
      flushHeaderPatches(this);
      return (original as (...a: unknown[]) => Response).apply(this, args);
    },
    writable: true,
    configurable: true,
  });
  Object.defineProperty(hooked, HOOKED, { value: true, configurable: true });
}

/** Express's request and response prototypes once hooked, and the hooked `end` (see `hookExpress`). */
let EXPRESS: { request: object; response: object; end: Response['end'] } | undefined;

const inheritsFrom = Object.prototype.isPrototypeOf;

/** A response's session state (`web.session()`), read by the `writeHead` and `end` hooks. */
const STATE = Symbol('larder.session');
type Stateful = Response & { [STATE]?: ExpressSession };

/**
 * Hooks Express's prototypes when `adapt()` runs, before the first request: `writeHead` (a
 * middleware that saves `res.writeHead` (on-headers, response-time) before the first
 * `onHeaders` call would otherwise keep the unhooked function for that request, and the
 * session's Set-Cookie would be lost on the process's first response), `end` (holds the
 * response until its session is stored) and a `session` getter on the request. Express is
 * loaded only if the app has it (Connect-style apps get a per-response hook instead).
 */
function hookExpressResponse(): void {
  if (EXPRESS !== undefined) return;
  let express: { request?: unknown; response?: unknown };
  try {
    express = createRequire(import.meta.url)('express') as typeof express;
  } catch {
    return;
  }
  const { request, response } = express;
  if (!response || Object.getPrototypeOf(response) !== ServerResponse.prototype) return;
  if (!request || typeof request !== 'object') return;
  hookWriteHead(response as Patchable);
  const original = (response as Response).end;
  const end = function end(this: Response) {
    const state = (this as Stateful)[STATE];
    // biome-ignore lint/complexity/noArguments: forwarded as they came, without an array per call
    if (state === undefined) return original.apply(this, arguments as never);
    // biome-ignore lint/complexity/noArguments: as above
    return state.end(this, original, arguments);
  } as Response['end'];
  Object.defineProperty(response, 'end', { value: end, writable: true, configurable: true });
  // `req.session`: this request's larder session. Assigning it (express-session does, on
  // apps that use it) makes an own property, as without the getter.
  Object.defineProperty(request, 'session', {
    get(this: Request) {
      return (this.res as Stateful | undefined)?.[STATE]?.session;
    },
    set(this: Request, value: unknown) {
      Object.defineProperty(this, 'session', { value, writable: true, configurable: true, enumerable: true });
    },
    configurable: true,
  });
  EXPRESS = { request, response, end };
}

/** A per-response `end` wrapper, for a response whose `end` another middleware wrapped first. */
function wrapEnd(res: Response, state: ExpressSession): void {
  const original = res.end;
  res.end = function sessionEnd(this: Response) {
    res.end = original;
    // biome-ignore lint/complexity/noArguments: forwarded as they came
    return state.end(this, original, arguments);
  } as Response['end'];
}

/**
 * One request's session on Express: the exchange (session, commit), what was decided for
 * the response, and how to finish it. One object per request; no closures.
 */
class ExpressSession extends Exchange {
  readonly #req: Request;
  readonly #next: NextFunction;
  readonly #larder: Larder;
  #commit: SessionCommit | undefined;
  #failure: { error: unknown } | undefined;
  #headersDone = false;
  /** `end` ran (the response is finished or waits for its store write). */
  ended = false;

  constructor(sessions: Larder['sessions'], req: Request, next: NextFunction, larder: Larder) {
    const headers = req.headers;
    super(sessions, headers.cookie, headers['user-agent']);
    this.#req = req;
    this.#next = next;
    this.#larder = larder;
  }

  protected override requestIsSecure(): boolean {
    const req = this.#req;
    // Without 'trust proxy' (Express's default), req.secure is the socket's TLS and nothing
    // else; asking the socket skips the getters behind req.secure (protocol, the trust
    // function, the peer address), a few µs of a session request that sends a cookie.
    if (req.app?.settings?.['trust proxy'] === false)
      return (req.socket as { encrypted?: boolean }).encrypted === true;
    return req.secure;
  }

  /** Decides once, when the headers are fixed: the commit, or the error that replaces the response. */
  #decide(res: Response): SessionCommit | undefined {
    if (this.#commit === undefined && this.#failure === undefined) {
      try {
        this.#commit = this.commit(res.statusCode);
      } catch (error) {
        this.#failure = { error };
      }
    }
    return this.#commit;
  }

  /** Puts the session's `Vary` and `Set-Cookie` on the response (once, before any other header patch). */
  applyHeaders(res: Response): void {
    if (this.#headersDone) return;
    this.#headersDone = true;
    const decided = this.#decide(res);
    if (!decided) return;
    const { vary, setCookie } = sessionHeaders(decided, res.getHeader('vary'));
    if (vary !== undefined) res.setHeader('vary', vary);
    if (setCookie !== undefined) res.appendHeader('set-cookie', setCookie);
  }

  /**
   * `res.end(...args)`: sends at once, or once the store has the session (a redirect must not
   * outrun it). A second call (the held one, or the app's own) goes straight through.
   */
  end(res: Response, original: Response['end'], args: ArrayLike<unknown>): Response {
    if (this.ended) return original.apply(res, args as never);
    this.ended = true;
    this.#decide(res);
    const persist = this.#commit?.persist;
    if (this.#failure === undefined && persist === undefined) return original.apply(res, args as never);
    // No failure here means a store write to wait for.
    const work = this.#failure === undefined ? persist!() : Promise.reject(this.#failure.error);
    work.then(
      () => original.apply(res, args as never),
      (error: unknown) => {
        // The error response must not carry the failed session's Set-Cookie / Vary,
        // which the header patch would otherwise add at writeHead.
        this.#commit = undefined;
        this.#headersDone = true;
        this.#failure ??= { error };
        sendSessionError(res, original, error, this.#next, this.#larder);
      },
    );
    return res;
  }
}

/** Applies (once) the header patches registered by session, neverCache, cacheControl, varyOn…. */
function flushHeaderPatches(res: Response): void {
  (res as Stateful)[STATE]?.applyHeaders(res);
  const patches = (res as Patchable)[PATCHES];
  if (!patches?.length) return;
  const pending = patches.splice(0);
  let before: HeaderRecord | undefined;
  let after: HeaderRecord | undefined;
  for (const patch of pending) {
    if (typeof patch !== 'function') {
      // Record patches run on a copy; a direct one sees the response as they left it.
      if (before && after) applyHeaderChanges(res, RESPONSE_HEADERS, before, after);
      before = after = undefined;
      patch.direct(res);
      continue;
    }
    before ??= { ...headersOf(res) };
    after ??= { ...before };
    patch(after);
  }
  if (before && after) applyHeaderChanges(res, RESPONSE_HEADERS, before, after);
}

/** Replaces a response whose session could not be saved with the error's problem+json. */
function sendSessionError(
  res: Response,
  end: Response['end'],
  error: unknown,
  next: NextFunction,
  larder: Larder,
): void {
  let out: ReturnType<typeof errorResponse>;
  try {
    out = errorResponse(error);
  } catch {
    if (!res.headersSent) {
      next(error);
      return;
    }
    out = { status: 500, headers: {}, body: '' };
  }
  if (res.headersSent) {
    // A streamed response went out before the save finished; all that is left is to say so.
    larder.log('error', `larder: a session could not be saved after the response started: ${String(error)}`);
    (end as (...a: unknown[]) => Response).call(res);
    return;
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = out.status;
  for (const [name, value] of Object.entries(out.headers)) res.setHeader(name, value);
  res.setHeader('content-length', Buffer.byteLength(out.body));
  (end as (...a: unknown[]) => Response).call(res, out.body);
}

/**
 * The page cache's exchange on Express: send, pass to the route, or render captured. A
 * class, so a hit makes no closures.
 */
class ExpressExchange implements PageExchange {
  readonly request: PageRequest;
  readonly #res: Response;
  readonly #next: NextFunction;

  constructor(req: Request, res: Response, next: NextFunction) {
    this.request = new ExpressPageRequest(req);
    this.#res = res;
    this.#next = next;
  }

  send(page: PageResponse): void {
    const res = this.#res;
    // A siteCache around this route passes this answer through: it is not stored twice.
    (res as Captured)[CAPTURED] = true;
    res.statusCode = page.status;
    const { headers } = page;
    const ownOf = (name: string) => res.getHeader(name);
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined) continue;
      // What middleware set for this request before the page cache ran is its own, but for
      // the headers that describe the page; Vary names both (pageHeader).
      const sent = pageHeader(name, value, ownOf);
      if (sent !== undefined) res.setHeader(name, sent);
    }
    // Text goes out with the headers in one write (a Buffer is written beside them).
    res.end(page.text ?? page.body);
  }

  pass(cacheStatus: string): void {
    this.#res.setHeader('cache-status', cacheStatus);
    this.#next();
  }

  render(finalize: (response: PageResponse, streamed: boolean) => PageResponse) {
    return capture(this.#res, this.#next, finalize);
  }
}

/**
 * Lets the route render and captures what it writes: a body written in several chunks
 * streams through untouched (and is not stored); a body sent in one `end` is handed to
 * `finalize` before the headers go out, and what `finalize` returns is sent instead.
 */
function capture(
  res: Response,
  next: NextFunction,
  finalize: (response: PageResponse, streamed: boolean) => PageResponse,
): Promise<HeaderRecord | void> {
  return new Promise((resolve) => {
    // A response destroyed without end() (aborted, res.destroy()) must still release the
    // requests waiting on this render.
    res.once('close', () => resolve());
    const write = res.write;
    const end = res.end;
    const writeHead = res.writeHead;
    const release = () => {
      res.write = write;
      res.end = end;
      res.writeHead = writeHead;
    };
    // The headers going out before end() (a write, writeHead, flushHeaders: a stream, SSE):
    // the response is streamed, and the requests waiting on this render are let go now, not
    // when the stream ends (an event stream may never end).
    const streaming = () => {
      release();
      finalize({ status: res.statusCode, headers: { ...headersOf(res) }, body: Buffer.alloc(0) }, true);
      resolve();
    };
    res.write = function captured(this: Response, ...args: unknown[]) {
      streaming();
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof res.write;
    res.writeHead = function capturedWriteHead(this: Response, ...args: unknown[]) {
      streaming();
      return (writeHead as (...a: unknown[]) => Response).apply(this, args);
    } as typeof res.writeHead;
    res.end = function capturedEnd(this: Response, chunk?: unknown, ...rest: unknown[]) {
      release();
      flushHeaderPatches(res);
      // A route-level cachePage inside a siteCache already decided for this response:
      // the outer one passes it through (the route's own ttl wins).
      const handled = (res as Captured)[CAPTURED] === true;
      if (handled || res.headersSent) {
        finalize({ status: res.statusCode, headers: { ...headersOf(res) }, body: Buffer.alloc(0) }, true);
        resolve();
        return (end as (...a: unknown[]) => Response).call(this, chunk, ...rest);
      }
      (res as Captured)[CAPTURED] = true;
      const encoding = typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : 'utf8';
      const body =
        chunk === undefined || typeof chunk === 'function'
          ? Buffer.alloc(0)
          : Buffer.isBuffer(chunk)
            ? chunk
            : typeof chunk === 'string'
              ? Buffer.from(chunk, encoding)
              : Buffer.from(chunk as Uint8Array);
      const before = { ...headersOf(res) };
      const captured: PageResponse = { status: res.statusCode, headers: { ...before }, body };
      const out = finalize(captured, false);
      res.statusCode = out.status;
      applyHeaderChanges(res, RESPONSE_HEADERS, before, out.headers);
      const callback = rest.find((r) => typeof r === 'function');
      const returned = (end as (...a: unknown[]) => Response).call(this, out.body, callback);
      // What finally went out, after any on-headers listener (express-session's cookie).
      resolve({ ...headersOf(res) });
      return returned;
    } as typeof res.end;
    next();
  });
}
