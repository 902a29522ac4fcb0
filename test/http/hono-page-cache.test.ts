/**
 * The page cache over real HTTP on Hono 4 (@hono/node-server): the shared suite
 * (`page-cache.suite.ts`), then Hono's own cases — how a body is judged complete or streamed,
 * header helpers placed before or after cachePage, a route that throws, and concurrent requests
 * that set cookies.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import { stream, streamSSE } from 'hono/streaming';
import * as expressAdapter from '../../src/adapters/express.js';
import * as honoAdapter from '../../src/adapters/hono.js';
import { createLarder } from '../../src/larder.js';
import { counter, pageCacheSuite, sleep } from './page-cache.suite.js';

const { adapt } = honoAdapter;

/**
 * The suite runs twice: with `cachePage(ttl)` as middleware, and as the wrapper of its route's
 * handler (`cachePage(ttl)(handler)`). For the second, the app's `get`/`post` register each
 * route given as `cachePage, ...middleware, handler` as `...middleware, cachePage(handler)`:
 * the same routes and assertions, the other form (header helpers work on either side).
 */
for (const form of ['middleware', 'wrapped'] as const) {
  pageCacheSuite(
    form === 'middleware' ? 'Hono' : 'Hono cachePage(ttl)(handler)',
    async (larder, calls) => {
      const count = counter(calls);
      const web = adapt(larder);
      let base = '';
      const app = new Hono();
      if (form === 'wrapped') wrapHandlers(app);
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
        return c.text('slow', 200, { ratelimit: `"page";r=${60 - calls.get('slow')!}` });
      });
      app.get('/conditional', web.cachePage(60), (c) => {
        if (c.req.header('if-none-match') === '"v1"') return c.body(null, 304, { etag: '"v1"' });
        return c.text('conditional', 200, { etag: '"v1"' });
      });
      let failing = false;
      app.get('/flaky', web.cachePage(1, { staleIfError: 30 }), async (c) => {
        count('flaky');
        if (failing) await sleep(100);
        if (failing) return c.text('down', 503);
        return c.text(`flaky #${calls.get('flaky')}`);
      });
      app.post('/fail', (c) => {
        failing = true;
        return c.text('ok');
      });
      app.get('/tagged', web.cachePage(60, { tags: ['catalog'] }), (c) => {
        count('tagged');
        return c.text(`tagged #${calls.get('tagged')}`);
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

      const server = await new Promise<ServerType>((resolve) => {
        const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
      });
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      return { base, close: () => new Promise<void>((r) => server.close(() => r())) };
    },
    {
      extra: (ctx) => {
        const { calls } = ctx;

        test('header helpers placed before cachePage still shape what is stored', async () => {
          const fr = await fetch(`${ctx.base}/vary-outer`, { headers: { 'accept-language': 'fr' } });
          assert.equal(await fr.text(), 'lang=fr');
          assert.match(fr.headers.get('vary') ?? '', /Accept-Language/i);
          assert.equal(
            await (await fetch(`${ctx.base}/vary-outer`, { headers: { 'accept-language': 'de' } })).text(),
            'lang=de',
          );
          assert.equal(
            await (await fetch(`${ctx.base}/vary-outer`, { headers: { 'accept-language': 'fr' } })).text(),
            'lang=fr',
          );
          assert.equal(calls.get('vary-outer'), 2);
          await fetch(`${ctx.base}/never-outer`);
          const again = await fetch(`${ctx.base}/never-outer`);
          assert.match(again.headers.get('cache-status') ?? '', /detail=private/);
          assert.equal(calls.get('never-outer'), 2);
        });

        test('c.json and c.html bodies are complete, so stored', async () => {
          for (const path of ['json', 'html']) {
            const first = await fetch(`${ctx.base}/${path}`);
            const second = await fetch(`${ctx.base}/${path}`);
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
            const first = await fetch(`${ctx.base}/${path}`);
            if (body !== undefined) assert.equal(await first.text(), body);
            else assert.equal(await first.text(), `raw #1`);
            assert.equal(first.headers.get('cache-status'), null, path);
            await (await fetch(`${ctx.base}/${path}`)).text();
            assert.equal(calls.get(path), 2, path);
          }
        });

        test('a Response with Content-Length is complete: a proxied fetch() (immutable headers) is stored', async () => {
          assert.equal(await (await fetch(`${ctx.base}/sized`)).text(), 'sized #1');
          assert.equal(await (await fetch(`${ctx.base}/sized`)).text(), 'sized #1');
          assert.equal(calls.get('sized'), 1);
          const first = await fetch(`${ctx.base}/proxy`);
          assert.equal(await first.text(), 'plain 1');
          assert.equal(first.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
          const second = await fetch(`${ctx.base}/proxy`);
          assert.equal(await second.text(), 'plain 1');
          assert.match(second.headers.get('cache-status') ?? '', /hit/);
          assert.equal(calls.get('proxy'), 1);
          const post = await fetch(`${ctx.base}/proxy`, { method: 'POST' });
          assert.equal(await post.text(), 'plain post');
          assert.equal(post.headers.get('cache-status'), 'larder; fwd=method');
        });

        test('a response Hono re-wrapped (c.res read before the route) is still complete', async () => {
          assert.equal(await (await fetch(`${ctx.base}/touched`)).text(), 'touched #1');
          const again = await fetch(`${ctx.base}/touched`);
          assert.equal(await again.text(), 'touched #1');
          assert.match(again.headers.get('cache-status') ?? '', /hit/);
          assert.equal(calls.get('touched'), 1);
        });

        test('a route that throws goes to Hono’s error handler and is not stored', async () => {
          const first = await fetch(`${ctx.base}/boom`);
          assert.equal(first.status, 500);
          assert.equal(await first.text(), 'failed');
          // Around the handler, the error leaves the page cache before Hono's handler answers it.
          assert.equal(
            first.headers.get('cache-status'),
            form === 'middleware' ? 'larder; fwd=uri-miss; detail=status' : null,
          );
          assert.equal((await fetch(`${ctx.base}/boom`)).status, 500);
          assert.equal(calls.get('boom'), 2);
        });

        test('concurrent requests never share a response that sets a cookie', async () => {
          const [alice, bob] = await Promise.all([
            fetch(`${ctx.base}/cookie-slow`),
            fetch(`${ctx.base}/cookie-slow`),
          ]);
          const bodies = [await alice.text(), await bob.text()].sort();
          assert.deepEqual(bodies, ['hello user-1', 'hello user-2']);
          assert.notEqual(alice.headers.get('set-cookie'), bob.headers.get('set-cookie'));
          assert.equal(calls.get('cookie-slow'), 2);
        });
      },
    },
  );
}

/** Rewrites `app.get/post(path, cachePage, ...middleware, handler)` to `(path, ...middleware, cachePage(handler))`. */
function wrapHandlers(app: Hono): void {
  type Route = (path: string, ...handlers: Array<(...args: never[]) => unknown>) => Hono;
  for (const method of ['get', 'post'] as const) {
    const register = app[method].bind(app) as unknown as Route;
    (app as unknown as Record<string, Route>)[method] = (path, ...handlers) => {
      const at = handlers.findIndex((handler) => handler.name === 'cachePage');
      if (at < 0) return register(path, ...handlers);
      const cachePage = handlers[at] as unknown as honoAdapter.CachePageMiddleware;
      const handler = handlers.at(-1) as unknown as Parameters<typeof cachePage>[0];
      const wrapped = (cachePage as (handler: unknown) => (...args: never[]) => unknown)(handler);
      return register(path, ...handlers.slice(0, at), ...handlers.slice(at + 1, -1), wrapped);
    };
  }
}

test('cachePage(ttl)(handler): a lone handler answers; an earlier middleware’s headers win on a hit; no answer is a 404', async () => {
  const larder = createLarder({ logger: false, redis: false }, {});
  const web = adapt(larder);
  const app = new Hono();
  let renders = 0;
  app.get(
    '/alone',
    web.cachePage(60)((c) => {
      renders++;
      return c.text(`alone #${renders}`);
    }),
  );
  app.use('/after/*', async (c, next) => {
    c.header('x-request', c.req.header('x-request') ?? 'none');
    await next();
  });
  app.get(
    '/after/page',
    web.cachePage(60)((c) => c.html(`<p>page</p>`)),
  );
  app.get('/after/middleware', web.cachePage(60), (c) => c.html(`<p>middleware</p>`));
  app.get(
    '/silent',
    web.cachePage(60)(() => undefined as unknown as Response),
  );
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const first = await fetch(`${base}/alone`);
    assert.equal(await first.text(), 'alone #1');
    assert.equal(first.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
    const hit = await fetch(`${base}/alone`);
    assert.equal(await hit.text(), 'alone #1');
    assert.equal(hit.headers.get('cache-status'), 'larder; hit; ttl=60');
    assert.equal(hit.headers.get('content-type'), 'text/plain; charset=UTF-8');
    assert.equal(renders, 1);

    // The stored page has the first request's x-request; a hit carries its own request's.
    for (const path of ['page', 'middleware']) {
      await (await fetch(`${base}/after/${path}`, { headers: { 'x-request': 'one' } })).text();
      const again = await fetch(`${base}/after/${path}`, { headers: { 'x-request': 'two' } });
      assert.equal(await again.text(), `<p>${path}</p>`);
      assert.match(again.headers.get('cache-status') ?? '', /hit/, path);
      assert.equal(again.headers.get('x-request'), 'two', path);
      assert.equal(again.headers.get('content-type'), 'text/html; charset=UTF-8', path);
    }

    const silent = await fetch(`${base}/silent`);
    assert.equal(silent.status, 404);
    await silent.text();
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await larder.close();
  }
});

test('repeated request headers key a page as the handler sees them (no poisoning through a repeated User-Agent)', async () => {
  const larder = createLarder({ logger: false, redis: false }, {});
  const web = adapt(larder);
  const app = new Hono();
  app.get('/ua', web.cachePage(60), web.varyOnHeaders('User-Agent'), (c) =>
    c.text(`ua=${c.req.header('user-agent')}`),
  );
  app.get(
    '/lang',
    web.varyOnHeaders('Accept-Language'),
    web.cachePage(60)((c) => c.text(`lang=${c.req.header('accept-language')}`)),
  );
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  // node:http sends each value of an array as its own header line; fetch would join them.
  const get = (path: string, headers: Record<string, string | string[]>) =>
    new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, headers }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        })
        .on('error', reject);
    });
  try {
    // Node keeps the first of a repeated User-Agent; Hono's c.req.header joins them.
    const evil = await get('/ua', { 'user-agent': ['browser', 'evil'] });
    assert.equal(evil.body, 'ua=browser, evil');
    await get('/ua', { 'user-agent': ['browser', 'evil'] });
    const browser = await get('/ua', { 'user-agent': 'browser' });
    assert.equal(browser.body, 'ua=browser');
    assert.equal(browser.headers['cache-status'], 'larder; fwd=uri-miss; stored');

    // A repeated header that Node joins is keyed joined, as the handler saw it.
    const both = await get('/lang', { 'accept-language': ['fr', 'de'] });
    assert.equal(both.body, 'lang=fr, de');
    const joined = await get('/lang', { 'accept-language': 'fr, de' });
    assert.equal(joined.body, 'lang=fr, de');
    assert.equal(joined.headers['cache-status'], 'larder; hit; ttl=60');
    // A hit's Content-Length is set by @hono/node-server from the body larder gives it.
    assert.equal(joined.headers['content-length'], String('lang=fr, de'.length));
    assert.equal(joined.headers['transfer-encoding'], undefined);
    const fr = await get('/lang', { 'accept-language': 'fr' });
    assert.equal(fr.body, 'lang=fr');

    // If-None-Match, read from Node's headers on a hit: a 304 without a body.
    const etag = joined.headers.etag as string;
    const notModified = await get('/lang', { 'accept-language': 'fr, de', 'if-none-match': etag });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body, '');
    const otherTag = await get('/lang', { 'accept-language': 'fr, de', 'if-none-match': '"other"' });
    assert.equal(otherTag.status, 200);
    assert.equal(otherTag.body, 'lang=fr, de');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await larder.close();
  }
});

test('a repeated Host keys the page by every copy, as c.req.header() gives it to the handler', async () => {
  const larder = createLarder({ logger: false, redis: false }, {});
  const web = adapt(larder);
  const app = new Hono();
  app.get(
    '/host',
    web.cachePage(60)((c) => c.text(`host=${c.req.header('host')}`)),
  );
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  // Node accepts two Host lines and keeps the first in req.headers; a raw socket sends them.
  const rawGet = (hosts: string[]) =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        const lines = hosts.map((h) => `Host: ${h}\r\n`).join('');
        socket.write(`GET /host HTTP/1.1\r\n${lines}Connection: close\r\n\r\n`);
      });
      let reply = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (reply += chunk));
      socket.on('end', () => resolve(reply));
      socket.on('error', reject);
    });
  try {
    const twice = await rawGet(['shop.example', 'evil.example']);
    assert.match(twice, /\r\n\r\nhost=shop\.example, evil\.example$/);
    assert.match(twice, /cache-status: larder; fwd=uri-miss; stored/i);
    // The page rendered for both copies is not the one stored for the first alone.
    const once = await rawGet(['shop.example']);
    assert.match(once, /\r\n\r\nhost=shop\.example$/);
    assert.match(once, /cache-status: larder; fwd=uri-miss; stored/i);
    assert.match(await rawGet(['shop.example']), /cache-status: larder; hit; ttl=60/i);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await larder.close();
  }
});

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
