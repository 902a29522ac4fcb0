/**
 * Sessions over real HTTP on Hono 4 (@hono/node-server): the shared suite (`session.suite.ts`)
 * behind `app.use(web.session())`, then what only Hono has — `c.get('session')` in a sub-app
 * mounted with `app.route`, a session middleware scoped to a path, and `app.request()` in
 * process, without a server.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { type ServerType, serve } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { adapt } from '../../src/adapters/hono.js';
import type { Session } from '../../src/session/session.js';
import {
  call,
  dataOf,
  parseSetCookie,
  type SessionReply,
  sessionSuite,
  sid,
  variesOnCookie,
} from './session.suite.js';

function render(c: Context, reply: SessionReply): Response {
  if (reply.redirect !== undefined) return c.redirect(reply.redirect, 302);
  const status = (reply.status ?? 200) as 200;
  if (reply.json !== undefined) return c.json(reply.json, status);
  return c.text(reply.text ?? '', status);
}

sessionSuite(
  'Hono',
  async (larder, routes) => {
    const web = adapt(larder);
    const app = new Hono();
    // Hono's default handler logs the error; /throw fails on purpose.
    app.onError((_error, c) => c.text('failed', 500));
    app.use(web.session());
    for (const route of routes) {
      const handler = async (c: Context) => {
        const session: Session = c.get('session');
        return render(c, await route.handle(session, new URL(c.req.url).searchParams));
      };
      if (route.cachePage !== undefined)
        app.on(route.method, route.path, web.cachePage(route.cachePage), handler);
      else app.on(route.method, route.path, handler);
    }
    // Hono's own: a sub-app mounted with app.route.
    const sub = new Hono();
    sub.post('/visit', async (c) => c.json({ visits: await c.get('session').incr('visits') }));
    app.route('/sub', sub);
    const server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    return {
      base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
  {
    extra: (ctx) => {
      test("c.get('session') reaches a sub-app mounted with app.route", async () => {
        const first = await call(ctx.base, '/sub/visit');
        assert.deepEqual(first.json(), { visits: 1 });
        const cookie = sid(first.cookie()!.value);
        const second = await call(ctx.base, '/sub/visit', { cookie });
        assert.deepEqual(second.json(), { visits: 2 });
        assert.deepEqual(second.cookies, []);
        assert.deepEqual((await dataOf(ctx.base, cookie)).data, { visits: 2 });
      });

      test("a session middleware scoped to a path; app.request() in process shares the larder's store", async () => {
        const web = adapt(ctx.larder);
        const app = new Hono();
        app.use('/account/*', web.session());
        app.post('/account/set', async (c) => {
          await c.get('session').set('via', 'app.request');
          return c.text('ok');
        });
        app.get('/public', (c) => c.text(c.get('session') === undefined ? 'no session' : 'session'));
        const set = await app.request('/account/set', { method: 'POST' });
        assert.equal(set.status, 200);
        assert.ok(variesOnCookie(set.headers));
        const cookie = parseSetCookie(set.headers.getSetCookie()[0]);
        assert.equal(cookie.name, 'sessionid');
        assert.deepEqual((await dataOf(ctx.base, sid(cookie.value))).data, { via: 'app.request' });
        const outside = await app.request('/public', { headers: { cookie: sid(cookie.value) } });
        assert.equal(await outside.text(), 'no session');
        assert.deepEqual(outside.headers.getSetCookie(), []);
        assert.equal(variesOnCookie(outside.headers), false);
      });
    },
  },
);
