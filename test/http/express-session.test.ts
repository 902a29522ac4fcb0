/**
 * Sessions over real HTTP on Express 5: the shared suite (`session.suite.ts`) behind
 * `app.use(web.session())`, then what only Express has — `req.session` in a mounted Router with
 * `res.redirect(303)`, and a streamed response (`res.write` … `res.end`) whose write is done
 * before its last byte.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import express from 'express';
import { adapt } from '../../src/adapters/express.js';
import type { Session } from '../../src/session/session.js';
import { call, dataOf, type SessionReply, sessionSuite, sid } from './session.suite.js';

function render(res: express.Response, reply: SessionReply): void {
  if (reply.redirect !== undefined) res.redirect(302, reply.redirect);
  else if (reply.json !== undefined) res.status(reply.status ?? 200).json(reply.json);
  else
    res
      .status(reply.status ?? 200)
      .type('text/plain')
      .send(reply.text ?? '');
}

sessionSuite(
  'Express',
  async (larder, routes) => {
    const web = adapt(larder);
    const app = express();
    // A middleware that wraps `res.end` before `web.session()` (compression does): the session
    // must still be stored before that wrapper's output, and only on this app's /wrapped paths.
    app.use('/wrapped', (_req, res, next) => {
      const end = res.end;
      res.end = function wrappedEnd(this: express.Response, ...args: unknown[]) {
        res.setHeader('x-wrapped', '1');
        return (end as (...a: unknown[]) => express.Response).apply(this, args);
      } as typeof res.end;
      next();
    });
    app.use(web.session());
    for (const route of routes) {
      const handler: express.RequestHandler = async (req, res) => {
        const session: Session = req.session;
        render(res, await route.handle(session, new URL(req.originalUrl, 'http://x').searchParams));
      };
      const method = route.method === 'GET' ? 'get' : 'post';
      if (route.cachePage !== undefined) app[method](route.path, web.cachePage(route.cachePage), handler);
      else app[method](route.path, handler);
    }

    // Express's own: a Router mounted under /shop, and a streamed response.
    const shop = express.Router();
    shop.post('/cart', async (req, res) => {
      const cart = await req.session.get('cart', [] as unknown);
      await req.session.set('cart', [...(cart as string[]), String(req.query.sku)]);
      res.redirect(303, '/shop/cart');
    });
    shop.get('/cart', async (req, res) => {
      res.json(await req.session.get('cart', [] as unknown));
    });
    app.use('/shop', shop);
    app.post('/wrapped/set', async (req, res) => {
      await req.session.set('wrapped', String(req.query.v));
      res.redirect(303, '/get');
    });
    // A mounted sub-app: its req/res inherit from its own prototypes (which inherit Express's).
    const sub = express();
    sub.post('/set', async (req, res) => {
      await req.session.set('sub', String(req.query.v));
      res.type('text/plain').send('ok');
    });
    sub.get('/get', async (req, res) => {
      res.json({ sub: (await req.session.get('sub')) ?? null });
    });
    app.use('/sub', sub);
    app.post('/stream', async (req, res) => {
      await req.session.set('streamed', true);
      res.type('text/plain');
      res.write('part 1,');
      res.end(' part 2');
    });

    // Express logs unhandled errors unless NODE_ENV=test; /throw fails on purpose.
    app.use(((_error, _req, res, _next) => {
      res.status(500).type('text/plain').send('failed');
    }) as express.ErrorRequestHandler);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    return {
      base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
  {
    extra: (ctx) => {
      test('req.session in a mounted Router; res.redirect(303) after each change never outruns it', async () => {
        let cookie: string | undefined;
        for (const sku of ['sku-1', 'sku-2']) {
          const res = await call(ctx.base, `/shop/cart?sku=${sku}`, cookie === undefined ? {} : { cookie });
          assert.equal(res.status, 303);
          assert.equal(res.headers.get('location'), '/shop/cart');
          cookie ??= sid(res.cookie()!.value);
          const cart = await call(ctx.base, '/shop/cart', { method: 'GET', cookie });
          assert.deepEqual(cart.json(), sku === 'sku-1' ? ['sku-1'] : ['sku-1', 'sku-2']);
        }
      });

      test('behind a middleware that wrapped res.end first, the session is stored before that wrapper sends', async () => {
        const res = await call(ctx.base, '/wrapped/set?v=yes');
        assert.equal(res.status, 303);
        assert.equal(res.headers.get('x-wrapped'), '1', 'the outer wrapper sent the response');
        const id = res.cookie()?.value;
        assert.ok(id, 'the session cookie went out through the wrapper');
        assert.deepEqual((await dataOf(ctx.base, sid(id))).data, { wrapped: 'yes' });
      });

      test('req.session in a mounted sub-app (express()) is the same session', async () => {
        const res = await call(ctx.base, '/sub/set?v=7');
        assert.equal(res.status, 200);
        const id = res.cookie()?.value;
        assert.ok(id);
        const read = await call(ctx.base, '/sub/get', { method: 'GET', cookie: sid(id) });
        assert.deepEqual(read.json(), { sub: '7' });
        assert.deepEqual((await dataOf(ctx.base, sid(id))).data, { sub: '7' });
      });

      test('a streamed response carries the cookie on its headers and ends only once the session is stored', async () => {
        const res = await call(ctx.base, '/stream');
        assert.equal(res.status, 200);
        assert.equal(res.text, 'part 1, part 2');
        const id = res.cookie()?.value;
        assert.ok(id);
        assert.deepEqual((await dataOf(ctx.base, sid(id))).data, { streamed: true });
      });
    },
  },
);

test("the session cookie's Secure follows Express's req.secure: X-Forwarded-Proto counts only with 'trust proxy'", async () => {
  const { createLarder } = await import('../../src/larder.js');
  const saved = process.env.NODE_ENV;
  process.env.NODE_ENV = 'test';
  const larder = createLarder({ logger: false, redis: false }, {});
  const servers: Array<ReturnType<express.Express['listen']>> = [];
  try {
    const web = adapt(larder);
    const secureFor = async (trustProxy: boolean, proto: string | undefined) => {
      const app = express();
      app.set('trust proxy', trustProxy);
      app.use(web.session());
      app.post('/set', async (req, res) => {
        await req.session.set('n', 1);
        res.type('text/plain').send('ok');
      });
      const server = app.listen(0, '127.0.0.1');
      servers.push(server);
      await new Promise((resolve) => server.once('listening', resolve));
      const res = await call(
        `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        '/set',
        proto === undefined ? {} : { headers: { 'x-forwarded-proto': proto } },
      );
      assert.equal(res.status, 200);
      return res.cookie()!.attributes.secure === true;
    };
    assert.equal(await secureFor(false, undefined), false, 'plain HTTP');
    assert.equal(await secureFor(false, 'https'), false, 'the header is ignored without trust proxy');
    assert.equal(await secureFor(true, 'https'), true, 'a trusted proxy says HTTPS');
    assert.equal(await secureFor(true, 'http'), false, 'a trusted proxy says HTTP');
  } finally {
    for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
    await larder.close();
    if (saved === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = saved;
  }
});
