/**
 * Page-cache regressions from the review of session 9, on each adapter over real HTTP (memory
 * cache): the host a page is keyed by under a trusted proxy, which headers of a hit are the
 * page's and which the request's own, streamed routes that must not hold back the requests
 * for their URL, a route's hit inside a site cache, a cookie added after the route, and
 * factories taken out of `adapt()`.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { type ServerType, serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import * as expressAdapter from '../../src/adapters/express.js';
import * as fastifyAdapter from '../../src/adapters/fastify.js';
import * as honoAdapter from '../../src/adapters/hono.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { sleep } from './page-cache.suite.js';

/** A latch the streaming routes wait on before they end. */
function latch() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Fails when `promise` has not settled after `ms` (a hang, not a speed check). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

interface App {
  base: string;
  close(): Promise<void>;
}

/** The routes each framework serves here (`calls` counts renders per route). */
interface Routes {
  calls: Map<string, number>;
  gate: ReturnType<typeof latch>;
}

const count = (calls: Map<string, number>, name: string) => {
  const n = (calls.get(name) ?? 0) + 1;
  calls.set(name, n);
  return n;
};

async function expressApp(larder: Larder, { calls, gate }: Routes): Promise<App> {
  const web = expressAdapter.adapt(larder);
  const app = express();
  app.set('trust proxy', true);
  app.get(
    '/own',
    (req, res, next) => {
      res.set('x-request-id', req.get('x-id') ?? '-');
      res.vary('Accept-Language');
      next();
    },
    web.cachePage(60),
    web.varyOnCookie(),
    (_req, res) => {
      res.send(`own #${count(calls, 'own')}`);
    },
  );
  app.get('/link', web.cachePage(60), (req, res) => {
    res.send(`link to ${req.hostname}`);
  });
  app.get('/stream', web.cachePage(60), async (_req, res) => {
    count(calls, 'stream');
    res.write('first,');
    await gate.opened;
    res.end('last');
  });
  const site = express.Router();
  site.use(web.siteCache({ ttl: 600, keyPrefix: 'site' }));
  site.get('/price', web.cachePage(1), (_req, res) => {
    res.send(`price v${count(calls, 'price')}`);
  });
  app.use('/site', site);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function fastifyApp(larder: Larder, { calls, gate }: Routes): Promise<App> {
  const web = fastifyAdapter.adapt(larder);
  const app = Fastify({ trustProxy: true });
  await app.register(web.plugin);
  app.get(
    '/own',
    {
      onRequest: [
        (request, reply, done) => {
          reply.header('x-request-id', request.headers['x-id'] ?? '-');
          reply.header('vary', 'Accept-Language');
          done();
        },
        web.cachePage(60),
        web.varyOnCookie(),
      ],
    },
    async () => `own #${count(calls, 'own')}`,
  );
  app.get('/link', { onRequest: web.cachePage(60) }, async (request) => `link to ${request.hostname}`);
  app.get('/stream', { onRequest: web.cachePage(60) }, async (_request, reply) => {
    count(calls, 'stream');
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/plain' });
    reply.raw.write('first,');
    await gate.opened;
    reply.raw.end('last');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
}

async function honoApp(larder: Larder, { calls, gate }: Routes): Promise<App> {
  const web = honoAdapter.adapt(larder);
  const app = new Hono();
  app.use('/own', async (c, next) => {
    c.header('x-request-id', c.req.header('x-id') ?? '-');
    c.header('vary', 'Accept-Language');
    await next();
  });
  app.get('/own', web.cachePage(60), web.varyOnCookie(), (c) => c.text(`own #${count(calls, 'own')}`));
  app.get('/stream', web.cachePage(60), (c) => {
    count(calls, 'stream');
    return stream(c, async (s) => {
      await s.write('first,');
      await gate.opened;
      await s.write('last');
    });
  });
  // Middleware around the route that adds a cookie once the route has answered.
  app.use('/late', async (c, next) => {
    await next();
    c.header('set-cookie', `tok=${calls.get('late')}; Path=/`, { append: true });
  });
  app.get('/late', web.cachePage(60), (c) => c.text(`late #${count(calls, 'late')}`));
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const frameworks = { express: expressApp, fastify: fastifyApp, hono: honoApp };

for (const [name, start] of Object.entries(frameworks)) {
  describe(`${name}: page cache`, () => {
    const larder = createLarder({ logger: false, redis: false }, {});
    const routes: Routes = { calls: new Map(), gate: latch() };
    let app: App | undefined;
    const base = async () => {
      app ??= await start(larder, routes);
      return app.base;
    };
    after(async () => {
      routes.gate.open();
      await app?.close();
      await larder.close();
    });

    test('a hit keeps the headers this request set before the page cache, but the page’s caching ones and its whole Vary', async () => {
      const url = `${await base()}/own`;
      const first = await fetch(url, { headers: { 'x-id': 'A' } });
      assert.equal(await first.text(), 'own #1');
      const hit = await fetch(url, { headers: { 'x-id': 'B' } });
      assert.equal(await hit.text(), 'own #1');
      assert.match(hit.headers.get('cache-status') ?? '', /^larder; hit/);
      assert.equal(hit.headers.get('x-request-id'), 'B');
      assert.equal(hit.headers.get('vary'), 'Accept-Language, Cookie');
      assert.match(hit.headers.get('cache-control') ?? '', /max-age=60/);
    });

    test('a streamed render does not hold back the next request for its URL', async () => {
      const url = `${await base()}/stream`;
      const first = await fetch(url);
      const reader = first.body!.getReader();
      const chunk = await reader.read();
      assert.equal(new TextDecoder().decode(chunk.value), 'first,');
      // The first stream is still open (the gate is shut): the second request gets its own.
      const second = await within(fetch(url), 5000, 'the second request for a streaming URL');
      assert.equal(second.status, 200);
      routes.gate.open();
      assert.equal(await second.text(), 'first,last');
      while (!(await reader.read()).done) {}
      assert.equal(routes.calls.get('stream'), 2);
    });

    test('factories work taken out of adapt()', () => {
      const adapted =
        name === 'express'
          ? expressAdapter.adapt(larder)
          : name === 'fastify'
            ? fastifyAdapter.adapt(larder)
            : honoAdapter.adapt(larder);
      const { siteCache, varyOnCookie } = adapted;
      assert.equal(typeof siteCache({ ttl: 60 }), 'function');
      assert.equal(typeof varyOnCookie(), 'function');
    });

    if (name !== 'hono') {
      test('under a trusted proxy, a page is keyed by the host the app sees (X-Forwarded-Host)', async () => {
        const url = `${await base()}/link`;
        const forwarded = await fetch(url, { headers: { 'x-forwarded-host': 'evil.example' } });
        assert.equal(await forwarded.text(), 'link to evil.example');
        const direct = await fetch(url);
        assert.equal(await direct.text(), 'link to 127.0.0.1');
      });
    }

    if (name === 'express') {
      test('a site cache does not store a route’s own hit for its longer ttl', async () => {
        const url = `${await base()}/site/price`;
        assert.equal(await (await fetch(url)).text(), 'price v1');
        const hit = await fetch(url);
        assert.equal(await hit.text(), 'price v1');
        assert.match(hit.headers.get('cache-status') ?? '', /^larder; hit/);
        await sleep(1200);
        // The route's page (1 s) expired; the site cache holds no copy of it.
        assert.equal(await (await fetch(url)).text(), 'price v2');
      });
    }

    if (name === 'hono') {
      test('a cookie that middleware around the route adds afterwards keeps the page out of the cache', async () => {
        const url = `${await base()}/late`;
        const first = await fetch(url);
        assert.equal(await first.text(), 'late #1');
        assert.equal(first.headers.get('set-cookie'), 'tok=1; Path=/');
        const second = await fetch(url);
        assert.equal(await second.text(), 'late #2');
        assert.equal(second.headers.get('set-cookie'), 'tok=2; Path=/');
      });
    }
  });
}
