/**
 * Regression (review finding 5): a `RateLimitedError` thrown by `limiter.hit()` inside a route
 * reaches HTTP as a 429 with `Retry-After` on Express 5, Fastify 5 and Hono 4, with each
 * framework's own error handling: the error carries `headers` (the `http-errors` convention,
 * which Express's final handler and Fastify's default error handler send) and `getResponse()`
 * (Hono's `HTTPException` convention), and its problem details carry `retryAfter`. Before,
 * Express sent a 429 HTML page with no `Retry-After`, and `toProblem()` dropped `retryAfter`.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { type ServerType, serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { adapt as adaptExpress } from '../../src/adapters/express.js';
import { adapt as adaptFastify } from '../../src/adapters/fastify.js';
import { adapt as adaptHono } from '../../src/adapters/hono.js';
import { RateLimitedError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { listen } from '../support/listen.js';

/** A Larder in memory and a limiter that allows one search a minute. */
function searchLimit(): { larder: Larder; hit: () => Promise<unknown> } {
  const larder = createLarder({ redis: false, logger: false }, {});
  const search = larder.rateLimiter({ name: 'search', limit: 1, window: 60 });
  return { larder, hit: () => search.hit('user:1') };
}

/** Two GETs of `url`: the first passes, the second is the refused one, returned. */
async function secondOf(url: string): Promise<Response> {
  const first = await fetch(url);
  assert.equal(first.status, 200);
  await first.arrayBuffer();
  return fetch(url);
}

/** A 429 whose `Retry-After` is the window's rest, in whole seconds. */
function assertRetryAfter(response: Response): number {
  assert.equal(response.status, 429);
  const retry = Number(response.headers.get('retry-after'));
  assert.ok(
    Number.isInteger(retry) && retry >= 1 && retry <= 60,
    `Retry-After: ${response.headers.get('retry-after')}`,
  );
  return retry;
}

describe('RateLimitedError from hit() in a route', () => {
  test('the error renders itself: headers, toProblem().retryAfter, getResponse()', async () => {
    const error = new RateLimitedError("Rate limit 'search' exceeded; retry in 42 s.", 41.2);
    assert.deepEqual(error.headers, { 'retry-after': '42' });
    assert.equal(error.toProblem().retryAfter, 42);
    assert.equal(error.toProblem().status, 429);
    const response = error.getResponse();
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '42');
    assert.equal(response.headers.get('content-type'), 'application/problem+json');
    assert.deepEqual(await response.json(), error.toProblem());
    assert.equal(new RateLimitedError('soon', 0.004).headers['retry-after'], '1', 'at least 1 s');
  });

  test('Express, its own final handler: 429 with Retry-After', async () => {
    const { larder, hit } = searchLimit();
    const web = adaptExpress(larder);
    const app = express();
    app.set('env', 'test'); // the final handler logs every error's stack otherwise
    app.use(web.session());
    app.get('/s', async (_req, res) => {
      await hit();
      res.send('ok');
    });
    const served = await listen(app);
    try {
      const refused = await secondOf(`${served.base}/s`);
      assertRetryAfter(refused);
      await refused.arrayBuffer();
    } finally {
      await served.close();
      await larder.close();
    }
  });

  test('Express, the documented error middleware: problem+json with Retry-After', async () => {
    const { larder, hit } = searchLimit();
    const app = express();
    app.get('/s', async (_req, res) => {
      await hit();
      res.send('ok');
    });
    app.use(((error, _req, res, next) => {
      if (!(error instanceof RateLimitedError)) return next(error);
      res
        .status(429)
        .set(error.headers)
        .type('application/problem+json')
        .send(JSON.stringify(error.toProblem()));
    }) as express.ErrorRequestHandler);
    const served = await listen(app);
    try {
      const refused = await secondOf(`${served.base}/s`);
      const retry = assertRetryAfter(refused);
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const problem = (await refused.json()) as Record<string, unknown>;
      assert.deepEqual([problem.status, problem.code, problem.retryAfter], [429, 'E_RATE_LIMITED', retry]);
    } finally {
      await served.close();
      await larder.close();
    }
  });

  test('Fastify, its default error handler: 429 with Retry-After', async () => {
    const { larder, hit } = searchLimit();
    const web = adaptFastify(larder);
    const app = Fastify();
    await app.register(web.session());
    app.get('/s', async () => {
      await hit();
      return 'ok';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      const refused = await secondOf(`http://127.0.0.1:${port}/s`);
      assertRetryAfter(refused);
      const body = (await refused.json()) as Record<string, unknown>;
      assert.deepEqual([body.statusCode, body.code], [429, 'E_RATE_LIMITED']);
    } finally {
      await app.close();
      await larder.close();
    }
  });

  test('Fastify, the documented setErrorHandler: problem+json with Retry-After; other errors as before', async () => {
    const { larder, hit } = searchLimit();
    const app = Fastify();
    app.setErrorHandler((error, _request, reply) => {
      if (!(error instanceof RateLimitedError)) throw error;
      return reply.code(429).headers(error.headers).type('application/problem+json').send(error.toProblem());
    });
    app.get('/s', async () => {
      await hit();
      return 'ok';
    });
    app.get('/broken', async () => {
      throw new Error('broken');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      const refused = await secondOf(`http://127.0.0.1:${port}/s`);
      const retry = assertRetryAfter(refused);
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const problem = (await refused.json()) as Record<string, unknown>;
      assert.deepEqual([problem.status, problem.code, problem.retryAfter], [429, 'E_RATE_LIMITED', retry]);
      const broken = await fetch(`http://127.0.0.1:${port}/broken`);
      assert.equal(broken.status, 500);
      await broken.arrayBuffer();
    } finally {
      await app.close();
      await larder.close();
    }
  });

  test('Hono, its default error handler: problem+json with Retry-After', async () => {
    const { larder, hit } = searchLimit();
    const web = adaptHono(larder);
    const app = new Hono();
    app.use(web.session());
    app.get('/s', async (c) => {
      await hit();
      return c.text('ok');
    });
    const server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    try {
      const { port } = server.address() as AddressInfo;
      const refused = await secondOf(`http://127.0.0.1:${port}/s`);
      const retry = assertRetryAfter(refused);
      assert.equal(refused.headers.get('content-type'), 'application/problem+json');
      const problem = (await refused.json()) as Record<string, unknown>;
      assert.deepEqual([problem.status, problem.code, problem.retryAfter], [429, 'E_RATE_LIMITED', retry]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await larder.close();
    }
  });
});
