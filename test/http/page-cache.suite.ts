/**
 * The page cache's conformance suite over real HTTP, on the memory, Redis and tiered caches: Django's
 * CacheMiddlewareTest / CacheHEADTest / CacheUtils cases adapted, plus larder's stricter rules
 * (a personalised response is never served to another user). Each adapter's test file calls
 * `pageCacheSuite` with a `start` that serves the routes below on its framework, then adds the
 * cases only that framework has.
 *
 * The routes `start` must register (`n` is `calls.get(name)` after counting the request under
 * `name`, which is the path's name unless said otherwise):
 *
 * - `GET /page` — `cachePage(60)`; answers `page <query q or ''> #n`.
 * - `POST /page` — `cachePage(60)`; counts as `post`, answers `posted`.
 * - `GET /cookie` — `cachePage(60)`; sets the cookie `sid=user-n`, answers `hello user-n`.
 * - `GET /private`, `/nostore`, `/maxage0` — `cachePage(60)`; set `Cache-Control` to `private`,
 *   `no-store` and `max-age=0`.
 * - `GET /vary` — `cachePage(60)` then `varyOnHeaders('Accept-Language')`; answers
 *   `lang=<Accept-Language>`.
 * - `GET /short` — `cachePage(1)`; sets `Cache-Control: max-age=3600`, answers `short #n`.
 * - `GET /stream` — `cachePage(60)`; streams `part 1,` then ` part 2`.
 * - `GET /error` — `cachePage(60)`; answers 404 `nope`.
 * - `GET /slow` — `cachePage(60)`; answers `slow` after 150 ms, with the header
 *   `RateLimit: "page";r=<60 - n>` (this request's, never stored).
 * - `GET /flaky` — `cachePage(1, { staleIfError: 30 })`; answers `flaky #n`, or 503 `down` after
 *   100 ms once `POST /fail` (not cached, not counted) has been called.
 * - `GET /swr` — `cachePage(1, { staleWhileRevalidate: 30 })`; answers `swr #n` after 200 ms.
 * - `GET /conditional` — `cachePage(60)`; sets `ETag: "v1"`, answers 304 with no body to
 *   `If-None-Match: "v1"`, else `conditional`.
 * - `GET /tagged` — `cachePage(60, { tags: ['catalog'] })`; answers `tagged #n`.
 * - `GET /never` — `neverCache()`; answers `never` (not counted).
 * - `GET /cc` — `cacheControl({ public: true, 'max-age': 100 })`; sets
 *   `Cache-Control: max-age=3600`, answers `cc` (not counted).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { waitFor } from '../support/redis-server.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The `count(name)` a route calls: one more request rendered under `name`. */
export const counter = (calls: Map<string, number>) => (name: string) =>
  calls.set(name, (calls.get(name) ?? 0) + 1);

/** A framework's app serving the routes listed above, listening on `base`. */
export interface Served {
  base: string;
  close(): Promise<void>;
}

/** What a framework's own cases see; `base` and `larder` are set once the suite's `before` ran. */
export interface PageCacheContext {
  readonly base: string;
  readonly larder: Larder;
  readonly calls: Map<string, number>;
}

/**
 * Each Accept-Language value of `path` has its own entry, which carries `Vary` when stored and
 * when served; `path` renders twice, once per language.
 */
export async function assertVaryEntries(base: string, path: string, calls: Map<string, number>) {
  const fr = await fetch(`${base}/${path}`, { headers: { 'accept-language': 'fr' } });
  assert.equal(await fr.text(), 'lang=fr');
  assert.equal(fr.headers.get('vary'), 'Accept-Language');
  const de = await (await fetch(`${base}/${path}`, { headers: { 'accept-language': 'de' } })).text();
  assert.equal(de, 'lang=de');
  const again = await fetch(`${base}/${path}`, { headers: { 'accept-language': 'fr' } });
  assert.equal(await again.text(), 'lang=fr');
  assert.match(again.headers.get('cache-status') ?? '', /hit/);
  assert.equal(again.headers.get('vary'), 'Accept-Language');
  assert.equal(calls.get(path), 2, path);
}

/** What an adapter adds to the shared suite. */
export interface PageCacheSuiteOptions {
  /**
   * The exact `Cache-Status` of the nine requests that waited on another's render of `/slow`,
   * for an adapter that labels them (Fastify: `larder; hit; detail=coalesced`); without it they
   * need only be hits.
   */
  coalescedStatus?: string;
  /** The framework's own cases, run after the shared ones in the same describe, same server. */
  extra?: (ctx: PageCacheContext) => void;
}

/**
 * Runs the shared page-cache cases against `framework` on memory, Redis standalone and the
 * tiered cache (Redis behind an in-process tier, whose hits share one frozen page), then
 * `options.extra` (the framework's own cases) on the same server and larder.
 */
export function pageCacheSuite(
  framework: string,
  start: (larder: Larder, calls: Map<string, number>) => Promise<Served>,
  options: PageCacheSuiteOptions = {},
) {
  for (const target of ['memory', 'standalone', 'tiered'] as const) {
    describe(`${framework} page cache (${target})`, () => {
      let larder: Larder;
      let served: Served;
      const calls = new Map<string, number>();
      const ctx: PageCacheContext = {
        get base() {
          return served.base;
        },
        get larder() {
          return larder;
        },
        calls,
      };

      before(async () => {
        larder = createLarder(
          {
            logger: false,
            redis: target === 'memory' ? false : redisUrlFor('standalone')!,
            caches: {
              default: {
                backend: target === 'memory' ? 'memory' : target === 'tiered' ? 'tiered' : 'redis',
                keyPrefix: uniquePrefix('pages'),
              },
            },
          },
          {},
        );
        served = await start(larder, calls);
      });
      after(async () => {
        await served.close();
        await larder.close();
      });

      test('a miss renders and stores; the next request is a hit with Age, ETag and Cache-Status', async () => {
        const { base } = ctx;
        const first = await fetch(`${base}/page`);
        assert.equal(await first.text(), 'page  #1');
        assert.equal(first.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
        assert.match(first.headers.get('cache-control') ?? '', /max-age=60/);
        assert.ok(first.headers.get('expires'));
        const second = await fetch(`${base}/page`);
        assert.equal(await second.text(), 'page  #1');
        assert.match(second.headers.get('cache-status') ?? '', /^larder; hit; ttl=\d+$/);
        assert.match(second.headers.get('age') ?? '', /^\d+$/);
        assert.equal(second.headers.get('etag'), first.headers.get('etag'));
        assert.equal(second.headers.get('content-type'), first.headers.get('content-type'));
        assert.equal(calls.get('page'), 1);
      });

      test('If-None-Match with the ETag gets a 304 with caching headers and no body', async () => {
        const { base } = ctx;
        const etag = (await fetch(`${base}/page`)).headers.get('etag')!;
        const res = await fetch(`${base}/page`, { headers: { 'if-none-match': etag } });
        assert.equal(res.status, 304);
        assert.equal(await res.text(), '');
        assert.match(res.headers.get('cache-control') ?? '', /max-age=60/);
      });

      test('a cached GET answers HEAD without a body, with the GET’s Content-Length', async () => {
        const res = await fetch(`${ctx.base}/page`, { method: 'HEAD' });
        assert.equal(res.status, 200);
        assert.match(res.headers.get('cache-status') ?? '', /hit/);
        assert.equal(res.headers.get('content-length'), String(Buffer.byteLength('page  #1')));
        assert.equal(await res.text(), '');
        assert.equal(calls.get('page'), 1);
      });

      test('query strings and hosts are part of the key', async () => {
        const { base } = ctx;
        assert.equal(await (await fetch(`${base}/page?q=a`)).text(), 'page a #2');
        assert.equal(await (await fetch(`${base}/page?q=b`)).text(), 'page b #3');
        assert.equal(await (await fetch(`${base}/page?q=a`)).text(), 'page a #2');
        // fetch() may not set Host; node:http may.
        const other = await new Promise<string>((resolve, reject) => {
          const { port } = new URL(base);
          http
            .get({ host: '127.0.0.1', port, path: '/page', headers: { host: 'other.example' } }, (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (c) => (body += c));
              res.on('end', () => resolve(body));
            })
            .on('error', reject);
        });
        assert.equal(other, 'page  #4');
      });

      test('a 304 the route answers itself keeps the caching headers, and is not stored', async () => {
        const { base } = ctx;
        const revalidated = await fetch(`${base}/conditional`, { headers: { 'if-none-match': '"v1"' } });
        assert.equal(revalidated.status, 304);
        assert.match(revalidated.headers.get('cache-control') ?? '', /max-age=60\b/);
        assert.ok(revalidated.headers.get('expires'), 'Expires');
        assert.equal(revalidated.headers.get('cache-status'), 'larder; fwd=uri-miss; detail=status');
        const full = await fetch(`${base}/conditional`);
        assert.equal(await full.text(), 'conditional');
        assert.equal(full.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
        const fromCache = await fetch(`${base}/conditional`, { headers: { 'if-none-match': '"v1"' } });
        assert.equal(fromCache.status, 304);
        assert.match(fromCache.headers.get('cache-status') ?? '', /^larder; hit/);
      });

      test('hits in one second get their own GET, HEAD and 304 answers; Age counts on', async () => {
        // A hit's response is built once per stored page and second of Age, and shared.
        const url = `${ctx.base}/page?q=replay`;
        const first = await fetch(url);
        const text = await first.text();
        const etag = first.headers.get('etag')!;
        const length = String(Buffer.byteLength(text));
        const get = await fetch(url);
        assert.equal(await get.text(), text);
        assert.equal(get.headers.get('content-length'), length);
        const head = await fetch(url, { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(await head.text(), '');
        assert.equal(head.headers.get('content-length'), length);
        const notModified = await fetch(url, { headers: { 'if-none-match': etag } });
        assert.equal(notModified.status, 304);
        assert.equal(await notModified.text(), '');
        assert.equal(notModified.headers.get('content-length'), null);
        assert.equal(notModified.headers.get('etag'), etag);
        const again = await fetch(url);
        assert.equal(again.status, 200);
        assert.equal(await again.text(), text);
        assert.equal(again.headers.get('content-length'), length);
        await sleep(1100);
        const later = await fetch(url);
        assert.equal(await later.text(), text);
        assert.ok(Number(later.headers.get('age')) >= 1, `Age ${later.headers.get('age')}`);
        const ttl = Number(/ttl=(\d+)/.exec(later.headers.get('cache-status') ?? '')?.[1]);
        assert.ok(ttl <= 59, `Cache-Status ${later.headers.get('cache-status')}`);
      });

      test('Vary: each Accept-Language value has its own entry', async () => {
        await assertVaryEntries(ctx.base, 'vary', calls);
      });

      test('a response that sets a cookie is never stored nor served to another user', async () => {
        const alice = await fetch(`${ctx.base}/cookie`);
        const bob = await fetch(`${ctx.base}/cookie`);
        assert.equal(await alice.text(), 'hello user-1');
        assert.equal(await bob.text(), 'hello user-2');
        assert.match(bob.headers.get('set-cookie') ?? '', /sid=user-2/);
        assert.equal(alice.headers.get('cache-status'), 'larder; fwd=uri-miss; detail=set-cookie');
      });

      test('private, no-store and max-age=0 responses are never stored', async () => {
        for (const path of ['private', 'nostore', 'maxage0']) {
          await fetch(`${ctx.base}/${path}`);
          const again = await fetch(`${ctx.base}/${path}`);
          assert.match(again.headers.get('cache-status') ?? '', /fwd=uri-miss; detail=/);
          assert.equal(calls.get(path), 2, path);
        }
      });

      test('non-200 responses and streamed bodies are not stored; POST bypasses', async () => {
        const { base } = ctx;
        await fetch(`${base}/error`);
        const error = await fetch(`${base}/error`);
        assert.equal(error.status, 404);
        assert.equal(error.headers.get('cache-status'), 'larder; fwd=uri-miss; detail=status');
        assert.equal(calls.get('error'), 2);
        assert.equal(await (await fetch(`${base}/stream`)).text(), 'part 1, part 2');
        const stream = await fetch(`${base}/stream`);
        assert.equal(await stream.text(), 'part 1, part 2');
        assert.equal(stream.headers.get('cache-status'), null, 'a streamed response is passed through as is');
        assert.equal(calls.get('stream'), 2);
        const post = await fetch(`${base}/page`, { method: 'POST' });
        assert.equal(await post.text(), 'posted');
        assert.equal(post.headers.get('cache-status'), 'larder; fwd=method');
      });

      test('the page timeout wins over a longer max-age in the response', async () => {
        const { base } = ctx;
        const first = await fetch(`${base}/short`);
        assert.match(first.headers.get('cache-control') ?? '', /max-age=1\b/);
        assert.equal(await (await fetch(`${base}/short`)).text(), 'short #1');
        await sleep(1300);
        assert.equal(await (await fetch(`${base}/short`)).text(), 'short #2');
      });

      test('concurrent misses for one page render once', async () => {
        const responses = await Promise.all(Array.from({ length: 10 }, () => fetch(`${ctx.base}/slow`)));
        const bodies = await Promise.all(responses.map((r) => r.text()));
        assert.deepEqual(new Set(bodies), new Set(['slow']));
        assert.equal(calls.get('slow'), 1);
        const statuses = responses.map((r) => r.headers.get('cache-status'));
        assert.equal(statuses.filter((s) => s === 'larder; fwd=uri-miss; stored').length, 1);
        const waiters = statuses.filter((s) => s !== 'larder; fwd=uri-miss; stored');
        for (const s of waiters) assert.match(s ?? '', /^larder; hit\b/);
        if (options.coalescedStatus !== undefined)
          assert.equal(waiters.filter((s) => s === options.coalescedStatus).length, 9);
        // The waiters get the page as stored, not the first response's own headers.
        const limits = responses.map((r) => r.headers.get('ratelimit'));
        assert.deepEqual(
          limits.filter((l) => l !== null),
          ['"page";r=59'],
        );
      });

      test('stale-if-error: a stale page replaces a 5xx from the origin', async () => {
        const { base } = ctx;
        assert.equal(await (await fetch(`${base}/flaky`)).text(), 'flaky #1');
        await sleep(1200);
        await fetch(`${base}/fail`, { method: 'POST' });
        const res = await fetch(`${base}/flaky`);
        assert.equal(res.status, 200);
        assert.equal(await res.text(), 'flaky #1');
        assert.match(res.headers.get('cache-status') ?? '', /fwd=stale; detail=stale-if-error/);
        assert.equal(calls.get('flaky'), 2, 'the origin was asked, and failed');
        // Requests that wait on a failing render get the stale page too, not the 5xx.
        await sleep(1100);
        const together = await Promise.all(Array.from({ length: 5 }, () => fetch(`${base}/flaky`)));
        for (const r of together) {
          assert.equal(r.status, 200);
          assert.equal(await r.text(), 'flaky #1');
          assert.match(r.headers.get('cache-status') ?? '', /fwd=stale; detail=stale-if-error/);
        }
      });

      test('a UTF-8 page comes back byte for byte on a hit, its Content-Length counted in bytes', async () => {
        const q = 'héllo € ✓';
        const url = `${ctx.base}/page?q=${encodeURIComponent(q)}`;
        const first = await fetch(url);
        const rendered = Buffer.from(await first.arrayBuffer());
        assert.ok(rendered.toString('utf8').includes(q), rendered.toString('utf8'));
        for (const method of ['GET', 'HEAD']) {
          const hit = await fetch(url, { method });
          assert.match(hit.headers.get('cache-status') ?? '', /hit/, method);
          assert.equal(hit.headers.get('content-length'), String(rendered.length), method);
          const body = Buffer.from(await hit.arrayBuffer());
          assert.deepEqual(body, method === 'GET' ? rendered : Buffer.alloc(0), method);
        }
      });

      test('stale-while-revalidate: others get the stale page while one request re-renders', async () => {
        const { base } = ctx;
        assert.equal(await (await fetch(`${base}/swr`)).text(), 'swr #1');
        await sleep(1200);
        const refreshing = fetch(`${base}/swr`);
        // Once the refresh is rendering (it takes 200 ms), not after a guessed delay: on a
        // loaded machine the first request could reach the server after the second.
        await waitFor(() => calls.get('swr') === 2, {
          what: 'the refresh to start rendering',
          timeoutMs: 5000,
        });
        const other = await fetch(`${base}/swr`);
        assert.equal(await other.text(), 'swr #1');
        assert.match(other.headers.get('cache-status') ?? '', /fwd=stale/);
        const fresh = await refreshing;
        assert.equal(await fresh.text(), 'swr #2');
        assert.equal(await (await fetch(`${base}/swr`)).text(), 'swr #2');
      });

      test('purge by tag: invalidateTags drops every page cached with the tag, and only those', async () => {
        const { base } = ctx;
        assert.equal(await (await fetch(`${base}/tagged`)).text(), 'tagged #1');
        assert.equal(await (await fetch(`${base}/tagged?q=2`)).text(), 'tagged #2');
        const hit = await fetch(`${base}/tagged`);
        assert.equal(await hit.text(), 'tagged #1');
        assert.match(hit.headers.get('cache-status') ?? '', /hit/);
        const untaggedBefore = await (await fetch(`${base}/page?q=tagless`)).text();
        await ctx.larder.cache().invalidateTags(['catalog']);
        const purged = await fetch(`${base}/tagged`);
        assert.equal(await purged.text(), 'tagged #3');
        assert.match(purged.headers.get('cache-status') ?? '', /miss/);
        assert.equal(await (await fetch(`${base}/tagged?q=2`)).text(), 'tagged #4');
        assert.equal(
          await (await fetch(`${base}/page?q=tagless`)).text(),
          untaggedBefore,
          'untagged pages stay',
        );
      });

      test('neverCache and cacheControl patch the headers with Django’s rules', async () => {
        const never = await fetch(`${ctx.base}/never`);
        const cc = never.headers.get('cache-control') ?? '';
        for (const d of ['max-age=0', 'no-cache', 'no-store', 'must-revalidate', 'private'])
          assert.ok(cc.includes(d), cc);
        const patched = await fetch(`${ctx.base}/cc`);
        // The lower max-age wins (Django's patch_cache_control).
        assert.equal(patched.headers.get('cache-control'), 'max-age=100, public');
      });

      options.extra?.(ctx);
    });
  }
}
