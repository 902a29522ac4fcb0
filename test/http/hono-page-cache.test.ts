/**
 * The page cache over real HTTP on Hono 4 (@hono/node-server), on the memory and Redis
 * caches — the Express suite's cases (Django's CacheMiddlewareTest / CacheHEADTest /
 * CacheUtils adapted, plus larder's stricter rules: a personalised response is never
 * served to another user), then Hono's own: how a body is judged complete or streamed, and
 * header helpers placed before or after cachePage.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import { stream, streamSSE } from 'hono/streaming';
import * as expressAdapter from '../../src/adapters/express.js';
import * as honoAdapter from '../../src/adapters/hono.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

const { adapt } = honoAdapter;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const target of ['memory', 'standalone'] as const) {
  describe(`Hono page cache (${target})`, () => {
    let larder: Larder;
    let base: string;
    let server: ServerType;
    const calls = new Map<string, number>();
    const count = (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1);

    before(async () => {
      larder = createLarder(
        {
          logger: false,
          redis: target === 'memory' ? false : redisUrlFor('standalone')!,
          caches: {
            default: { backend: target === 'memory' ? 'memory' : 'redis', keyPrefix: uniquePrefix('pages') },
          },
        },
        {},
      );
      const web = adapt(larder);
      const app = new Hono();
      // Hono's default handler logs the error; /boom throws on purpose.
      app.onError((_error, c) => c.text('failed', 500));
      app.get('/page', web.cachePage(60), (c) => {
        count('page');
        return c.text(`page ${c.req.query('q') ?? ''} #${calls.get('page')}`);
      });
      app.get('/cookie', web.cachePage(60), (c) => {
        count('cookie');
        setCookie(c, 'sid', `user-${calls.get('cookie')}`);
        return c.text(`hello user-${calls.get('cookie')}`);
      });
      app.get('/private', web.cachePage(60), (c) => {
        count('private');
        c.header('Cache-Control', 'private');
        return c.text(`private #${calls.get('private')}`);
      });
      app.get('/nostore', web.cachePage(60), (c) => {
        count('nostore');
        c.header('Cache-Control', 'no-store');
        return c.text('x');
      });
      app.get('/maxage0', web.cachePage(60), (c) => {
        count('maxage0');
        c.header('Cache-Control', 'max-age=0');
        return c.text('x');
      });
      app.get('/vary', web.cachePage(60), web.varyOnHeaders('Accept-Language'), (c) => {
        count('vary');
        return c.text(`lang=${c.req.header('accept-language')}`);
      });
      app.get('/short', web.cachePage(1), (c) => {
        count('short');
        c.header('Cache-Control', 'max-age=3600');
        return c.text(`short #${calls.get('short')}`);
      });
      app.get('/stream', web.cachePage(60), (c) => {
        count('stream');
        return stream(c, async (s) => {
          await s.write('part 1,');
          await s.write(' part 2');
        });
      });
      app.get('/error', web.cachePage(60), (c) => {
        count('error');
        return c.text('nope', 404);
      });
      app.get('/slow', web.cachePage(60), async (c) => {
        count('slow');
        await sleep(150);
        return c.text('slow');
      });
      let failing = false;
      app.get('/flaky', web.cachePage(1, { staleIfError: 30 }), (c) => {
        count('flaky');
        if (failing) return c.text('down', 503);
        return c.text(`flaky #${calls.get('flaky')}`);
      });
      app.post('/fail', (c) => {
        failing = true;
        return c.text('ok');
      });
      app.get('/swr', web.cachePage(1, { staleWhileRevalidate: 30 }), async (c) => {
        count('swr');
        await sleep(200);
        return c.text(`swr #${calls.get('swr')}`);
      });
      app.post('/page', web.cachePage(60), (c) => {
        count('post');
        return c.text('posted');
      });
      app.get('/never', web.neverCache(), (c) => c.text('never'));
      app.get('/cc', web.cacheControl({ public: true, 'max-age': 100 }), (c) => {
        c.header('Cache-Control', 'max-age=3600');
        return c.text('cc');
      });

      // Hono's own cases.
      app.get('/vary-outer', web.varyOnHeaders('Accept-Language'), web.cachePage(60), (c) => {
        count('vary-outer');
        return c.text(`lang=${c.req.header('accept-language')}`);
      });
      app.get('/never-outer', web.neverCache(), web.cachePage(60), (c) => {
        count('never-outer');
        return c.text('never');
      });
      app.get('/json', web.cachePage(60), (c) => {
        count('json');
        return c.json({ n: calls.get('json') });
      });
      app.get('/html', web.cachePage(60), (c) => {
        count('html');
        return c.html(`<p>${calls.get('html')}</p>`);
      });
      app.get('/readable', web.cachePage(60), (c) => {
        count('readable');
        return c.body(new Blob(['whole']).stream());
      });
      app.get('/sse', web.cachePage(60), (c) => {
        count('sse');
        return streamSSE(c, async (s) => {
          await s.writeSSE({ data: 'tick' });
        });
      });
      app.get('/raw', web.cachePage(60), () => {
        count('raw');
        return new Response(`raw #${calls.get('raw')}`);
      });
      app.get('/sized', web.cachePage(60), () => {
        count('sized');
        const body = `sized #${calls.get('sized')}`;
        return new Response(body, { headers: { 'content-length': String(Buffer.byteLength(body)) } });
      });
      app.get('/plain', (c) => c.text(`plain ${c.req.query('n') ?? ''}`));
      app.get('/proxy', web.cachePage(60), () => {
        count('proxy');
        return fetch(`${base}/plain?n=${calls.get('proxy')}`);
      });
      app.post('/proxy', web.cachePage(60), () => fetch(`${base}/plain?n=post`));
      app.get('/boom', web.cachePage(60), () => {
        count('boom');
        throw new Error('boom');
      });
      app.get(
        '/touched',
        web.cachePage(60),
        async (c, next) => {
          // Reading c.res before the route makes Hono re-wrap the route's response.
          assert.ok(c.res);
          await next();
        },
        (c) => {
          count('touched');
          return c.text(`touched #${calls.get('touched')}`);
        },
      );
      app.get('/cookie-slow', web.cachePage(60), async (c) => {
        count('cookie-slow');
        const user = `user-${calls.get('cookie-slow')}`;
        await sleep(100);
        setCookie(c, 'sid', user);
        return c.text(`hello ${user}`);
      });

      server = await new Promise<ServerType>((resolve) => {
        const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
      });
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      await new Promise((r) => server.close(r));
      await larder.close();
    });

    test('a miss renders and stores; the next request is a hit with Age, ETag and Cache-Status', async () => {
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
      const etag = (await fetch(`${base}/page`)).headers.get('etag')!;
      const res = await fetch(`${base}/page`, { headers: { 'if-none-match': etag } });
      assert.equal(res.status, 304);
      assert.equal(await res.text(), '');
      assert.match(res.headers.get('cache-control') ?? '', /max-age=60/);
    });

    test('a cached GET answers HEAD without a body', async () => {
      const res = await fetch(`${base}/page`, { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('cache-status') ?? '', /hit/);
      assert.equal(res.headers.get('content-length'), String(Buffer.byteLength('page  #1')));
      assert.equal(await res.text(), '');
      assert.equal(calls.get('page'), 1);
    });

    test('query strings and hosts are part of the key', async () => {
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

    test('Vary: each Accept-Language value has its own entry', async () => {
      const fr = await (await fetch(`${base}/vary`, { headers: { 'accept-language': 'fr' } })).text();
      const de = await (await fetch(`${base}/vary`, { headers: { 'accept-language': 'de' } })).text();
      assert.equal(fr, 'lang=fr');
      assert.equal(de, 'lang=de');
      assert.equal(
        await (await fetch(`${base}/vary`, { headers: { 'accept-language': 'fr' } })).text(),
        'lang=fr',
      );
      assert.equal(calls.get('vary'), 2);
    });

    test('a response that sets a cookie is never stored nor served to another user', async () => {
      const alice = await fetch(`${base}/cookie`);
      const bob = await fetch(`${base}/cookie`);
      assert.equal(await alice.text(), 'hello user-1');
      assert.equal(await bob.text(), 'hello user-2');
      assert.match(bob.headers.get('set-cookie') ?? '', /sid=user-2/);
      assert.equal(alice.headers.get('cache-status'), 'larder; fwd=uri-miss; detail=set-cookie');
    });

    test('private, no-store and max-age=0 responses are never stored', async () => {
      for (const path of ['private', 'nostore', 'maxage0']) {
        await fetch(`${base}/${path}`);
        const again = await fetch(`${base}/${path}`);
        assert.match(again.headers.get('cache-status') ?? '', /fwd=uri-miss; detail=/);
        assert.equal(calls.get(path), 2, path);
      }
    });

    test('non-200 responses and streamed bodies are not stored; POST bypasses', async () => {
      await fetch(`${base}/error`);
      await fetch(`${base}/error`);
      assert.equal(calls.get('error'), 2);
      assert.equal(await (await fetch(`${base}/stream`)).text(), 'part 1, part 2');
      assert.equal(await (await fetch(`${base}/stream`)).text(), 'part 1, part 2');
      assert.equal(calls.get('stream'), 2);
      const post = await fetch(`${base}/page`, { method: 'POST' });
      assert.equal(await post.text(), 'posted');
      assert.equal(post.headers.get('cache-status'), 'larder; fwd=method');
    });

    test('the page timeout wins over a longer max-age in the response', async () => {
      const first = await fetch(`${base}/short`);
      assert.match(first.headers.get('cache-control') ?? '', /max-age=1\b/);
      assert.equal(await (await fetch(`${base}/short`)).text(), 'short #1');
      await sleep(1300);
      assert.equal(await (await fetch(`${base}/short`)).text(), 'short #2');
    });

    test('concurrent misses for one page render once', async () => {
      const bodies = await Promise.all(
        Array.from({ length: 10 }, () => fetch(`${base}/slow`).then((r) => r.text())),
      );
      assert.deepEqual(new Set(bodies), new Set(['slow']));
      assert.equal(calls.get('slow'), 1);
    });

    test('stale-if-error: a stale page replaces a 5xx from the origin', async () => {
      assert.equal(await (await fetch(`${base}/flaky`)).text(), 'flaky #1');
      await sleep(1200);
      await fetch(`${base}/fail`, { method: 'POST' });
      const res = await fetch(`${base}/flaky`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'flaky #1');
      assert.match(res.headers.get('cache-status') ?? '', /fwd=stale; detail=stale-if-error/);
      assert.equal(calls.get('flaky'), 2, 'the origin was asked, and failed');
    });

    test('stale-while-revalidate: others get the stale page while one request re-renders', async () => {
      assert.equal(await (await fetch(`${base}/swr`)).text(), 'swr #1');
      await sleep(1200);
      const refreshing = fetch(`${base}/swr`);
      await sleep(50);
      const other = await fetch(`${base}/swr`);
      assert.equal(await other.text(), 'swr #1');
      assert.match(other.headers.get('cache-status') ?? '', /fwd=stale/);
      const fresh = await refreshing;
      assert.equal(await fresh.text(), 'swr #2');
      assert.equal(await (await fetch(`${base}/swr`)).text(), 'swr #2');
    });

    test('neverCache and cacheControl patch the headers with Django’s rules', async () => {
      const never = await fetch(`${base}/never`);
      const cc = never.headers.get('cache-control') ?? '';
      for (const d of ['max-age=0', 'no-cache', 'no-store', 'must-revalidate', 'private'])
        assert.ok(cc.includes(d), cc);
      const patched = await fetch(`${base}/cc`);
      // The lower max-age wins (Django's patch_cache_control).
      assert.equal(patched.headers.get('cache-control'), 'max-age=100, public');
    });

    test('header helpers placed before cachePage still shape what is stored', async () => {
      const fr = await fetch(`${base}/vary-outer`, { headers: { 'accept-language': 'fr' } });
      assert.equal(await fr.text(), 'lang=fr');
      assert.match(fr.headers.get('vary') ?? '', /Accept-Language/i);
      assert.equal(
        await (await fetch(`${base}/vary-outer`, { headers: { 'accept-language': 'de' } })).text(),
        'lang=de',
      );
      assert.equal(
        await (await fetch(`${base}/vary-outer`, { headers: { 'accept-language': 'fr' } })).text(),
        'lang=fr',
      );
      assert.equal(calls.get('vary-outer'), 2);
      await fetch(`${base}/never-outer`);
      const again = await fetch(`${base}/never-outer`);
      assert.match(again.headers.get('cache-status') ?? '', /detail=private/);
      assert.equal(calls.get('never-outer'), 2);
    });

    test('c.json and c.html bodies are complete, so stored', async () => {
      for (const path of ['json', 'html']) {
        const first = await fetch(`${base}/${path}`);
        const second = await fetch(`${base}/${path}`);
        assert.equal(await second.text(), await first.text());
        assert.match(second.headers.get('cache-status') ?? '', /hit/, path);
        assert.equal(second.headers.get('content-type'), first.headers.get('content-type'));
        assert.equal(calls.get(path), 1, path);
      }
    });

    test('c.body(stream), streamSSE and a handler’s own Response without Content-Length are streamed', async () => {
      for (const [path, body] of [
        ['readable', 'whole'],
        ['sse', 'data: tick\n\n'],
        ['raw', undefined],
      ] as const) {
        const first = await fetch(`${base}/${path}`);
        if (body !== undefined) assert.equal(await first.text(), body);
        else assert.equal(await first.text(), `raw #1`);
        assert.equal(first.headers.get('cache-status'), null, path);
        await (await fetch(`${base}/${path}`)).text();
        assert.equal(calls.get(path), 2, path);
      }
    });

    test('a Response with Content-Length is complete: a proxied fetch() (immutable headers) is stored', async () => {
      assert.equal(await (await fetch(`${base}/sized`)).text(), 'sized #1');
      assert.equal(await (await fetch(`${base}/sized`)).text(), 'sized #1');
      assert.equal(calls.get('sized'), 1);
      const first = await fetch(`${base}/proxy`);
      assert.equal(await first.text(), 'plain 1');
      assert.equal(first.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
      const second = await fetch(`${base}/proxy`);
      assert.equal(await second.text(), 'plain 1');
      assert.match(second.headers.get('cache-status') ?? '', /hit/);
      assert.equal(calls.get('proxy'), 1);
      const post = await fetch(`${base}/proxy`, { method: 'POST' });
      assert.equal(await post.text(), 'plain post');
      assert.equal(post.headers.get('cache-status'), 'larder; fwd=method');
    });

    test('a response Hono re-wrapped (c.res read before the route) is still complete', async () => {
      assert.equal(await (await fetch(`${base}/touched`)).text(), 'touched #1');
      const again = await fetch(`${base}/touched`);
      assert.equal(await again.text(), 'touched #1');
      assert.match(again.headers.get('cache-status') ?? '', /hit/);
      assert.equal(calls.get('touched'), 1);
    });

    test('a route that throws goes to Hono’s error handler and is not stored', async () => {
      const first = await fetch(`${base}/boom`);
      assert.equal(first.status, 500);
      assert.equal(await first.text(), 'failed');
      assert.equal(first.headers.get('cache-status'), 'larder; fwd=uri-miss; detail=status');
      assert.equal((await fetch(`${base}/boom`)).status, 500);
      assert.equal(calls.get('boom'), 2);
    });

    test('concurrent requests never share a response that sets a cookie', async () => {
      const [alice, bob] = await Promise.all([fetch(`${base}/cookie-slow`), fetch(`${base}/cookie-slow`)]);
      const bodies = [await alice.text(), await bob.text()].sort();
      assert.deepEqual(bodies, ['hello user-1', 'hello user-2']);
      assert.notEqual(alice.headers.get('set-cookie'), bob.headers.get('set-cookie'));
      assert.equal(calls.get('cookie-slow'), 2);
    });
  });
}

test('the Hono adapter has the Express adapter’s exports and factories', async () => {
  assert.deepEqual(Object.keys(honoAdapter).sort(), Object.keys(expressAdapter).sort());
  assert.deepEqual(Object.keys(honoAdapter), ['adapt']);
  const larder = createLarder({ logger: false, redis: false }, {});
  try {
    assert.deepEqual(
      Object.keys(honoAdapter.adapt(larder)).sort(),
      Object.keys(expressAdapter.adapt(larder)).sort(),
    );
    const web = honoAdapter.adapt(larder);
    const names = [
      web.cachePage(1).name,
      web.siteCache().name,
      web.neverCache().name,
      web.cacheControl({}).name,
      web.varyOnHeaders('x').name,
      web.varyOnCookie().name,
      web.health().name,
    ];
    assert.deepEqual(names, [
      'cachePage',
      'cachePage',
      'neverCache',
      'cacheControl',
      'varyOnHeaders',
      'varyOnHeaders',
      'health',
    ]);
  } finally {
    await larder.close();
  }
});
