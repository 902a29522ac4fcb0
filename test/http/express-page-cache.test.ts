/**
 * The page cache over real HTTP on Express 5: the shared suite (`page-cache.suite.ts`), then
 * what only this file checks — concurrent first requests that differ on Vary, invalidatePage, a
 * cookie added at writeHead time, a route cachePage inside siteCache, and authenticated requests.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import express from 'express';
import { adapt } from '../../src/adapters/express.js';
import { invalidatePage } from '../../src/http/page-cache.js';
import { counter, pageCacheSuite, sleep } from './page-cache.suite.js';

pageCacheSuite(
  'Express',
  async (larder, calls) => {
    const count = counter(calls);
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
      await sleep(100);
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
      await sleep(150);
      res.set('ratelimit', `"page";r=${60 - calls.get('slow')!}`).send('slow');
    });
    app.get('/conditional', web.cachePage(60), (req, res) => {
      res.set('etag', '"v1"');
      if (req.get('if-none-match') === '"v1"') res.status(304).end();
      else res.send('conditional');
    });
    let failing = false;
    app.get('/flaky', web.cachePage(1, { staleIfError: 30 }), async (_req, res) => {
      count('flaky');
      if (failing) await sleep(100);
      if (failing) res.status(503).send('down');
      else res.send(`flaky #${calls.get('flaky')}`);
    });
    app.post('/fail', (_req, res) => {
      failing = true;
      res.send('ok');
    });
    app.get('/tagged', web.cachePage(60, { tags: ['catalog'] }), (_req, res) => {
      count('tagged');
      res.send(`tagged #${calls.get('tagged')}`);
    });
    app.get('/swr', web.cachePage(1, { staleWhileRevalidate: 30 }), async (_req, res) => {
      count('swr');
      await sleep(200);
      res.send(`swr #${calls.get('swr')}`);
    });
    app.post('/page', web.cachePage(60), (_req, res) => {
      count('post');
      res.send('posted');
    });
    app.get('/timed', web.cachePage(60), (_req, res) => {
      count('timed');
      res.set('Server-Timing', `render;dur=${calls.get('timed')}`).send('timed');
    });
    app.get('/never', web.neverCache(), (_req, res) => res.send('never'));
    app.get('/cc', web.cacheControl({ public: true, 'max-age': 100 }), (_req, res) => {
      res.set('Cache-Control', 'max-age=3600');
      res.send('cc');
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    return {
      base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  },
  {
    extra: (ctx) => {
      const { calls } = ctx;

      test('concurrent first requests that differ on a Vary header never share one render', async () => {
        const [fr, de] = await Promise.all(
          ['fr', 'de'].map((lang) =>
            fetch(`${ctx.base}/vary-slow`, { headers: { 'accept-language': lang } }).then((r) => r.text()),
          ),
        );
        assert.equal(fr, 'lang=fr');
        assert.equal(de, 'lang=de');
      });

      test('invalidatePage deletes one page as a client with those headers would see it', async () => {
        const { base, larder } = ctx;
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

      test("a hit does not replay the render's Server-Timing (it describes that one response)", async () => {
        const miss = await fetch(`${ctx.base}/timed`);
        assert.equal(miss.headers.get('server-timing'), 'render;dur=1');
        const hit = await fetch(`${ctx.base}/timed`);
        assert.match(hit.headers.get('cache-status') ?? '', /hit/);
        assert.equal(hit.headers.get('server-timing'), null);
      });

      test('a cookie added at writeHead time (express-session style) still vetoes the store', async () => {
        assert.equal(await (await fetch(`${ctx.base}/late-cookie`)).text(), 'late #1');
        await sleep(50);
        assert.equal(await (await fetch(`${ctx.base}/late-cookie`)).text(), 'late #2');
      });

      test('a route cachePage inside siteCache keeps its own ttl', async () => {
        assert.equal(await (await fetch(`${ctx.base}/site/short`)).text(), 'site #1');
        assert.equal(await (await fetch(`${ctx.base}/site/short`)).text(), 'site #1');
        await sleep(1300);
        assert.equal(await (await fetch(`${ctx.base}/site/short`)).text(), 'site #2');
      });

      test('an answer to an authenticated request is not stored unless marked public (RFC 9111 §3.5)', async () => {
        const first = await fetch(`${ctx.base}/page?auth=1`, { headers: { authorization: 'Bearer alice' } });
        assert.equal(first.headers.get('cache-status'), 'larder; fwd=uri-miss; detail=authorization');
        const anonymous = await fetch(`${ctx.base}/page?auth=1`);
        assert.equal(anonymous.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
      });
    },
  },
);
