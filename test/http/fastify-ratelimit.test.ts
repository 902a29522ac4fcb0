/**
 * Rate limiting over real HTTP on Fastify 5: the shared suite (`ratelimit.suite.ts`) with
 * `app.register(web.session())`, per-route `{ onRequest: web.rateLimit(…) }` hooks and a
 * scope whose every route is limited by `addHook('onRequest', web.rateLimit(…))` — all
 * without `web.plugin`, which the rate-limit hook does not need — then what only Fastify has:
 * `app.inject()` without a socket, and the hook beside other hooks in a route's array.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify, { type FastifyRequest } from 'fastify';
import { adapt } from '../../src/adapters/fastify.js';
import type { Larder } from '../../src/larder.js';
import { frameworkOptions, type Probe, type RateLimitPlan, rateLimitSuite } from './ratelimit.suite.js';

const probe = (request: FastifyRequest): Probe => ({
  header: (name) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  },
});

async function serve(larder: Larder, trustProxy: boolean | string[], plan: RateLimitPlan) {
  const web = adapt(larder, { trustProxy });
  const app = Fastify();
  await app.register(web.session());
  app.post('/login', async (request) => {
    await request.session.login(String((request.query as { user: string }).user));
    return 'welcome';
  });
  for (const route of plan.routes) {
    app.get(
      route.path,
      { onRequest: web.rateLimit(route.spec, frameworkOptions(route.options, probe)) },
      async () => 'ok',
    );
  }
  await app.register(
    async (scope) => {
      scope.addHook('onRequest', web.rateLimit(plan.global.spec));
      for (const route of plan.global.routes) {
        scope.get(
          route.path,
          route.spec === undefined ? {} : { onRequest: web.rateLimit(route.spec) },
          async () => 'ok',
        );
      }
    },
    { prefix: plan.global.prefix },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { base: `http://127.0.0.1:${port}`, close: () => app.close() };
}

rateLimitSuite(
  'Fastify',
  {
    serve,
    factory: (larder) => {
      const web = adapt(larder);
      return (spec, options) => web.rateLimit(spec, options as never);
    },
  },
  (ctx) => {
    test('app.inject (no socket of its own) and a hook array with neverCache: limited, headers on the reply', async () => {
      const web = adapt(ctx.larder);
      const app = Fastify();
      await app.register(web.plugin);
      app.get(
        '/inject',
        {
          onRequest: [
            web.neverCache(),
            web.rateLimit({ name: `inject-${process.pid}-${Date.now()}`, limit: 1, window: 60 }),
          ],
        },
        async () => 'ok',
      );
      try {
        const first = await app.inject({ method: 'GET', url: '/inject' });
        assert.equal(first.statusCode, 200);
        assert.match(String(first.headers.ratelimit), /;r=0;t=\d+$/);
        assert.match(String(first.headers['cache-control']), /no-cache/);
        const second = await app.inject({ method: 'GET', url: '/inject' });
        assert.equal(second.statusCode, 429);
        assert.match(String(second.headers['content-type']), /^application\/problem\+json/);
        assert.equal(second.json().type, 'https://iana.org/assignments/http-problem-types#quota-exceeded');
      } finally {
        await app.close();
      }
    });
  },
);
