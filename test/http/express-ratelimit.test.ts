/**
 * Rate limiting over real HTTP on Express 5: the shared suite (`ratelimit.suite.ts`) with
 * `app.use(web.session())`, per-route `web.rateLimit(…)` middleware and a group behind
 * `app.use('/g', web.rateLimit(…))`, then what only Express has — the limit on a mounted
 * Router, and an error thrown by `key` reaching Express's error handler.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import express from 'express';
import { adapt } from '../../src/adapters/express.js';
import type { Larder } from '../../src/larder.js';
import { listen } from '../support/listen.js';
import { call, frameworkOptions, type Probe, type RateLimitPlan, rateLimitSuite } from './ratelimit.suite.js';

const probe = (req: express.Request): Probe => ({ header: (name) => req.get(name) });

function serve(larder: Larder, trustProxy: boolean | string[], plan: RateLimitPlan) {
  const web = adapt(larder, { trustProxy });
  const app = express();
  const ok: express.RequestHandler = (_req, res) => {
    res.type('text/plain').send('ok');
  };
  app.use(web.session());
  app.post('/login', async (req, res) => {
    await req.session.login(String(req.query.user));
    res.type('text/plain').send('welcome');
  });
  for (const route of plan.routes) {
    app.get(route.path, web.rateLimit(route.spec, frameworkOptions(route.options, probe)), ok);
  }
  app.use(plan.global.prefix, web.rateLimit(plan.global.spec));
  for (const route of plan.global.routes) {
    const path = plan.global.prefix + route.path;
    if (route.spec === undefined) app.get(path, ok);
    else app.get(path, web.rateLimit(route.spec), ok);
  }
  app.use(((error, _req, res, _next) => {
    res.status(500).type('text/plain').send(`failed: ${error.message}`);
  }) as express.ErrorRequestHandler);
  return listen(app);
}

rateLimitSuite(
  'Express',
  {
    serve,
    factory: (larder) => {
      const web = adapt(larder);
      return (spec, options) => web.rateLimit(spec, options as never);
    },
  },
  (ctx) => {
    test('the limit on a mounted Router counts only its routes; a key that throws reaches the error handler', async () => {
      const web = adapt(ctx.larder);
      const app = express();
      const router = express.Router();
      router.use(web.rateLimit({ name: `router-${process.pid}-${Date.now()}`, limit: 1, window: 60 }));
      router.get('/item', (_req, res) => {
        res.send('item');
      });
      app.use('/shop', router);
      app.get('/free', (_req, res) => {
        res.send('free');
      });
      app.get(
        '/broken',
        web.rateLimit(
          { name: `broken-${process.pid}`, limit: 1, window: 60 },
          {
            key: () => {
              throw new Error('no key today');
            },
          },
        ),
        (_req, res) => {
          res.send('unreachable');
        },
      );
      app.use(((error, _req, res, _next) => {
        res.status(500).type('text/plain').send(`failed: ${error.message}`);
      }) as express.ErrorRequestHandler);
      const served = await listen(app);
      try {
        assert.equal((await call(served.base, '/shop/item')).status, 200);
        assert.equal((await call(served.base, '/shop/item')).status, 429);
        assert.equal((await call(served.base, '/free')).status, 200);
        const broken = await call(served.base, '/broken');
        assert.equal(broken.status, 500);
        assert.equal(broken.text, 'failed: no key today');
      } finally {
        await served.close();
      }
    });
  },
);
