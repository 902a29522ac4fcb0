/**
 * Regression (found by the storefront's cluster test): a middleware that saves `res.writeHead`
 * before larder's hook was installed — on-headers and response-time do, on every request —
 * kept the unhooked function for the process's first request, and that response lost the
 * session's Set-Cookie. This file runs in a process of its own (node --test), so its first
 * request is the process's first.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import express from 'express';
import { adapt } from '../../src/adapters/express.js';
import { createLarder } from '../../src/larder.js';

test("the process's first response carries the session cookie behind a writeHead-wrapping middleware", async () => {
  const larder = createLarder({ logger: false }, {});
  const web = adapt(larder);
  const app = express();
  app.use((_req, res, next) => {
    const writeHead = res.writeHead;
    res.writeHead = function timed(this: typeof res, ...args: unknown[]) {
      res.setHeader('x-timed', '1');
      return (writeHead as (...a: unknown[]) => typeof res).apply(this, args);
    } as typeof res.writeHead;
    next();
  });
  app.use(web.session());
  app.get('/', async (req, res) => {
    await req.session.set('visits', 1);
    res.send('ok');
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const first = await fetch(base);
    assert.equal(await first.text(), 'ok');
    assert.equal(first.headers.get('x-timed'), '1', 'the wrapping middleware ran');
    assert.match(
      first.headers.get('set-cookie') ?? '',
      /^sessionid=/,
      'the first response sets the session cookie',
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await larder.close();
  }
});
