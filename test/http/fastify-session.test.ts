/**
 * Sessions over real HTTP on Fastify 5: the shared suite (`session.suite.ts`) behind
 * `await app.register(web.session())` (and `web.plugin`, for the cached route), then what only
 * Fastify has — a typed `request.session` in an encapsulated child plugin, `app.inject()`
 * without a socket, and the session plugin alone, without `web.plugin`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify, { type FastifyReply } from 'fastify';
import { adapt } from '../../src/adapters/fastify.js';
import type { Session } from '../../src/session/session.js';
import { call, dataOf, parseSetCookie, type SessionReply, sessionSuite, sid } from './session.suite.js';

function render(reply: FastifyReply, out: SessionReply) {
  if (out.redirect !== undefined) return reply.redirect(out.redirect, 302);
  reply.code(out.status ?? 200);
  if (out.json !== undefined) return reply.send(out.json);
  return reply.type('text/plain').send(out.text ?? '');
}

sessionSuite(
  'Fastify',
  async (larder, routes) => {
    const web = adapt(larder);
    const app = Fastify();
    await app.register(web.plugin);
    await app.register(web.session());
    for (const route of routes) {
      app.route({
        method: route.method,
        url: route.path,
        ...(route.cachePage !== undefined ? { onRequest: web.cachePage(route.cachePage) } : {}),
        handler: async (request, reply) => {
          const session: Session = request.session;
          return render(reply, await route.handle(session, new URL(request.url, 'http://x').searchParams));
        },
      });
    }
    // Fastify's own: a route in an encapsulated child context still gets the session.
    await app.register(
      async (child) => {
        child.post('/visit', async (request) => ({ visits: await request.session.incr('visits') }));
      },
      { prefix: '/child' },
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    return { base: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
  {
    extra: (ctx) => {
      test('request.session reaches a route in an encapsulated child plugin', async () => {
        const first = await call(ctx.base, '/child/visit');
        assert.deepEqual(first.json(), { visits: 1 });
        const cookie = sid(first.cookie()!.value);
        const second = await call(ctx.base, '/child/visit', { cookie });
        assert.deepEqual(second.json(), { visits: 2 });
        assert.deepEqual(second.cookies, [], 'the same id: no new cookie');
        assert.deepEqual((await dataOf(ctx.base, cookie)).data, { visits: 2 });
      });

      test('the session plugin alone (no web.plugin) works through app.inject, without a socket', async () => {
        const web = adapt(ctx.larder);
        const app = Fastify();
        await app.register(web.session());
        app.post('/set', async (request) => {
          await request.session.set('via', 'inject');
          return 'ok';
        });
        app.get('/get', async (request) => ({ via: (await request.session.get('via')) ?? null }));
        try {
          const set = await app.inject({ method: 'POST', url: '/set' });
          assert.equal(set.statusCode, 200);
          assert.match(String(set.headers.vary), /Cookie/);
          const header = set.headers['set-cookie'];
          const cookie = parseSetCookie(String(Array.isArray(header) ? header[0] : header));
          assert.equal(cookie.name, 'sessionid');
          const get = await app.inject({
            method: 'GET',
            url: '/get',
            headers: { cookie: sid(cookie.value) },
          });
          assert.deepEqual(get.json(), { via: 'inject' });
          // The same store as the HTTP app on this larder.
          assert.deepEqual((await dataOf(ctx.base, sid(cookie.value))).data, { via: 'inject' });
        } finally {
          await app.close();
        }
      });
    },
  },
);
