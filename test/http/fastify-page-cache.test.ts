/**
 * The page cache over real HTTP on Fastify 5, on the memory and Redis caches — the same
 * cases as the Express suite (Django's CacheMiddlewareTest / CacheHEADTest / CacheUtils,
 * plus larder's stricter rules: a personalised response is never served to another user),
 * then what only Fastify has: `web.plugin`, the route `config: { cache }` form, the site
 * cache as a scoped plugin, and a loud error for a hook the plugin did not wire.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { adapt as adaptExpress } from '../../src/adapters/express.js';
import { adapt } from '../../src/adapters/fastify.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const target of ['memory', 'standalone'] as const) {
  describe(`Fastify page cache (${target})`, () => {
    let larder: Larder;
    let base: string;
    let app: FastifyInstance;
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
      app = Fastify();
      await app.register(web.plugin);
      app.get('/page', { onRequest: web.cachePage(60) }, async (request) => {
        count('page');
        return `page ${(request.query as { q?: string }).q ?? ''} #${calls.get('page')}`;
      });
      app.get('/cookie', { onRequest: web.cachePage(60) }, async (_request, reply) => {
        count('cookie');
        reply.header('set-cookie', `sid=user-${calls.get('cookie')}; Path=/; HttpOnly`);
        return `hello user-${calls.get('cookie')}`;
      });
      app.get('/private', { onRequest: web.cachePage(60) }, async (_request, reply) => {
        count('private');
        reply.header('cache-control', 'private');
        return `private #${calls.get('private')}`;
      });
      app.get('/nostore', { onRequest: web.cachePage(60) }, async (_request, reply) => {
        count('nostore');
        reply.header('cache-control', 'no-store');
        return 'x';
      });
      app.get('/maxage0', { onRequest: web.cachePage(60) }, async (_request, reply) => {
        count('maxage0');
        reply.header('cache-control', 'max-age=0');
        return 'x';
      });
      app.get(
        '/vary',
        { onRequest: [web.cachePage(60), web.varyOnHeaders('Accept-Language')] },
        async (request) => {
          count('vary');
          return `lang=${request.headers['accept-language']}`;
        },
      );
      // The patch hook first: the order of larder's hooks on a route does not matter.
      app.get(
        '/vary-first',
        { onRequest: [web.varyOnHeaders('Accept-Language'), web.cachePage(60)] },
        async (request) => {
          count('vary-first');
          return `lang=${request.headers['accept-language']}`;
        },
      );
      app.get('/short', { onRequest: web.cachePage(1) }, async (_request, reply) => {
        count('short');
        reply.header('cache-control', 'max-age=3600');
        return `short #${calls.get('short')}`;
      });
      app.get('/stream', { onRequest: web.cachePage(60) }, async (_request, reply) => {
        count('stream');
        reply.type('text/plain');
        return reply.send(Readable.from(['part 1,', ' part 2']));
      });
      app.get('/error', { onRequest: web.cachePage(60) }, async (_request, reply) => {
        count('error');
        return reply.code(404).send('nope');
      });
      app.get('/slow', { onRequest: web.cachePage(60) }, async () => {
        count('slow');
        await sleep(150);
        return 'slow';
      });
      let failing = false;
      app.get('/flaky', { onRequest: web.cachePage(1, { staleIfError: 30 }) }, async (_request, reply) => {
        count('flaky');
        if (failing) return reply.code(503).send('down');
        return `flaky #${calls.get('flaky')}`;
      });
      app.post('/fail', async () => {
        failing = true;
        return 'ok';
      });
      let throwing = false;
      app.get('/throws', { onRequest: web.cachePage(1, { staleIfError: 30 }) }, async () => {
        count('throws');
        if (throwing) throw new Error('origin down');
        return `throws #${calls.get('throws')}`;
      });
      app.post('/throw', async () => {
        throwing = true;
        return 'ok';
      });
      app.get('/swr', { onRequest: web.cachePage(1, { staleWhileRevalidate: 30 }) }, async () => {
        count('swr');
        await sleep(200);
        return `swr #${calls.get('swr')}`;
      });
      app.post('/page', { onRequest: web.cachePage(60) }, async () => {
        count('post');
        return 'posted';
      });
      app.get('/never', { onRequest: web.neverCache() }, async () => 'never');
      app.get(
        '/cc',
        { onRequest: web.cacheControl({ public: true, 'max-age': 100 }) },
        async (_request, reply) => {
          reply.header('cache-control', 'max-age=3600');
          return 'cc';
        },
      );
      app.get('/configured', { config: { cache: { ttl: 60 } } }, async () => {
        count('configured');
        return `configured #${calls.get('configured')}`;
      });
      await app.register(async (scope) => {
        await scope.register(web.siteCache({ ttl: 60 }));
        scope.get('/site/on', async () => {
          count('site-on');
          return `site #${calls.get('site-on')}`;
        });
        scope.get('/site/off', { config: { cache: false } }, async () => {
          count('site-off');
          return `off #${calls.get('site-off')}`;
        });
        scope.get('/site/own', { onRequest: web.cachePage(1) }, async () => {
          count('site-own');
          return `own #${calls.get('site-own')}`;
        });
      });
      app.get('/outside', async () => {
        count('outside');
        return `outside #${calls.get('outside')}`;
      });
      base = await app.listen({ port: 0, host: '127.0.0.1' });
    });
    after(async () => {
      await app.close();
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

    test('a cached GET answers HEAD without a body, with the GET’s Content-Length', async () => {
      const res = await fetch(`${base}/page`, { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('cache-status') ?? '', /hit/);
      assert.equal(res.headers.get('content-length'), String('page  #1'.length));
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

    test('Vary: each Accept-Language value has its own entry, whatever the hook order', async () => {
      for (const path of ['vary', 'vary-first']) {
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
      const first = await fetch(`${base}/short`);
      assert.match(first.headers.get('cache-control') ?? '', /max-age=1\b/);
      assert.equal(await (await fetch(`${base}/short`)).text(), 'short #1');
      await sleep(1300);
      assert.equal(await (await fetch(`${base}/short`)).text(), 'short #2');
    });

    test('concurrent misses for one page render once', async () => {
      const responses = await Promise.all(Array.from({ length: 10 }, () => fetch(`${base}/slow`)));
      const bodies = await Promise.all(responses.map((r) => r.text()));
      assert.deepEqual(new Set(bodies), new Set(['slow']));
      assert.equal(calls.get('slow'), 1);
      const statuses = responses.map((r) => r.headers.get('cache-status'));
      assert.equal(statuses.filter((s) => s === 'larder; fwd=uri-miss; stored').length, 1);
      assert.equal(statuses.filter((s) => s === 'larder; hit; detail=coalesced').length, 9);
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

    test('stale-if-error also covers a handler that throws (Fastify’s error handler answers 500)', async () => {
      assert.equal(await (await fetch(`${base}/throws`)).text(), 'throws #1');
      await sleep(1200);
      await fetch(`${base}/throw`, { method: 'POST' });
      const res = await fetch(`${base}/throws`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(await res.text(), 'throws #1');
      assert.match(res.headers.get('cache-status') ?? '', /detail=stale-if-error/);
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

    test('route config { cache: { ttl } } is the same page cache', async () => {
      const first = await fetch(`${base}/configured`);
      assert.equal(first.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
      const second = await fetch(`${base}/configured`);
      assert.equal(await second.text(), 'configured #1');
      assert.match(second.headers.get('cache-status') ?? '', /^larder; hit/);
      const head = await fetch(`${base}/configured`, { method: 'HEAD' });
      assert.match(head.headers.get('cache-status') ?? '', /^larder; hit/);
      assert.equal(calls.get('configured'), 1);
    });

    test('siteCache is a plugin for its scope; config { cache: false } and a route’s own cachePage win', async () => {
      for (let i = 0; i < 2; i++) {
        assert.equal(await (await fetch(`${base}/site/on`)).text(), 'site #1');
        assert.equal(await (await fetch(`${base}/site/off`)).text(), `off #${i + 1}`);
        assert.equal(await (await fetch(`${base}/outside`)).text(), `outside #${i + 1}`);
      }
      const own = await fetch(`${base}/site/own`);
      assert.match(own.headers.get('cache-control') ?? '', /max-age=1\b/, 'the route’s ttl, not the site’s');
      assert.equal(calls.get('site-own'), 1);
    });
  });
}

describe('Fastify adapter shape', () => {
  test('adapt() lists the same factories as the Express adapter; plugin is extra and not listed', async () => {
    const larder = createLarder({ logger: false }, {});
    const web = adapt(larder);
    assert.deepEqual(Object.keys(web).sort(), Object.keys(adaptExpress(larder)).sort());
    assert.equal(typeof web.plugin, 'function');
    await larder.close();
  });

  test('a hook on a route web.plugin did not wire fails loudly instead of silently not caching', async () => {
    const larder = createLarder({ logger: false }, {});
    const web = adapt(larder);
    const app = Fastify();
    app.get('/unwired', { onRequest: web.cachePage(60) }, async () => 'x');
    app.get('/unwired-never', { onRequest: web.neverCache() }, async () => 'x');
    try {
      for (const url of ['/unwired', '/unwired-never']) {
        const res = await app.inject({ url });
        assert.equal(res.statusCode, 500);
        assert.match(res.json().message, /await app\.register\(web\.plugin\)/);
      }
    } finally {
      await app.close();
      await larder.close();
    }
  });

  test('an invalid ttl in route config fails when the route is declared', async () => {
    const larder = createLarder({ logger: false }, {});
    const web = adapt(larder);
    const app = Fastify();
    await app.register(web.plugin);
    try {
      assert.throws(
        () => app.get('/bad', { config: { cache: { ttl: 'soon' } } }, async () => 'x'),
        /cachePage\(ttl\)/,
      );
    } finally {
      await app.close();
      await larder.close();
    }
  });
});
