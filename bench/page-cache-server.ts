/**
 * @module bench/page-cache-server — the server side of `bench/page-cache.ts`, run in its own
 * process so the load generator does not share its event loop: one framework (argv[2]:
 * express | fastify | hono) with these routes — `/hello` (the framework's hello world),
 * `/hello-again` (the same hello world, the bench's control: its ratio to `/hello` is the noise),
 * `/cached` (larder's page cache on Redis, always a hit after the first request),
 * `/cached-local` (the page cache on an in-process memory cache: larder's own overhead, no
 * round trip), `/cached-tiered` (the page cache on the tiered cache: Redis behind an
 * in-process tier of decoded pages, so a hit makes no round trip) and `/origin` (the same
 * 20 ms origin uncached), plus two references without larder: `/raw-get`, the framework's
 * hello world with one raw node-redis GET per request, and `/hello-shape`, hello world through
 * one middleware that does nothing, with the five headers a hit carries, and `/shared-get-shape`,
 * the same after one raw GET that concurrent requests share (they join the one in flight, as
 * larder's hits do): the least a Redis hit can cost (on Hono from a lone handler, as Hono's
 * hits are made). On Hono the cached
 * routes wrap their handler (`cachePage(ttl)(handler)`) and `/cached-middleware` is the
 * middleware form on the memory cache; `/sync-shape` and `/async-shape` (Hono only) answer
 * with a hit's headers from a lone handler, in the same turn or after an `await`.
 * Prints `PORT <n>` when listening.
 */
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { type Context, Hono } from 'hono';
import { createLarder } from 'larder';
import { adapt as adaptExpress } from 'larder/express';
import { adapt as adaptFastify } from 'larder/fastify';
import { adapt as adaptHono } from 'larder/hono';
import { createClient } from 'redis';

const framework = process.argv[2];
const redis = process.env.BENCH_REDIS_URL;
if (!redis) throw new Error('BENCH_REDIS_URL is not set');
const larder = createLarder({
  redis,
  logger: false,
  caches: {
    default: { backend: 'redis', keyPrefix: 'bench-pages' },
    local: { backend: 'memory' },
    tiered: { backend: 'tiered', keyPrefix: 'bench-pages-tiered' },
  },
});
const ORIGIN_MS = 20;
// The same body as /hello, so a hit and hello world differ only in how they are produced
// (the load generator shares this machine: bigger bodies would measure its parser too).
const page = 'hello world';
const origin = () => new Promise((r) => setTimeout(r, ORIGIN_MS)).then(() => page);
// The raw-GET reference: node-redis v6 with its per-command timeout off (DESIGN §7), RESP3
// as larder's Redis cache talks; the key holds the same body.
const RAW_KEY = 'bench-raw-page';
const raw = createClient({ url: redis, RESP: 3, commandOptions: { timeout: 0 } });
raw.on('error', (error) => console.error(`bench page-cache server: ${error}`));
await raw.connect();
await raw.set(RAW_KEY, page);
const rawGet = () => raw.get(RAW_KEY) as Promise<string>;
// `/shared-get-shape`: the least a Redis hit costs — one raw GET that concurrent requests share
// (a request joins the one in flight, as larder's hits do), then a hit's headers.
let getInFlight: Promise<string> | undefined;
const sharedGet = () =>
  (getInFlight ??= rawGet().finally(() => {
    getInFlight = undefined;
  }));
// `/hello-shape`: hello world through one middleware that does nothing, answering with the five
// headers a hit carries (fixed values of the same length): what a page cache made as a
// middleware costs at the least, before it looks anything up.
const HIT_HEADERS = {
  age: '0',
  'cache-control': 'max-age=3600',
  'cache-status': 'larder; hit; ttl=3600',
  etag: 'W/"b-Kq5sNclPz7QV2-lfQIuc6R7oRu0"',
  expires: 'Fri, 27 Nov 2026 02:36:24 GMT',
};

async function start(): Promise<number> {
  if (framework === 'express') {
    const web = adaptExpress(larder);
    const app = express();
    const hello = (_req: express.Request, res: express.Response) => {
      res.send('hello world');
    };
    app.get('/hello', hello);
    app.get('/hello-again', hello);
    app.get('/cached', web.cachePage(3600), async (_req, res) => {
      res.type('html').send(await origin());
    });
    app.get('/cached-local', web.cachePage(3600, { cache: 'local' }), async (_req, res) => {
      res.type('html').send(await origin());
    });
    app.get('/cached-tiered', web.cachePage(3600, { cache: 'tiered' }), async (_req, res) => {
      res.type('html').send(await origin());
    });
    app.get('/origin', async (_req, res) => {
      res.type('html').send(await origin());
    });
    app.get('/raw-get', async (_req, res) => {
      res.send(await rawGet());
    });
    app.get(
      '/hello-shape',
      (_req, _res, next) => next(),
      (_req, res) => {
        res.set(HIT_HEADERS).send('hello world');
      },
    );
    app.get(
      '/shared-get-shape',
      (_req, _res, next) => next(),
      async (_req, res) => {
        await sharedGet();
        res.set(HIT_HEADERS).send('hello world');
      },
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    return (server.address() as { port: number }).port;
  }
  if (framework === 'fastify') {
    const web = adaptFastify(larder);
    const app = Fastify();
    await app.register(web.plugin);
    app.get('/hello', async () => 'hello world');
    app.get('/hello-again', async () => 'hello world');
    app.get('/cached', { onRequest: web.cachePage(3600) }, async (_req, reply) =>
      reply.type('text/html').send(await origin()),
    );
    app.get('/cached-local', { onRequest: web.cachePage(3600, { cache: 'local' }) }, async (_req, reply) =>
      reply.type('text/html').send(await origin()),
    );
    app.get('/cached-tiered', { onRequest: web.cachePage(3600, { cache: 'tiered' }) }, async (_req, reply) =>
      reply.type('text/html').send(await origin()),
    );
    app.get('/origin', async (_req, reply) => reply.type('text/html').send(await origin()));
    app.get('/raw-get', () => rawGet());
    app.get('/hello-shape', { onRequest: (_req, _reply, done) => done() }, async (_req, reply) =>
      reply.headers(HIT_HEADERS).send('hello world'),
    );
    app.get('/shared-get-shape', { onRequest: (_req, _reply, done) => done() }, async (_req, reply) => {
      await sharedGet();
      return reply.headers(HIT_HEADERS).send('hello world');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return (app.server.address() as { port: number }).port;
  }
  if (framework === 'hono') {
    const web = adaptHono(larder);
    const app = new Hono();
    app.get('/hello', (c) => c.text('hello world'));
    app.get('/hello-again', (c) => c.text('hello world'));
    // Hono's faster form, the route's handler wrapped (docs/http.md, "Hono: wrap the handler");
    // `/cached-middleware` is the middleware form on the memory cache, for comparison.
    const render = async (c: Context) => c.html(await origin());
    app.get('/cached', web.cachePage(3600)(render));
    app.get('/cached-local', web.cachePage(3600, { cache: 'local' })(render));
    app.get('/cached-tiered', web.cachePage(3600, { cache: 'tiered' })(render));
    app.get('/cached-middleware', web.cachePage(3600, { cache: 'local' }), render);
    app.get('/origin', async (c) => c.html(await origin()));
    app.get('/raw-get', async (c) => c.text(await rawGet()));
    app.get(
      '/hello-shape',
      async (_c, next) => {
        await next();
      },
      (c) => c.text('hello world', 200, HIT_HEADERS),
    );
    // A lone handler answering with a hit's headers, in the same turn and after one `await`:
    // what a wrapped hit held in process, and one that waits for Redis, can reach at best.
    const shaped = { 'content-type': 'text/html; charset=UTF-8', ...HIT_HEADERS };
    app.get('/sync-shape', () => new Response('hello world', { status: 200, headers: shaped }));
    app.get('/async-shape', async () => {
      await null;
      return new Response('hello world', { status: 200, headers: shaped });
    });
    // On Hono, the Redis hit's reach is a lone handler too, as its hits wrap the handler.
    app.get('/shared-get-shape', async () => {
      await sharedGet();
      return new Response('hello world', { status: 200, headers: shaped });
    });
    return new Promise((resolve) => {
      serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
    });
  }
  throw new Error(`unknown framework ${framework}: use express, fastify or hono`);
}

const port = await start();
process.stdout.write(`PORT ${port}\n`);
// The bench asks for this process's CPU time around each load (bench/page-cache.ts).
process.on('message', () => process.send?.(process.cpuUsage()));
process.on('SIGTERM', () => {
  Promise.allSettled([larder.close(), raw.close()]).finally(() => process.exit(0));
});
