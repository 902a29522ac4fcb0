/**
 * @module larder/fastify — larder for Fastify 5 apps.
 *
 * `adapt(larder)` returns the same factories as `larder/express` and `larder/hono`; here
 * the per-route ones return Fastify `onRequest` hooks (as `fastify-rate-limit`'s
 * `fastify.rateLimit()` does), `siteCache()` returns a plugin, and `web.plugin` (the one
 * plugin every app registers first) wires the other half of those hooks — the `onSend`
 * step that patches headers and captures the page — into each route that uses them.
 *
 * @example
 * const web = adapt(larder);
 * await app.register(web.plugin);
 * app.get('/products', { onRequest: web.cachePage('15m') }, listProducts);
 * app.get('/home', { onRequest: [web.cachePage(60), web.varyOnHeaders('Accept-Language')] }, home);
 * app.get('/about', { config: { cache: { ttl: 600 } } }, about); // the route-config form
 */
import type {
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
  onSendHookHandler,
  RouteOptions,
} from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { ConfigError } from '../errors.js';
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
  type PageCache,
  type PageExchange,
  type PageRequest,
  type PageResponse,
  withOwnHeaders,
} from '../http/page-cache.js';
import {
  createRateLimit,
  defaultSubject,
  mergeHeader,
  type RateLimitOptions,
  type RateLimitSpec,
} from '../http/ratelimit.js';
import {
  errorResponse,
  openSession,
  type SessionCommit,
  type SessionExchange,
  sessionHeaders,
} from '../http/session.js';
import type { Larder } from '../larder.js';
import type { Session } from '../session/session.js';
import type { AdaptOptions } from './express.js';

export type { AdaptOptions };

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's session, set by `app.register(web.session())` (larder). */
    session: Session;
  }
  interface FastifyContextConfig {
    /**
     * Caches this route's responses: the route form of `web.cachePage(ttl, options)`
     * (needs `web.plugin`). `false` keeps `web.siteCache()` off this route.
     *
     * @example app.get('/about', { config: { cache: { ttl: '10m', tags: ['pages'] } } }, about);
     */
    cache?: (CachePageOptions & { ttl: number | string }) | false;
  }
}

/**
 * Binds larder to Fastify. Register `web.plugin` before declaring routes; the per-route
 * factories return `onRequest` hooks, alone or in a route's hook array (their order does
 * not matter: header patches are applied before the page cache sees the response).
 *
 * @example
 * const web = adapt(larder);
 * await app.register(web.plugin);
 * app.get('/health', web.health());
 * app.get('/account', { onRequest: web.neverCache() }, account);
 */
export function adapt(larder: Larder, options: AdaptOptions = {}) {
  // One PageCache per `config.cache` object: Fastify's implicit HEAD route shares the GET's.
  const routeHooks = new WeakMap<object, onRequestHookHandler>();
  const hookForConfig = (config: CachePageOptions & { ttl: number | string }) => {
    let hook = routeHooks.get(config);
    if (!hook) {
      hook = pageHook(createPageCache(larder, config.ttl, config));
      routeHooks.set(config, hook);
    }
    return hook;
  };

  const factories = {
    options,
    /**
     * Sessions (Django's SessionMiddleware) as a plugin: `request.session` is a lazy
     * `Session`; changes are saved in `onSend`, before the headers go out (and before the
     * page cache sees the response), and nothing is saved on a 5xx. DESIGN §4.0 has
     * `web.plugin` decorate `request.session`; here this plugin does it, so an app that
     * registers `web.plugin` for the page cache alone adds no per-request session work.
     *
     * @example
     * await app.register(web.session());
     * app.post('/cart', async (request) => { await request.session.set('cart', ['sku-1']); return { ok: true }; });
     */
    session(): FastifyPluginCallback {
      return fastifyPlugin(
        function larderSession(app, _opts, done) {
          if (!app.hasRequestDecorator('session')) app.decorateRequest('session', null as unknown as Session);
          app.addHook('onRequest', async (request) => {
            const exchange = openSession(larder.sessions, {
              cookie: request.headers.cookie,
              secure: request.protocol === 'https',
              userAgent: request.headers['user-agent'],
            });
            request.session = exchange.session;
            (request as SessionRequest)[EXCHANGE] = exchange;
            if (exchange.ready) await exchange.ready;
          });
          app.addHook('onSend', async (request, reply, payload) => {
            const exchange = (request as SessionRequest)[EXCHANGE];
            if (!exchange) return payload;
            (request as SessionRequest)[EXCHANGE] = undefined;
            try {
              const commit: SessionCommit = exchange.commit(reply.statusCode);
              const { vary, setCookie } = sessionHeaders(commit, reply.getHeader('vary'));
              if (vary !== undefined) reply.header('vary', vary);
              // Fastify appends a second set-cookie rather than replacing the first.
              if (setCookie !== undefined) reply.header('set-cookie', setCookie);
              await commit.persist?.();
              return payload;
            } catch (error) {
              const out = errorResponse(error);
              for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
              reply.code(out.status).headers(out.headers);
              return out.body;
            }
          });
          done();
        },
        { fastify: '5.x', name: 'larder-session' },
      );
    },
    /**
     * Caches this route's responses for `ttl` seconds (Django's `@cache_page`): an
     * `onRequest` hook that answers hits before the handler runs.
     *
     * @example app.get('/products', { onRequest: web.cachePage(60 * 15) }, listProducts);
     */
    cachePage(ttl: number | string, pageOptions: CachePageOptions = {}): onRequestHookHandler {
      return pageHook(createPageCache(larder, ttl, pageOptions));
    },
    /**
     * The whole site's GET/HEAD responses, cached for `ttl` (default 600 s, Django's
     * CACHE_MIDDLEWARE_SECONDS): a plugin giving every route declared after it in its scope
     * the page cache — except routes with their own `cachePage` or `config: { cache }`, and
     * routes with `config: { cache: false }`.
     *
     * @example await app.register(web.siteCache({ ttl: 600 }));
     */
    siteCache(siteOptions: CachePageOptions & { ttl?: number | string } = {}): FastifyPluginCallback {
      const site = pageHook(createPageCache(larder, siteOptions.ttl ?? 600, siteOptions));
      return fastifyPlugin(
        function siteCache(app, _opts, done) {
          app.addHook('onRoute', (route) => wire(route, hookForConfig, site));
          done();
        },
        { fastify: '5.x', name: 'larder-site-cache' },
      );
    },
    /**
     * Marks the response as never cacheable (Django's `@never_cache`).
     *
     * @example app.get('/account', { onRequest: web.neverCache() }, account);
     */
    neverCache(): onRequestHookHandler {
      return larderHook(function neverCache(request, reply, done) {
        done(onHeaders(request, reply, 'neverCache', addNeverCacheHeaders));
      });
    },
    /**
     * Adds Cache-Control directives with Django's `patch_cache_control` rules.
     *
     * @example app.get('/logo.png', { onRequest: web.cacheControl({ public: true, 'max-age': 86400 }) }, logo);
     */
    cacheControl(directives: CacheControlDirectives): onRequestHookHandler {
      return larderHook(function cacheControl(request, reply, done) {
        done(onHeaders(request, reply, 'cacheControl', (headers) => patchCacheControl(headers, directives)));
      });
    },
    /**
     * Adds request headers to `Vary` (Django's `@vary_on_headers`), so the page cache keys on them.
     *
     * @example app.get('/home', { onRequest: [web.cachePage(60), web.varyOnHeaders('Accept-Language')] }, home);
     */
    varyOnHeaders(...names: string[]): onRequestHookHandler {
      return larderHook(function varyOnHeaders(request, reply, done) {
        done(onHeaders(request, reply, 'varyOnHeaders', (headers) => patchVaryHeaders(headers, names)));
      });
    },
    /** `varyOnHeaders('Cookie')` (Django's `@vary_on_cookie`). @example { onRequest: web.varyOnCookie() } */
    varyOnCookie(): onRequestHookHandler {
      return factories.varyOnHeaders('Cookie');
    },
    /**
     * A route handler answering `larder.health()`: 200, or 503 when a backend is down.
     *
     * @example app.get('/health', web.health());
     */
    health() {
      return async function health(_request: FastifyRequest, reply: FastifyReply) {
        const out = await healthResponse(larder);
        return reply.code(out.status).headers(out.headers).send(out.body);
      };
    },
    /**
     * A route handler answering `larder.metrics` in the Prometheus text exposition (counters
     * and latency histograms of every cache, session, rate-limit, task and pub/sub
     * operation). Put it behind your own access rule if the port is public.
     *
     * @example app.get('/metrics', web.metrics());
     */
    metrics() {
      return async function metrics(_request: FastifyRequest, reply: FastifyReply) {
        const out = await metricsResponse(larder);
        return reply.code(out.status).headers(out.headers).send(out.body);
      };
    },
    /**
     * Rate limiting (DESIGN §4.4): an `onRequest` hook that counts each request against
     * `spec` (a configured name, several names, a spec in code, or a `RateLimiter`) for the
     * logged-in user (`web.session()` registered before) or else the client address
     * (`trustProxy` decides whether `X-Forwarded-For` is believed). Past the limit: 429
     * problem+json with `Retry-After`; the `RateLimit` / `RateLimit-Policy` headers on every
     * answer; with a `ladder`, 403 for a banned subject; 503 when the limiter fails closed.
     * It sets its headers itself, so it needs no `web.plugin`: use it on a route, or with
     * `addHook` for every route of a scope.
     *
     * @example
     * app.get('/api/products', { onRequest: web.rateLimit('api') }, listProducts);
     * app.addHook('onRequest', web.rateLimit({ name: 'global', limit: 1000, window: '1m' }));
     */
    rateLimit(
      spec: RateLimitSpec,
      limitOptions: RateLimitOptions<FastifyRequest> = {},
    ): onRequestHookHandler {
      const check = createRateLimit(larder, spec, limitOptions);
      const addressOf = clientAddress(options.trustProxy);
      return function rateLimit(request, reply, done) {
        check(request, () => defaultSubject(request.session, () => addressOf(request.raw))).then(
          (decision) => {
            if (decision.allowed) {
              addRateLimitHeaders(reply, decision.headers);
              done();
              return;
            }
            addRateLimitHeaders(reply, decision.response.headers);
            reply.code(decision.response.status).send(decision.response.body);
          },
          (error: Error) => done(error),
        );
      };
    },
    /**
     * Server-Sent Events (DESIGN §4.6): a route handler streaming `channels` of
     * `larder.pubsub` — every `larder.pubsub.sendEvent()` from any process, each with an id;
     * a browser that reconnects with `Last-Event-ID` gets what it missed, in order, once (or
     * a `gap` event when it was trimmed). `authorize(request, channels)` answers 403 when
     * false; `channels` may be a function of the request. The stream takes over the reply
     * (`reply.hijack()`); headers set on the reply before it are kept.
     *
     * @example
     * app.get('/events', web.events(['orders'], { authorize: (request) => request.headers['x-staff'] === '1' }));
     */
    events(channels: EventChannels<FastifyRequest>, eventOptions: EventsOptions<FastifyRequest> = {}) {
      const stream = createEventStream(larder, channels, eventOptions);
      return async function events(request: FastifyRequest, reply: FastifyReply) {
        const header = request.headers['last-event-id'];
        const opening = await stream.open(request, Array.isArray(header) ? header[0] : header);
        if (opening.kind === 'response') {
          const { status, headers, body } = opening.response;
          return reply.code(status).headers(headers).send(body);
        }
        reply.hijack();
        startOnNodeResponse(opening, reply.raw, reply.getHeaders());
        return reply;
      };
    },
    /**
     * The ops dashboard (live charts of the caches, sessions, rate limits, queues and
     * pub/sub; Redis INFO per server; the biggest keys of a cache on demand): a plugin to
     * register with a prefix. It declares `/`, `/stream`, `/info`, `/keys` and
     * `/assets/:file` under that prefix. `authorize(request)` is required and receives the
     * Fastify `request`; anything but `true` answers 403.
     *
     * @example
     * await app.register(web.dashboard({ authorize: (request) => request.headers['x-staff-token'] === process.env.STAFF_TOKEN }), { prefix: '/ops' });
     */
    dashboard(dashboardOptions: DashboardOptions<FastifyRequest>): FastifyPluginCallback {
      const board = createDashboard(larder, dashboardOptions);
      // Not wrapped in fastify-plugin: its routes must take the prefix it is registered with.
      return function larderDashboard(app, _opts, done) {
        const base = app.prefix;
        const handler = async (request: FastifyRequest, reply: FastifyReply) => {
          const at = request.url.indexOf('?');
          const path = (at >= 0 ? request.url.slice(0, at) : request.url).slice(base.length) || '/';
          const query = new URLSearchParams(at >= 0 ? request.url.slice(at + 1) : '');
          const head = request.method === 'HEAD';
          const answer = await board.handle({ raw: request, path, query, base, head });
          if (answer === undefined) return reply.callNotFound();
          if (answer.kind === 'response') {
            const { status, headers, body } = answer.response;
            return reply.code(status).headers(headers).send(body);
          }
          reply.hijack();
          startOnNodeResponse(answer, reply.raw, reply.getHeaders());
          return reply;
        };
        for (const route of ['/', '/stream', '/info', '/keys', '/assets/:file']) app.get(route, handler);
        done();
      };
    },
  };

  const plugin = fastifyPlugin(
    function larderPlugin(app, _opts, done) {
      app.addHook('onRoute', (route) => wire(route, hookForConfig));
      done();
    },
    { fastify: '5.x', name: 'larder' },
  );
  // Not enumerable: `adapt()` lists the same factories in every adapter (a test compares them).
  return Object.defineProperty(factories, 'plugin', {
    value: plugin,
    enumerable: false,
  }) as typeof factories & {
    /**
     * The Fastify plugin (`fastify-plugin`, so it applies to the scope it is registered in):
     * wires larder's hooks into every route declared after it, and reads `config: { cache }`.
     *
     * @example await app.register(web.plugin);
     */
    readonly plugin: FastifyPluginCallback;
  };
}

/** Sets rate-limit headers, joining the `RateLimit` Lists an earlier limiter put there. */
function addRateLimitHeaders(reply: FastifyReply, headers: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(headers)) {
    reply.header(name, mergeHeader(name, reply.getHeader(name), value));
  }
}

/** What a reply owes larder's `onSend` step. */
interface Pending {
  /** Header patches from neverCache, cacheControl, varyOn… — applied in order. */
  patches: Array<(headers: HeaderRecord) => void>;
  /** A page-cache miss: the core's hand-off for the captured response. */
  finalize?: (response: PageResponse, streamed: boolean) => PageResponse;
  /** Resolves the page cache's `render` promise. */
  rendered?: () => void;
  /** Set when the page cache sent the response itself (a hit): the headers it sent. */
  sent?: HeaderRecord;
}

const PENDING = Symbol('larder.pending');
const EXCHANGE = Symbol('larder.session');
type SessionRequest = FastifyRequest & { [EXCHANGE]?: SessionExchange };
/** Set on a route's config by `wire`, so a hook can tell it will get its `onSend` step. */
const WIRED = Symbol('larder.wired');
type LarderReply = FastifyReply & { [PENDING]?: Pending };

/** Hooks that need `larderOnSend` on their route. */
const larderHooks = new WeakSet<object>();
/** The page-cache hooks among them (a route with one does not get the site cache too). */
const pageHooks = new WeakSet<object>();

function larderHook(hook: onRequestHookHandler, page = false): onRequestHookHandler {
  larderHooks.add(hook);
  if (page) pageHooks.add(hook);
  return hook;
}

function pending(reply: FastifyReply): Pending {
  const r = reply as LarderReply;
  r[PENDING] ??= { patches: [] };
  return r[PENDING];
}

/** A route hook list as an array (Fastify accepts one function or an array). */
function list(hooks: unknown): unknown[] {
  if (hooks === undefined || hooks === null) return [];
  return Array.isArray(hooks) ? hooks : [hooks];
}

/**
 * An `onRoute` step: turns `config.cache` into a page hook, adds the site cache if asked,
 * and appends `larderOnSend` to a route that uses larder's hooks. New arrays, never
 * mutated ones: Fastify's implicit HEAD route holds the original options.
 */
function wire(
  route: RouteOptions,
  hookForConfig: (config: CachePageOptions & { ttl: number | string }) => onRequestHookHandler,
  site?: onRequestHookHandler,
): void {
  const config = (route.config ?? {}) as NonNullable<RouteOptions['config']> & { [WIRED]?: true };
  let onRequest = list(route.onRequest);
  const isPage = (hook: unknown) => pageHooks.has(hook as object);
  if (config.cache && !config[WIRED]) onRequest = [hookForConfig(config.cache), ...onRequest];
  if (site && config.cache !== false && !onRequest.some(isPage) && !list(route.preHandler).some(isPage)) {
    // First among the route's hooks, as app.use(siteCache()) runs before a route's middleware.
    onRequest = [site, ...onRequest];
  }
  if (![...onRequest, ...list(route.preHandler)].some((hook) => larderHooks.has(hook as object))) return;
  route.onRequest = onRequest as onRequestHookHandler[];
  const onSend = list(route.onSend);
  // Last: after the route's own onSend hooks (and Fastify's HEAD one), so what is stored is what is sent.
  if (!onSend.includes(larderOnSend)) route.onSend = [...onSend, larderOnSend] as onSendHookHandler[];
  const wired: typeof config = { ...config, [WIRED]: true };
  route.config = wired;
}

/** An error for a hook on a route `web.plugin` did not see (registered late, or via addHook). */
function unwired(request: FastifyRequest, factory: string): ConfigError | undefined {
  // The route's context when reachable: `request.routeOptions` builds a new object per call.
  const config = (routeContext(request)?.config ?? request.routeOptions.config) as { [WIRED]?: true };
  if (config[WIRED]) return undefined;
  return new ConfigError(
    `fastify route ${request.method} ${request.routeOptions.url ?? request.url}`,
    `web.${factory}()`,
    `a hook in the route's options ({ onRequest: web.${factory}(…) }, not app.addHook), ` +
      'on a route declared after `await app.register(web.plugin)`',
  );
}

/** Registers a header patch for `larderOnSend`; an error when the route is not wired. */
function onHeaders(
  request: FastifyRequest,
  reply: FastifyReply,
  factory: string,
  patch: (headers: HeaderRecord) => void,
): ConfigError | undefined {
  const error = unwired(request, factory);
  if (!error) pending(reply).patches.push(patch);
  return error;
}

/**
 * The core's view of a Fastify request (scheme and host honour Fastify's `trustProxy`). A
 * class, as the exchange below: a hit makes no closures.
 */
class FastifyPageRequest implements PageRequest {
  readonly method: string;
  readonly scheme: string;
  readonly host: string;
  readonly url: string;
  readonly #headers: FastifyRequest['headers'];

  constructor(request: FastifyRequest) {
    this.method = request.method;
    this.scheme = request.protocol;
    this.host = request.host;
    this.url = request.url;
    this.#headers = request.headers;
  }

  header(name: string): string | undefined {
    const value = this.#headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  }
}

/** The `onRequest` hook of one PageCache: hit → send; bypass → continue; miss → capture. */
function pageHook(pages: PageCache): onRequestHookHandler {
  return larderHook(function cachePage(request, reply, done: HookHandlerDoneFunction) {
    const error = unwired(request, 'cachePage');
    if (error) return done(error);
    const exchange = new FastifyExchange(request, reply, done);
    // undefined: a hit held in this process went out in this turn.
    pages.handle(exchange)?.catch((err: Error) => exchange.failed(err));
  }, true);
}

/** The page cache's exchange on Fastify, for one `onRequest` hook call. */
class FastifyExchange implements PageExchange {
  readonly request: PageRequest;
  readonly #request: FastifyRequest;
  readonly #reply: FastifyReply;
  readonly #done: HookHandlerDoneFunction;
  /** Set once the hook has answered (sent a page) or let the route run. */
  #continued = false;

  constructor(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    this.request = new FastifyPageRequest(request);
    this.#request = request;
    this.#reply = reply;
    this.#done = done;
  }

  send(page: PageResponse): void {
    this.#continued = true;
    try {
      sendPage(this.#reply, page);
    } catch (error) {
      // A header an earlier hook set that Node refuses: Fastify's error handling answers.
      if (this.#reply.raw.headersSent) throw error;
      this.#continued = false;
      this.#proceed(error as Error);
    }
  }

  pass(cacheStatus: string): void {
    this.#reply.header('cache-status', cacheStatus);
    this.#proceed();
  }

  render(finalize: (response: PageResponse, streamed: boolean) => PageResponse): Promise<void> {
    return new Promise<void>((resolve) => {
      const reply = this.#reply as LarderReply;
      const state = pending(reply);
      state.finalize = finalize;
      state.rendered = resolve;
      // The route may never reach onSend (hijacked, aborted): free the coalesced waiters.
      const raw = reply.raw;
      raw.once('close', resolve);
      // A hijacked reply (an event stream, a raw write) sends its headers without onSend: it
      // is streamed, and the waiters are let go then, not when it ends (it may never end).
      const writeHead = raw.writeHead;
      raw.writeHead = function hijackedWriteHead(this: typeof raw, ...args: unknown[]) {
        raw.writeHead = writeHead;
        if (reply[PENDING] === state) {
          reply[PENDING] = undefined;
          finalize({ status: raw.statusCode, headers: {}, body: Buffer.alloc(0) }, true);
          resolve();
        }
        return (writeHead as (...a: unknown[]) => typeof raw).apply(this, args);
      } as typeof raw.writeHead;
      this.#proceed();
    });
  }

  /** The page cache failed: the route's error, or a log line once the route ran. */
  failed(err: Error): void {
    if (!this.#continued) this.#proceed(err);
    else this.#request.log.error({ err }, 'larder page cache failed after the route ran');
  }

  #proceed(err?: Error): void {
    if (this.#continued) return;
    this.#continued = true;
    this.#done(err);
  }
}

/**
 * What larder reads of a Fastify route context (`request[kRouteContext]`): the route's
 * config, and its `onSend` hooks (the app's, then the route's own; `null` when none).
 */
interface RouteContext {
  config?: unknown;
  onSend?: readonly unknown[] | null;
}

/**
 * Fastify's route-context symbol, found once by its description: no public API tells a hook
 * which `onSend` hooks its route has. `null` when this Fastify does not have it — then every
 * page goes out through `reply.send`, as before.
 */
let contextKey: symbol | null | undefined;

function routeContext(request: FastifyRequest): RouteContext | undefined {
  if (contextKey === undefined) contextKey = symbolNamed(request, 'fastify.context');
  if (contextKey === null) return undefined;
  const context = (request as unknown as Record<symbol, unknown>)[contextKey];
  return typeof context === 'object' && context !== null ? (context as RouteContext) : undefined;
}

/** Per route context: whether a page may be written straight to the Node response. */
const directRoutes = new WeakMap<RouteContext, boolean>();

/**
 * True when the route's only `onSend` hook is larder's own: a page sent through `reply.send`
 * would then run Fastify's send path (content-type parsing, the hook runner, `larderOnSend`)
 * for nothing. Any other `onSend` hook (an app's, a plugin's such as `web.session()` or
 * compression, Fastify's HEAD route) keeps the `reply.send` path, so it still runs on a hit.
 */
function sendsDirect(request: FastifyRequest): boolean {
  const context = routeContext(request);
  if (context === undefined) return false;
  let direct = directRoutes.get(context);
  if (direct === undefined) {
    const { onSend } = context;
    // Fastify binds each hook, so larder's is recognised by its name, and its route's wiring.
    direct =
      (context.config as { [WIRED]?: true } | undefined)?.[WIRED] === true &&
      Array.isArray(onSend) &&
      onSend.length === 1 &&
      typeof onSend[0] === 'function' &&
      onSend[0].name === `bound ${larderOnSend.name}`;
    directRoutes.set(context, direct);
  }
  return direct;
}

/**
 * Writes a page straight to the Node response: one `writeHead`, one `end`. Headers earlier
 * hooks set on the reply (CORS, rate limits) are kept, the page's own winning, as with
 * `reply.header`; Fastify's `onResponse` hooks and request log still run (they hang on the
 * Node response's `finish`).
 */
function writePage(reply: FastifyReply, page: PageResponse): void {
  const earlier = replyHeaders(reply);
  let headers = page.headers;
  for (const _ in earlier) {
    // Headers earlier hooks set are this request's own, but for those that describe the page.
    headers = withOwnHeaders(page.headers, Object.entries(earlier));
    break;
  }
  const res = reply.raw;
  res.writeHead(page.status, headers as Record<string, string | string[] | number>);
  // Node sends no body for HEAD nor 304 (the GET's Content-Length stays on a HEAD hit).
  // Text goes out with the headers in one write (a Buffer is written beside them).
  if (page.body.length > 0) res.end(page.text ?? page.body);
  else res.end();
}

/**
 * A private Fastify symbol on `target` or its prototypes, found by its description (no public
 * API exposes what larder reads through it), or `null` when this Fastify has none by that name.
 */
function symbolNamed(target: object, description: string): symbol | null {
  let proto: object | null = target;
  while (proto !== null) {
    const found = Object.getOwnPropertySymbols(proto).find((key) => key.description === description);
    if (found !== undefined) return found;
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return null;
}

/** Fastify's reply-headers symbol, found once (as the route context's). */
let headersKey: symbol | null | undefined;

/**
 * The headers earlier hooks set with `reply.header()`. `reply.getHeaders()` would copy them and
 * the Node response's into a new object per hit; those set on the Node response itself need no
 * copy, as `writeHead` merges them (its own winning, as `reply.header` does).
 */
function replyHeaders(reply: FastifyReply): Readonly<Record<string, unknown>> {
  if (headersKey === undefined) headersKey = symbolNamed(reply, 'fastify.reply.headers');
  const own = headersKey === null ? undefined : (reply as unknown as Record<symbol, unknown>)[headersKey];
  return typeof own === 'object' && own !== null ? (own as Record<string, unknown>) : reply.getHeaders();
}

/** Fastify's reply-trailers symbol, found once (as the route context's). */
let trailersKey: symbol | null | undefined;

/**
 * True unless the reply surely has no trailers (`reply.trailer()` in an earlier hook): only
 * Fastify's send path writes them, so a reply that may have some is not written directly.
 */
function mayHaveTrailers(reply: FastifyReply): boolean {
  if (trailersKey === undefined) trailersKey = symbolNamed(reply, 'fastify.reply.trailers');
  if (trailersKey === null) return true;
  return (reply as unknown as Record<symbol, unknown>)[trailersKey] != null;
}

/** Sends a response the page cache made (a hit, a stale or shared copy), skipping the route. */
function sendPage(reply: FastifyReply, page: PageResponse): void {
  const trailers = mayHaveTrailers(reply);
  if (!trailers && sendsDirect(reply.request)) {
    writePage(reply, page);
    return;
  }
  const state = pending(reply);
  // The stored headers already carry the route's patches; a hit does not re-run them.
  state.patches.length = 0;
  state.sent = page.headers;
  reply.code(page.status);
  const earlier = reply.getHeaders();
  const headers =
    Object.keys(earlier).length > 0 ? withOwnHeaders(page.headers, Object.entries(earlier)) : page.headers;
  for (const name in headers) {
    const value = headers[name];
    // A reply with trailers goes out chunked, which must not carry a Content-Length:
    // Fastify sets what it needs itself.
    if (value !== undefined && !(trailers && name === 'content-length')) reply.header(name, value);
  }
  // `undefined`, not an empty Buffer: Fastify then adds no Content-Length to a 304.
  reply.send(page.body.length > 0 ? page.body : undefined);
}

/** How `applyHeaderChanges` writes onto a Fastify reply. */
const REPLY_HEADERS: HeaderWriter<FastifyReply> = {
  set: (reply, name, value) => reply.header(name, value),
  remove: (reply, name) => reply.removeHeader(name),
};

/**
 * Every wired route's last `onSend` hook: applies the header patches, then hands a
 * page-cache miss's response to the core and sends what it returns. A stream (or any
 * payload that is not a string or a Buffer) goes out untouched and is not stored.
 */
function larderOnSend(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (err: Error | null, payload?: unknown) => void,
): void {
  const state = (reply as LarderReply)[PENDING];
  if (state === undefined) {
    done(null, payload);
    return;
  }
  (reply as LarderReply)[PENDING] = undefined;
  let out: unknown;
  try {
    out = settle(state, request, reply, payload);
  } catch (error) {
    state.rendered?.();
    done(error as Error);
    return;
  }
  state.rendered?.();
  done(null, out);
}

/** `larderOnSend`'s work on one reply; returns the payload to send. */
function settle(state: Pending, request: FastifyRequest, reply: FastifyReply, payload: unknown): unknown {
  if (state.sent) {
    // Fastify's HEAD hook sets Content-Length from the (empty) body; a HEAD hit keeps the GET's.
    const length = state.sent['content-length'];
    if (request.method === 'HEAD' && length !== undefined) reply.header('content-length', length);
    return payload;
  }
  const before = reply.getHeaders() as HeaderRecord;
  let headers = before;
  if (state.patches.length > 0) {
    headers = { ...before };
    for (const patch of state.patches) patch(headers);
    applyHeaderChanges(reply, REPLY_HEADERS, before, headers);
  }
  if (!state.finalize) return payload;
  const body =
    typeof payload === 'string'
      ? Buffer.from(payload, 'utf8')
      : Buffer.isBuffer(payload)
        ? payload
        : payload === undefined || payload === null
          ? Buffer.alloc(0)
          : undefined;
  if (body === undefined) {
    state.finalize({ status: reply.statusCode, headers: { ...headers }, body: Buffer.alloc(0) }, true);
    return payload;
  }
  const out = state.finalize({ status: reply.statusCode, headers: { ...headers }, body }, false);
  if (out.status !== reply.statusCode) reply.code(out.status);
  applyHeaderChanges(reply, REPLY_HEADERS, headers, out.headers);
  return out.body === body ? payload : out.body;
}
