/**
 * The page cache over real HTTP on Express 5, on the memory and Redis caches — Django's
 * CacheMiddlewareTest / CacheHEADTest / CacheUtils cases adapted, plus larder's stricter
 * rules: a personalised response is never served to another user.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import { adapt } from '../../src/adapters/express.js';
import { invalidatePage } from '../../src/http/page-cache.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

for (const target of ['memory', 'standalone'] as const) {
  describe(`Express page cache (${target})`, () => {
    let larder: Larder;
    let base: string;
    let server: ReturnType<ReturnType<typeof express>['listen']>;
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
      const app = express();
      app.get('/page', web.cachePage(60), (req, res) => {
        count('page');
        res.send(`page ${req.query.q ?? ''} #${calls.get('page')}`);
      });
      app.get('/cookie', web.cachePage(60), (_req, res) => {
        count('cookie');
        res.cookie('sid', `user-${calls.get('cookie')}`).send(`hello user-${calls.get('cookie')}`);
      });
      app.get('/private', web.cachePage(60), (_req, res) => {
        count('private');
        res.set('Cache-Control', 'private').send(`private #${calls.get('private')}`);
      });
      app.get('/nostore', web.cachePage(60), (_req, res) => {
        count('nostore');
        res.set('Cache-Control', 'no-store').send('x');
      });
      app.get('/maxage0', web.cachePage(60), (_req, res) => {
        count('maxage0');
        res.set('Cache-Control', 'max-age=0').send('x');
      });
      app.get('/vary', web.cachePage(60), web.varyOnHeaders('Accept-Language'), (req, res) => {
        count('vary');
        res.send(`lang=${req.get('accept-language')}`);
      });
      app.get('/vary-slow', web.cachePage(60), web.varyOnHeaders('Accept-Language'), async (req, res) => {
        await new Promise((r) => setTimeout(r, 100));
        res.send(`lang=${req.get('accept-language')}`);
      });
      // Like express-session: a cookie added by an on-headers listener, at writeHead time.
      const lateCookie: express.RequestHandler = (_req, res, next) => {
        const writeHead = res.writeHead;
        res.writeHead = function (this: typeof res, ...args: unknown[]) {
          res.setHeader('set-cookie', 'sid=late; Path=/');
          return (writeHead as (...a: unknown[]) => typeof res).apply(this, args);
        } as typeof res.writeHead;
        next();
      };
      app.get('/late-cookie', lateCookie, web.cachePage(60), (_req, res) => {
        count('late');
        res.send(`late #${calls.get('late')}`);
      });
      const site = express.Router();
      site.use(web.siteCache({ ttl: 600 }));
      site.get('/site/short', web.cachePage(1), (_req, res) => {
        count('site');
        res.send(`site #${calls.get('site')}`);
      });
      app.use(site);
      app.get('/short', web.cachePage(1), (_req, res) => {
        count('short');
        res.set('Cache-Control', 'max-age=3600').send(`short #${calls.get('short')}`);
      });
      app.get('/stream', web.cachePage(60), (_req, res) => {
        count('stream');
        res.write('part 1,');
        res.end(' part 2');
      });
      app.get('/error', web.cachePage(60), (_req, res) => {
        count('error');
        res.status(404).send('nope');
      });
      app.get('/slow', web.cachePage(60), async (_req, res) => {
        count('slow');
        await new Promise((r) => setTimeout(r, 150));
        res.send('slow');
      });
      let failing = false;
      app.get('/flaky', web.cachePage(1, { staleIfError: 30 }), (_req, res) => {
        count('flaky');
        if (failing) res.status(503).send('down');
        else res.send(`flaky #${calls.get('flaky')}`);
      });
      app.post('/fail', (_req, res) => {
        failing = true;
        res.send('ok');
      });
      app.get('/swr', web.cachePage(1, { staleWhileRevalidate: 30 }), async (_req, res) => {
        count('swr');
        await new Promise((r) => setTimeout(r, 200));
        res.send(`swr #${calls.get('swr')}`);
      });
      app.post('/page', web.cachePage(60), (_req, res) => {
        count('post');
        res.send('posted');
      });
      app.get('/never', web.neverCache(), (_req, res) => res.send('never'));
      app.get('/cc', web.cacheControl({ public: true, 'max-age': 100 }), (_req, res) => {
        res.set('Cache-Control', 'max-age=3600');
        res.send('cc');
      });
      server = app.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
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

    test('concurrent first requests that differ on a Vary header never share one render', async () => {
      const [fr, de] = await Promise.all(
        ['fr', 'de'].map((lang) =>
          fetch(`${base}/vary-slow`, { headers: { 'accept-language': lang } }).then((r) => r.text()),
        ),
      );
      assert.equal(fr, 'lang=fr');
      assert.equal(de, 'lang=de');
    });

    test('a response that sets a cookie is never stored nor served to another user', async () => {
      const alice = await fetch(`${base}/cookie`);
      const bob = await fetch(`${base}/cookie`);
      assert.equal(await alice.text(), 'hello user-1');
      assert.equal(await bob.text(), 'hello user-2');
      assert.match(bob.headers.get('set-cookie') ?? '', /sid=user-2/);
      assert.equal(alice.headers.get('cache-status'), 'larder; fwd=uri-miss; detail=set-cookie');
    });

    test('invalidatePage deletes one page as a client with those headers would see it', async () => {
      const fr = { 'accept-language': 'fr' };
      assert.equal(await (await fetch(`${base}/vary`, { headers: fr })).text(), 'lang=fr');
      const before = calls.get('vary');
      assert.equal(await invalidatePage(larder, `${base}/vary`, { headers: fr }), true);
      assert.equal(await invalidatePage(larder, `${base}/vary`, { headers: fr }), false);
      await fetch(`${base}/vary`, { headers: fr });
      assert.equal(calls.get('vary'), (before ?? 0) + 1, 'the next request renders again');
      const de = await fetch(`${base}/vary`, { headers: { 'accept-language': 'de' } });
      assert.match(de.headers.get('cache-status') ?? '', /hit/, 'the German page was left alone');
    });

    test('a cookie added at writeHead time (express-session style) still vetoes the store', async () => {
      assert.equal(await (await fetch(`${base}/late-cookie`)).text(), 'late #1');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(await (await fetch(`${base}/late-cookie`)).text(), 'late #2');
    });

    test('a route cachePage inside siteCache keeps its own ttl', async () => {
      assert.equal(await (await fetch(`${base}/site/short`)).text(), 'site #1');
      assert.equal(await (await fetch(`${base}/site/short`)).text(), 'site #1');
      await new Promise((r) => setTimeout(r, 1300));
      assert.equal(await (await fetch(`${base}/site/short`)).text(), 'site #2');
    });

    test('an answer to an authenticated request is not stored unless marked public (RFC 9111 §3.5)', async () => {
      const first = await fetch(`${base}/page?auth=1`, { headers: { authorization: 'Bearer alice' } });
      assert.equal(first.headers.get('cache-status'), 'larder; fwd=uri-miss; detail=authorization');
      const anonymous = await fetch(`${base}/page?auth=1`);
      assert.equal(anonymous.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
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
      await new Promise((r) => setTimeout(r, 1300));
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
      await new Promise((r) => setTimeout(r, 1200));
      await fetch(`${base}/fail`, { method: 'POST' });
      const res = await fetch(`${base}/flaky`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'flaky #1');
      assert.match(res.headers.get('cache-status') ?? '', /fwd=stale; detail=stale-if-error/);
      assert.equal(calls.get('flaky'), 2, 'the origin was asked, and failed');
    });

    test('stale-while-revalidate: others get the stale page while one request re-renders', async () => {
      assert.equal(await (await fetch(`${base}/swr`)).text(), 'swr #1');
      await new Promise((r) => setTimeout(r, 1200));
      const refreshing = fetch(`${base}/swr`);
      await new Promise((r) => setTimeout(r, 50));
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
  });
}
