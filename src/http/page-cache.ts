/**
 * The page cache, framework-neutral: Django's `cache_page` / `UpdateCacheMiddleware` /
 * `FetchFromCacheMiddleware` rules over a small request/response shape that each adapter
 * fills in.
 *
 * - Only GET and HEAD are looked up; a cached GET answers HEAD (without a body).
 * - Only a 200 with a complete body is stored, and never a response that sets a cookie,
 *   says `private`, `no-store`, `no-cache` or `max-age=0`, or varies on `*`.
 * - Keys cover method, scheme, host, path and query, and every request header the
 *   response named in `Vary` (Django's learned header list per URL). The header list is
 *   remembered in process, so a hit costs one cache round trip (none on a tiered cache).
 * - A hit does no per-request work it can avoid: keys are remembered per URL, and the
 *   response replayed from a stored page is built once per page and second of `Age` (the
 *   stored page is decoded once and shared, so what is derived from it is kept beside it).
 * - Hits carry `Age`, `Expires`, `Cache-Control: max-age`, an `ETag`, and RFC 9211
 *   `Cache-Status`; `If-None-Match` gets a 304.
 * - Concurrent misses for one key render once: the others wait for that response.
 */
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { type Cache, NOT_IN_PROCESS } from '../cache/cache.js';
import { parseDuration } from '../config/duration.js';
import type { Larder } from '../larder.js';
import {
  getMaxAge,
  type HeaderRecord,
  headerValue,
  parseCacheControl,
  patchResponseHeaders,
  patchVaryHeaders,
  varyHeaders,
} from './cache-headers.js';

/**
 * Headers that describe one response, not the page: never stored. A rate limiter's state
 * replayed from the cache would be wrong for every later client (draft-ietf-httpapi-
 * ratelimit-headers-10 §7.3 tells clients to ignore it on cached responses), and
 * Server-Timing describes the render that produced the response (W3C Server Timing), not a hit.
 */
const PER_RESPONSE = new Set([
  'cache-status',
  'server-timing',
  'ratelimit',
  'ratelimit-policy',
  'retry-after',
]);

/**
 * Headers that describe the stored page, not the request it is sent to: on a hit (or a
 * coalesced or stale answer) the page's copy wins over one middleware set earlier for this
 * request. Any other header such middleware set (a request id, CORS, a cookie) is this
 * request's own and wins over the page's; `Vary` is merged (see {@link mergeVary}).
 */
export const PAGE_HEADERS: ReadonlySet<string> = new Set([
  'age',
  'cache-control',
  'cache-status',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-type',
  'etag',
  'expires',
  'last-modified',
]);

/**
 * One `Vary` naming every header of both: a hit keeps naming what its page varies on (a
 * shared cache in front must not serve it across cookies) and what this request's own
 * middleware added.
 */
function mergeVary(page: string, own: string): string {
  const merged: HeaderRecord = { vary: page };
  patchVaryHeaders(
    merged,
    own
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  );
  return merged.vary as string;
}

/**
 * What goes out for the page's header `name` when middleware may already have set one for
 * this request (`ownOf(name)`; `undefined` or `null`: it did not): the page's value for
 * {@link PAGE_HEADERS} (not asked about) or when there is no own one, a `Vary` naming both
 * sides' headers, else `undefined` — this request's own value stays. The one rule every
 * adapter sends a hit by.
 *
 * @example pageHeader('x-request-id', 'first', () => 'mine') // undefined: 'mine' stays
 */
export function pageHeader<V>(
  name: string,
  page: V,
  ownOf: (name: string) => unknown,
): V | string | undefined {
  if (PAGE_HEADERS.has(name)) return page;
  const own = ownOf(name);
  if (own === undefined || own === null) return page;
  return name === 'vary' ? mergeVary(String(page), String(own)) : undefined;
}

/**
 * A page's headers sent to a request that middleware already gave some, as one record:
 * this request's own (but for {@link PAGE_HEADERS}) with the page's over them by
 * {@link pageHeader}. `own` as `[lower-case name, value]` pairs.
 */
export function withOwnHeaders(page: HeaderRecord, own: Iterable<readonly [string, unknown]>): HeaderRecord {
  const merged: HeaderRecord = {};
  for (const [name, value] of own) {
    if (value !== undefined && value !== null && !PAGE_HEADERS.has(name))
      merged[name] = value as string | string[] | number;
  }
  const ownOf = (name: string) => merged[name];
  for (const name in page) {
    const value = pageHeader(name, page[name], ownOf);
    if (value !== undefined) merged[name] = value;
  }
  return merged;
}

/** What the core needs to know about a request. */
export interface PageRequest {
  method: string;
  /** `http` or `https` (as the adapter decided, proxies considered). */
  scheme: string;
  host: string;
  /** Path and query string, as received (`/products?page=2`). */
  url: string;
  /** A request header by lower-case name. */
  header(name: string): string | undefined;
}

/** A complete response, as captured by an adapter. */
export interface PageResponse {
  status: number;
  headers: HeaderRecord;
  body: Buffer;
  /**
   * The body as the text it decodes to, on a page answered from the cache whose body was
   * stored as UTF-8 text. An adapter sends it rather than `body` where it can: Node writes a
   * string body and the headers in one piece, a Buffer beside them (a profile of Hono hits
   * put that at about 1 µs per response).
   */
  text?: string;
}

/** What the cache holds for one page (decoded once and shared by every hit: read-only). */
interface StoredPage {
  status: number;
  headers: Array<[string, string]>;
  /** UTF-8 text bodies as strings (smaller in JSON), anything else as bytes. */
  body: string | Uint8Array;
  storedAt: number;
  /** Seconds the page is fresh. */
  ttl: number;
  /** Seconds past `ttl` a stale copy may be served while one request refreshes it (RFC 5861). */
  swr: number;
  /** Seconds past `ttl` a stale copy may replace a 5xx (RFC 5861). */
  sie: number;
  etag: string;
  /** The request headers this page varies on (lower-case), to keep the in-process list honest. */
  vary: string[];
}

export interface PageCacheOptions {
  /** Seconds a page stays cached; wins over the response's own max-age (Django's cache_page). */
  ttl: number;
  /** Seconds a stale page may be served while one request re-renders it. @default the response's stale-while-revalidate, else 0 */
  staleWhileRevalidate?: number;
  /** Seconds a stale page may replace an error (5xx) response. @default the response's stale-if-error, else 0 */
  staleIfError?: number;
  /** Separates several page caches on one store (Django's `key_prefix`). @default '' */
  keyPrefix?: string;
  /** Tags stored with each page, for purge by tag. */
  tags?: string[];
}

/** The outcome of a lookup: a response to send, or what a miss needs to store later. */
export type Lookup =
  | { kind: 'hit'; response: PageResponse }
  | { kind: 'miss'; key: string; urlKey: string }
  | {
      kind: 'stale';
      key: string;
      urlKey: string;
      response: PageResponse;
      whileRevalidate: boolean;
      ifError: boolean;
    }
  | { kind: 'bypass'; reason: string };

/**
 * What an adapter does for the core: send a response, let the route run uncached, or let
 * it run with the response captured and handed to `finalize` just before it goes out.
 */
export interface PageExchange<Sent = void> {
  request: PageRequest;
  /**
   * Sends a complete response (a hit, a stale copy, a shared render). What it returns,
   * `handle` returns on a hit (Hono's exchange: the response, a handler's answer).
   */
  send(response: PageResponse): Sent;
  /** Lets the route run without the cache, with this `Cache-Status`. */
  pass(cacheStatus: string): void | Promise<void>;
  /**
   * Lets the route run. Right before its response is sent, calls `finalize` with it
   * (`streamed` when the body went out in several writes, so it is incomplete and its
   * headers are gone) and sends the response `finalize` returns instead. Resolves when
   * the response has been handed to the framework — with the headers that finally went
   * out when the framework may add some after `finalize` (Express' on-headers listeners,
   * e.g. express-session's Set-Cookie): the page is then stored only if those still allow it.
   */
  render(finalize: (response: PageResponse, streamed: boolean) => PageResponse): Promise<HeaderRecord | void>;
  /**
   * Optional: resolves once the rendered response has gone out, with its headers then —
   * where middleware around the route can still change the response after `render` resolved
   * (Hono's, after `await next()`). A page whose final headers refuse it is not stored.
   */
  sent?(): Promise<HeaderRecord | void>;
}

const CACHE_STATUS = 'larder';
const STALE_IF_ERROR = `${CACHE_STATUS}; hit; fwd=stale; detail=stale-if-error`;

/**
 * What a render gives the requests that waited on it: the page it stored (they are sent it
 * as a hit), and whether it failed (a 5xx, or the route threw), for stale-if-error.
 */
interface Rendered {
  page?: StoredPage;
  failed: boolean;
}
const METHOD_BYPASS: Lookup = Object.freeze({ kind: 'bypass', reason: 'method' });
/** md5 of nothing: the header-values digest of a page that varies on no header. */
const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
/** Header lists remembered per URL in this process (bounded; the store has them too). */
const MAX_REMEMBERED_URLS = 10_000;
/** Schemes and hosts remembered per path and query (a site rarely answers on more). */
const MAX_ORIGINS_PER_URL = 8;

/**
 * One page-cache policy (a `cachePage(ttl)` or the site-wide middleware) over a `Cache`.
 *
 * @example
 * const pages = new PageCache(larder.cache(), { ttl: 900 });
 * const found = await pages.lookup(request);
 */
export class PageCache {
  readonly cache: Cache;
  readonly ttl: number;
  readonly keyPrefix: string;
  readonly tags: string[] | undefined;
  readonly staleWhileRevalidate: number;
  readonly staleIfError: number;
  readonly #headerLists = new Map<string, readonly string[]>();
  /**
   * Per path and query: the md5 of each absolute URL seen with it (one per scheme and host,
   * chained) and the key of its page when it varies on no header. Keyed by the request's own
   * string, so a hit neither joins the absolute URL nor hashes that longer string.
   */
  readonly #urls = new Map<string, UrlKeys>();
  /** Renders in progress by page key; each resolves what the requests waiting on it get. */
  readonly #inflight = new Map<string, { request: PageRequest; result: Promise<Rendered> }>();

  constructor(cache: Cache, options: PageCacheOptions) {
    this.cache = cache;
    this.ttl = options.ttl;
    this.keyPrefix = options.keyPrefix ?? '';
    this.tags = options.tags;
    this.staleWhileRevalidate = options.staleWhileRevalidate ?? 0;
    this.staleIfError = options.staleIfError ?? 0;
  }

  /**
   * The whole cache_page flow for one request, driven through an adapter's exchange:
   * hit → send; miss → render once for concurrent requests and store what the rules
   * allow; stale → serve it to others while one request refreshes, or instead of a 5xx.
   * When a hit found in this process was sent in this turn, returns what `send` returned
   * (no promise to wait for); otherwise a promise that settles when the exchange is done,
   * with what `send` returned if it sent a page.
   */
  handle<Sent>(exchange: PageExchange<Sent>): Sent | void | Promise<Sent | void> {
    // A hit is sent from the cache read's own continuation (or, in process, at once): no
    // async frame, no extra hop.
    return this.#lookup(exchange.request, (found) =>
      found.kind === 'hit' ? exchange.send(found.response) : this.#handleOther(exchange, found),
    );
  }

  /** `handle` for everything but a hit. */
  async #handleOther<Sent>(
    exchange: PageExchange<Sent>,
    found: Exclude<Lookup, { kind: 'hit' }>,
  ): Promise<Sent | void> {
    const { request } = exchange;
    if (found.kind === 'bypass') return exchange.pass(`${CACHE_STATUS}; fwd=${found.reason}`);
    if (request.method.toUpperCase() === 'HEAD') {
      // Only a GET's complete body is stored; a HEAD miss renders for itself.
      if (found.kind === 'stale' && found.whileRevalidate) return exchange.send(found.response);
      return exchange.pass(`${CACHE_STATUS}; fwd=uri-miss`);
    }
    const running = this.#inflight.get(found.key);
    if (running) {
      if (found.kind === 'stale' && found.whileRevalidate) return exchange.send(found.response);
      // Only a stored page is shared — a personal response never reaches another client —
      // as a hit would send it (none of the first request's own headers), and only with a
      // request that agrees on every header it varies on: before a URL's header list is
      // known, requests that differ there share one in-flight key.
      const rendered = await running.result;
      if (
        rendered.page &&
        rendered.page.vary.every((name) => running.request.header(name) === request.header(name))
      ) {
        const page = replay(rendered.page, request, 'hit', Date.now());
        return exchange.send(withStatus(page, `${CACHE_STATUS}; hit; detail=coalesced`));
      }
      // The render failed: a stale copy that may stand in for an error does, for this request too.
      if (rendered.failed && found.kind === 'stale' && found.ifError) {
        return exchange.send(withStatus(found.response, STALE_IF_ERROR));
      }
      return exchange.pass(`${CACHE_STATUS}; fwd=uri-miss`);
    }
    let prepared: StoredPage | string = 'not rendered';
    let failed = false;
    const fwd = found.kind === 'stale' ? 'stale' : 'uri-miss';
    const rendered = exchange.render((response, streamed) => {
      if (streamed) return response;
      if (response.status >= 500) {
        failed = true;
        if (found.kind === 'stale' && found.ifError) return withStatus(found.response, STALE_IF_ERROR);
      }
      prepared = this.#prepare(request, response);
      if (typeof prepared === 'string') {
        // A 304 the route answered itself keeps the caching headers its 200 would have had
        // (Django's UpdateCacheMiddleware patches both), so the client learns how long its
        // copy stays fresh; only a 200 is stored.
        if (response.status === 304 && !this.refusal(request, { ...response, status: 200 })) {
          patchResponseHeaders(response.headers, this.ttl);
        }
        response.headers['cache-status'] = `${CACHE_STATUS}; fwd=${fwd}; detail=${prepared}`;
        return response;
      }
      response.headers['cache-status'] = `${CACHE_STATUS}; fwd=${fwd}; stored`;
      return response;
    });
    const result = rendered
      .then(async (sentHeaders): Promise<Rendered> => {
        if (typeof prepared === 'string') return { failed };
        // Headers added after finalize (a late Set-Cookie) veto the store: those the framework
        // added as the response went out, or those the middleware around the route added
        // after it, where the exchange can tell.
        const finalHeaders = (exchange.sent ? await exchange.sent() : undefined) ?? sentHeaders;
        if (
          finalHeaders &&
          this.refusal(request, { status: prepared.status, headers: finalHeaders, body: NO_BODY })
        ) {
          return { failed };
        }
        try {
          await this.#save(request, prepared, found.urlKey);
        } catch (error) {
          // A failed write is not the request's failure (the page was sent): log and go on.
          this.onStoreError?.(error);
        }
        return { page: prepared, failed };
      })
      .finally(() => this.#inflight.delete(found.key));
    this.#inflight.set(found.key, { request, result: result.catch((): Rendered => ({ failed: true })) });
    // The response is on its way: storing it goes on for the requests that wait on it.
    await rendered;
  }

  /** Called when storing a rendered page fails (the response was already sent). */
  onStoreError: ((error: unknown) => void) | undefined;

  /** Looks `request` up; a GET entry also answers HEAD. */
  lookup(request: PageRequest): Promise<Lookup> {
    return Promise.resolve(this.#lookup(request, (found) => found));
  }

  /**
   * `lookup`, handing what it found to `then` (which `handle` uses to answer a hit) — in
   * this turn, returning what `then` returns, when the page is in this process.
   */
  #lookup<T>(request: PageRequest, then: (found: Lookup) => T | Promise<T>): T | Promise<T> {
    try {
      const { method } = request;
      if (method !== 'GET' && method !== 'HEAD') {
        const upper = method.toUpperCase();
        if (upper !== 'GET' && upper !== 'HEAD') return Promise.resolve(METHOD_BYPASS).then(then);
      }
      const url = this.#urlKeys(request);
      const headerList = this.#headerLists.get(url.hash);
      if (headerList === undefined) return this.#lookupLearning(request, url).then(then);
      const key = headerList.length === 0 ? url.plainKey : this.#pageKey(request, headerList, url.hash);
      // Stored pages are decoded once and shared; one held in this process answers at once.
      const now = this.cache.getSharedNow<StoredPage>(key);
      if (now !== NOT_IN_PROCESS) return then(this.#found(request, now, key, url.hash, headerList));
      return this.cache
        .getShared<StoredPage>(key)
        .then((stored) => then(this.#found(request, stored, key, url.hash, headerList)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A lookup for a URL whose header list is not in this process yet: the store may have it. */
  async #lookupLearning(request: PageRequest, url: UrlKeys): Promise<Lookup> {
    const headerList = await this.#headerList(url.hash);
    if (headerList === undefined) return { kind: 'miss', key: url.plainKey, urlKey: url.hash };
    const key = headerList.length === 0 ? url.plainKey : this.#pageKey(request, headerList, url.hash);
    return this.#found(request, await this.cache.getShared<StoredPage>(key), key, url.hash, headerList);
  }

  /** What a read of `key` found, as a lookup. */
  #found(
    request: PageRequest,
    stored: StoredPage | undefined,
    key: string,
    urlKey: string,
    headerList: readonly string[],
  ): Lookup {
    if (!stored || typeof stored !== 'object' || !Array.isArray(stored.headers))
      return { kind: 'miss', key, urlKey };
    if (stored.vary !== headerList && !sameList(stored.vary, headerList)) this.#remember(urlKey, stored.vary);
    const now = Date.now();
    const age = (now - stored.storedAt) / 1000;
    if (age < stored.ttl) return { kind: 'hit', response: replay(stored, request, 'hit', now) };
    return {
      kind: 'stale',
      key,
      urlKey,
      response: replay(stored, request, 'stale', now),
      whileRevalidate: age < stored.ttl + stored.swr,
      ifError: age < stored.ttl + stored.sie,
    };
  }

  /**
   * Django's UpdateCacheMiddleware, first half (synchronous, before the response goes
   * out): the refusal reason, or the page to store — with `Expires`, `Cache-Control:
   * max-age` and `ETag` patched into `response.headers`.
   */
  #prepare(request: PageRequest, response: PageResponse): StoredPage | string {
    const refusal = this.refusal(request, response);
    if (refusal) return refusal;
    const cc = parseCacheControl(headerValue(response.headers, 'cache-control'));
    const swr = Math.max(this.staleWhileRevalidate, seconds(cc.get('stale-while-revalidate')));
    const sie = Math.max(this.staleIfError, seconds(cc.get('stale-if-error')));
    // The page timeout wins over the response's own max-age (Django's cache_page).
    const ttl = this.ttl;
    patchResponseHeaders(response.headers, ttl);
    const etag = headerValue(response.headers, 'etag') ?? weakEtag(response.body);
    response.headers.etag = etag;
    return {
      status: response.status,
      headers: Object.entries(response.headers)
        .filter(([name, v]) => v !== undefined && !PER_RESPONSE.has(name))
        .map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]),
      body: isUtf8(response.body) ? response.body.toString('utf8') : new Uint8Array(response.body),
      storedAt: Date.now(),
      ttl,
      swr,
      sie,
      etag,
      vary: learnHeaderList(response.headers),
    };
  }

  /** The second half: stores the page and its URL's header list, with one timeout. */
  async #save(request: PageRequest, page: StoredPage, urlKey: string): Promise<void> {
    const key = this.#pageKey(request, page.vary, urlKey);
    const opts = {
      timeout: page.ttl + Math.max(page.swr, page.sie),
      ...(this.tags ? { tags: this.tags } : {}),
    };
    await Promise.all([
      this.cache.set(this.#headerKey(urlKey), page.vary, opts),
      this.cache.set(key, page, opts),
    ]);
    this.#remember(urlKey, page.vary);
  }

  /** Why `response` must not be stored, or `undefined` when it may. */
  refusal(request: PageRequest, response: PageResponse): string | undefined {
    if (request.method.toUpperCase() !== 'GET') return 'method';
    if (response.status !== 200) return 'status';
    // Never store what is personal to one client (stricter than Django, which stores a
    // Set-Cookie response unless it varies on Cookie for a cookie-less request).
    if (response.headers['set-cookie'] !== undefined) return 'set-cookie';
    const cc = parseCacheControl(headerValue(response.headers, 'cache-control'));
    for (const directive of ['private', 'no-store', 'no-cache']) if (cc.has(directive)) return directive;
    // RFC 9111 §3.5: an answer to an authenticated request is personal unless it says
    // otherwise (public, s-maxage or must-revalidate).
    if (
      request.header('authorization') !== undefined &&
      !['public', 's-maxage', 'must-revalidate'].some((d) => cc.has(d))
    ) {
      return 'authorization';
    }
    if (getMaxAge(response.headers) === 0) return 'max-age-0';
    if (varyHeaders(response.headers).includes('*')) return 'vary-star';
    return undefined;
  }

  /** Deletes the cached page for `url` (path and query) as the given headers would see it. */
  async invalidate(request: PageRequest): Promise<boolean> {
    const urlKey = this.#urlKeys(request).hash;
    const headerList = await this.#headerList(urlKey);
    if (headerList === undefined) return false;
    return this.cache.delete(this.#pageKey(request, headerList, urlKey));
  }

  async #headerList(urlKey: string): Promise<readonly string[] | undefined> {
    const remembered = this.#headerLists.get(urlKey);
    if (remembered) return remembered;
    const stored = await this.cache.get<string[]>(this.#headerKey(urlKey));
    if (Array.isArray(stored)) this.#remember(urlKey, stored);
    return Array.isArray(stored) ? stored : undefined;
  }

  #remember(urlKey: string, list: readonly string[]): void {
    if (this.#headerLists.size >= MAX_REMEMBERED_URLS) {
      const oldest = this.#headerLists.keys().next().value;
      if (oldest !== undefined) this.#headerLists.delete(oldest);
    }
    this.#headerLists.set(urlKey, list);
  }

  /**
   * The md5 of the absolute URL, as Django's `_generate_cache_header_key`, and the page key
   * when the URL varies on nothing (memoised: hot URLs repeat).
   */
  #urlKeys(request: PageRequest): UrlKeys {
    const { scheme, host, url } = request;
    const first = this.#urls.get(url);
    let origins = 0;
    for (let keys = first; keys !== undefined; keys = keys.other) {
      if (keys.host === host && keys.scheme === scheme) return keys;
      origins++;
    }
    const hash = md5(`${scheme}://${host}${url}`);
    // Host is the client's to choose: a bounded chain, so made-up hosts cannot grow it.
    const other = origins < MAX_ORIGINS_PER_URL ? first : undefined;
    const keys: UrlKeys = { scheme, host, hash, plainKey: this.#pageKey(request, undefined, hash), other };
    if (this.#urls.size >= MAX_REMEMBERED_URLS) this.#urls.clear();
    this.#urls.set(url, keys);
    return keys;
  }

  #headerKey(urlHash: string): string {
    return `views.decorators.cache.cache_header.${this.keyPrefix}.${urlHash}`;
  }

  /** Django's `_generate_cache_key`: method, URL, and the values of the varied headers. */
  #pageKey(request: PageRequest, headerList: readonly string[] | undefined, urlHash: string): string {
    // A cached GET answers HEAD, so both use the GET key.
    const head = `views.decorators.cache.cache_page.${this.keyPrefix}.GET.${urlHash}.`;
    if (!headerList?.length) return head + EMPTY_MD5;
    // Each value is hashed with its name and a terminator, and an absent header hashes
    // differently from an empty one: run-together values (Django's scheme) let a client
    // choose values that land on another client's key ("en"+"us" = "enus"+nothing).
    const values = createHash('md5');
    for (const name of headerList) {
      const value = request.header(name);
      values.update(value === undefined ? `${name}\u0001\u0000` : `${name}\u0000${value}\u0000`);
    }
    return head + values.digest('hex');
  }
}

/** Keys derived from one absolute URL. */
interface UrlKeys {
  scheme: string;
  host: string;
  /** The keys of the same path and query on another scheme or host. */
  other: UrlKeys | undefined;
  /** md5 of the absolute URL. */
  hash: string;
  /** The page key when the URL's header list is empty. */
  plainKey: string;
}

/**
 * A stored page as responses: made once per decoded page (pages are shared and read-only,
 * so this is kept beside the page, not in it), and once per second of `Age` for the
 * headers that change with it.
 */
interface Replays {
  /** The stored headers with Content-Length, before Age and Cache-Status. */
  base: Readonly<Record<string, string>>;
  body: Buffer;
  /** The whole seconds of Age and the state the responses below were made for. */
  age: number;
  state: 'hit' | 'stale';
  /** Made on first use for that age and state: to GET, to HEAD, and the 304. */
  get?: PageResponse;
  head?: PageResponse;
  notModified?: PageResponse;
}

const replays = new WeakMap<StoredPage, Replays>();
const NO_BODY = Buffer.alloc(0);

/**
 * A stored page as a response to `request`: Age, Cache-Status, 304, HEAD. The response is
 * shared by every request answered in the same second: frozen, and not to be changed.
 */
function replay(page: StoredPage, request: PageRequest, state: 'hit' | 'stale', now: number): PageResponse {
  const age = Math.max(0, Math.floor((now - page.storedAt) / 1000));
  let made = replays.get(page);
  if (made === undefined) {
    const body = typeof page.body === 'string' ? Buffer.from(page.body, 'utf8') : Buffer.from(page.body);
    const base: Record<string, string> = {};
    for (const [name, value] of page.headers) base[name] = value;
    base['content-length'] = String(body.length);
    made = { base: Object.freeze(base), body, age, state };
    replays.set(page, made);
  } else if (made.age !== age || made.state !== state) {
    made.age = age;
    made.state = state;
    made.get = made.head = made.notModified = undefined;
  }
  if (etagMatches(request.header('if-none-match'), page.etag)) {
    if (made.notModified === undefined) {
      // RFC 9110 §15.4.5: a 304 carries the caching headers, no body, no Content-Length.
      const headers = replayHeaders(made.base, page, age, state);
      delete headers['content-length'];
      delete headers['content-type'];
      made.notModified = Object.freeze({ status: 304, headers: Object.freeze(headers), body: NO_BODY });
    }
    return made.notModified;
  }
  const method = request.method;
  if (method === 'GET' || (method !== 'HEAD' && method.toUpperCase() !== 'HEAD')) {
    made.get ??= Object.freeze({
      status: page.status,
      headers: Object.freeze(replayHeaders(made.base, page, age, state)),
      body: made.body,
      // A text page keeps its stored string, for adapters to send (PageResponse.text).
      ...(typeof page.body === 'string' ? { text: page.body } : {}),
    });
    return made.get;
  }
  made.head ??= Object.freeze({
    status: page.status,
    headers: made.get?.headers ?? Object.freeze(replayHeaders(made.base, page, age, state)),
    body: NO_BODY,
  });
  return made.head;
}

/** The headers of a replayed page: the stored ones, Age and Cache-Status. */
function replayHeaders(
  base: Readonly<Record<string, string>>,
  page: StoredPage,
  age: number,
  state: 'hit' | 'stale',
) {
  const headers: Record<string, string> = { ...base };
  headers.age = String(age);
  headers['cache-status'] =
    state === 'hit'
      ? `${CACHE_STATUS}; hit; ttl=${Math.max(0, page.ttl - age)}`
      : `${CACHE_STATUS}; hit; fwd=stale; ttl=${page.ttl - age}`;
  return headers;
}

/** True when two header lists name the same headers in the same order. */
function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A copy of `response` with another Cache-Status. */
function withStatus(response: PageResponse, cacheStatus: string): PageResponse {
  return { ...response, headers: { ...response.headers, 'cache-status': cacheStatus } };
}

/** A directive's value as whole seconds (0 when absent or not a number). */
function seconds(value: string | true | undefined): number {
  const n = typeof value === 'string' ? Number.parseInt(value, 10) : 0;
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** The request headers a response varies on, lower-case and sorted (Django sorts them). */
function learnHeaderList(headers: HeaderRecord): string[] {
  return [...new Set(varyHeaders(headers).map((h) => h.toLowerCase()))].sort();
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

/** A weak validator from the body: W/"<length>-<sha1 prefix>". */
function weakEtag(body: Buffer): string {
  return `W/"${body.length.toString(16)}-${createHash('sha1').update(body).digest('base64url').slice(0, 27)}"`;
}

/** RFC 9110 §13.1.2: weak comparison; `*` matches anything. */
function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const strip = (tag: string) => tag.trim().replace(/^W\//, '');
  const wanted = strip(etag);
  return ifNoneMatch.split(',').some((tag) => strip(tag) === wanted);
}

/** Options of `cachePage(ttl, options)` in every adapter. */
export interface CachePageOptions {
  /** The named cache to store pages in. @default 'default' */
  cache?: string;
  /** Seconds a stale page is served to others while one request re-renders it (RFC 5861). */
  staleWhileRevalidate?: number;
  /** Seconds a stale page replaces a 5xx response (RFC 5861). */
  staleIfError?: number;
  /** Separates page caches that share a store (Django's `key_prefix`). @default '' */
  keyPrefix?: string;
  /** Tags stored with each page, for purge by tag. */
  tags?: string[];
}

/**
 * A `PageCache` for an adapter's `cachePage(ttl, options)`: `ttl` in seconds or a duration
 * string, validated once, at route definition.
 */
export function createPageCache(
  larder: Larder,
  ttl: number | string,
  options: CachePageOptions = {},
): PageCache {
  const ms = parseDuration(ttl, 'cachePage(ttl)');
  const pages = new PageCache(larder.cache(options.cache ?? 'default'), {
    ttl: Math.max(1, Math.round((ms ?? 0) / 1000)),
    ...(options.keyPrefix !== undefined ? { keyPrefix: options.keyPrefix } : {}),
    ...(options.staleWhileRevalidate !== undefined
      ? { staleWhileRevalidate: options.staleWhileRevalidate }
      : {}),
    ...(options.staleIfError !== undefined ? { staleIfError: options.staleIfError } : {}),
    ...(options.tags ? { tags: options.tags } : {}),
  });
  pages.onStoreError = (error) =>
    larder.log('warn', `page cache: a page could not be stored: ${String(error)}`);
  return pages;
}

/**
 * Deletes the cached page for an absolute `url`, as a request with `headers` would find
 * it (the headers matter when the page varies on them). Returns whether a page was there.
 *
 * @example
 * await invalidatePage(larder, 'https://shop.example/products/eu', { headers: { cookie: 'region=eu' } });
 */
export async function invalidatePage(
  larder: Larder,
  url: string,
  options: { headers?: Record<string, string>; cache?: string; keyPrefix?: string } = {},
): Promise<boolean> {
  const target = new URL(url);
  const headers = new Map(Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const pages = new PageCache(larder.cache(options.cache ?? 'default'), {
    ttl: 1,
    ...(options.keyPrefix !== undefined ? { keyPrefix: options.keyPrefix } : {}),
  });
  return pages.invalidate({
    method: 'GET',
    scheme: target.protocol.replace(/:$/, ''),
    host: target.host,
    url: `${target.pathname}${target.search}`,
    header: (name) => headers.get(name.toLowerCase()),
  });
}
