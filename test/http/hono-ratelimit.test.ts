/**
 * Rate limiting over real HTTP on Hono 4 (@hono/node-server): the shared suite
 * (`ratelimit.suite.ts`) with `app.use(web.session())`, per-route `web.rateLimit(…)`
 * middleware and a group behind `app.use('/g/*', web.rateLimit(…))`, then what only Hono
 * has — `app.request()` in process, where there is no socket: the default key cannot be
 * made (a clear error), a `key` can.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { serve as listen, type ServerType } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { adapt } from '../../src/adapters/hono.js';
import type { Larder } from '../../src/larder.js';
import { frameworkOptions, type Probe, type RateLimitPlan, rateLimitSuite } from './ratelimit.suite.js';

const probe = (c: Context): Probe => ({ header: (name) => c.req.header(name) });

async function serve(larder: Larder, trustProxy: boolean | string[], plan: RateLimitPlan) {
  const web = adapt(larder, { trustProxy });
  const app = new Hono();
  app.onError((error, c) => c.text(`failed: ${error.message}`, 500));
  app.use(web.session());
  app.post('/login', async (c) => {
    await c.get('session').login(c.req.query('user') ?? 'nobody');
    return c.text('welcome');
  });
  for (const route of plan.routes) {
    app.get(route.path, web.rateLimit(route.spec, frameworkOptions(route.options, probe)), (c) =>
      c.text('ok'),
    );
  }
  app.use(`${plan.global.prefix}/*`, web.rateLimit(plan.global.spec));
  for (const route of plan.global.routes) {
    const path = plan.global.prefix + route.path;
    if (route.spec === undefined) app.get(path, (c) => c.text('ok'));
    else app.get(path, web.rateLimit(route.spec), (c) => c.text('ok'));
  }
  const server = await new Promise<ServerType>((resolve) => {
    const s = listen({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

rateLimitSuite(
  'Hono',
  {
    serve,
    factory: (larder) => {
      const web = adapt(larder);
      return (spec, options) => web.rateLimit(spec, options as never);
    },
  },
  (ctx) => {
    test('app.request() has no socket: the default key is refused with a clear error, a key works', async () => {
      const web = adapt(ctx.larder);
      const app = new Hono();
      app.onError((error, c) => c.text(error.message, 500));
      const name = `inproc-${process.pid}-${Date.now()}`;
      app.get('/default', web.rateLimit({ name: `${name}-d`, limit: 1, window: 60 }), (c) => c.text('ok'));
      app.get(
        '/keyed',
        web.rateLimit({ name: `${name}-k`, limit: 1, window: 60 }, { key: (c) => c.req.header('x-tenant') }),
        () => new Response('made by hand', { status: 201 }),
      );
      const unkeyed = await app.request('/default');
      assert.equal(unkeyed.status, 500);
      assert.match(await unkeyed.text(), /key function.*@hono\/node-server/);
      const first = await app.request('/keyed', { headers: { 'x-tenant': 'acme' } });
      assert.equal(first.status, 201);
      // The fields land on a Response the handler built itself, too.
      assert.match(first.headers.get('ratelimit') ?? '', /;r=0;t=\d+$/);
      const second = await app.request('/keyed', { headers: { 'x-tenant': 'acme' } });
      assert.equal(second.status, 429);
      assert.equal(second.headers.get('retry-after') !== null, true);
    });
  },
);
