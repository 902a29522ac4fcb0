/**
 * Regression: a HEAD on an event-stream route (Express, Fastify and Hono all answer HEAD from
 * the GET route). It used to open a live stream: on Node the head of a bodiless response is
 * sent only by `end()`, so Express and Fastify never answered and the keep-alive socket stayed
 * stuck; Hono answered but dropped the body unread, so the stream held its feed subscription
 * and heartbeat for ever. Now a HEAD gets the stream's headers and nothing is left open.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { adapt as adaptExpress } from '../../src/adapters/express.js';
import { adapt as adaptFastify } from '../../src/adapters/fastify.js';
import { adapt as adaptHono } from '../../src/adapters/hono.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Served = { port: number; close: () => Promise<void> };

/** Each framework serving `GET /events` (web.events) and `GET /ping` on a free port. */
const frameworks: Record<string, (larder: Larder, channel: string) => Promise<Served>> = {
  async Express(larder, channel) {
    const web = adaptExpress(larder);
    const app = express();
    app.get('/events', web.events([channel], { heartbeat: '100ms' }));
    app.get('/ping', (_req, res) => {
      res.send('pong');
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    return {
      port: (server.address() as AddressInfo).port,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  },
  async Fastify(larder, channel) {
    const web = adaptFastify(larder);
    const app = Fastify();
    app.get('/events', web.events([channel], { heartbeat: '100ms' }));
    app.get('/ping', async () => 'pong');
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      port: (app.server.address() as AddressInfo).port,
      close: async () => {
        app.server.closeAllConnections();
        await app.close();
      },
    };
  },
  async Hono(larder, channel) {
    const web = adaptHono(larder);
    const app = new Hono();
    app.get('/events', web.events([channel], { heartbeat: '100ms' }));
    app.get('/ping', (c) => c.text('pong'));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    return {
      port: (server.address() as AddressInfo).port,
      close: () =>
        new Promise<void>((resolve) => {
          (server as unknown as { closeAllConnections(): void }).closeAllConnections();
          server.close(() => resolve());
        }),
    };
  },
};

/** One request on `agent`; `undefined` when no response head came within `ms`. */
function request(port: number, method: string, path: string, agent: http.Agent, ms = 2000) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string } | undefined>(
    (resolve) => {
      const timer = setTimeout(() => resolve(undefined), ms);
      const req = http.request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.once('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      });
      req.once('error', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
      req.end();
    },
  );
}

for (const target of ['memory', 'standalone'] as const) {
  for (const [framework, start] of Object.entries(frameworks)) {
    describe(`HEAD on web.events() with ${framework} (${target})`, () => {
      const channel = uniquePrefix('sse-head');
      let larder: Larder;
      let served: Served;
      before(async () => {
        larder = createLarder(
          { logger: false, redis: target === 'memory' ? false : redisUrlFor('standalone')! },
          {},
        );
        served = await start(larder, channel);
      });
      after(async () => {
        await served.close();
        await larder.close();
      });

      test('answers the stream headers with no body, holds no stream, and frees its keep-alive socket', async () => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        try {
          const head = await request(served.port, 'HEAD', '/events', agent);
          assert.ok(head, 'HEAD /events got no response');
          assert.equal(head.status, 200);
          assert.match(String(head.headers['content-type']), /^text\/event-stream/);
          assert.equal(head.body, '');
          // Past a heartbeat or two: nothing left open for the HEAD, while its socket is still connected.
          await sleep(300);
          assert.equal(larder.metrics.pubsub()?.sseClients ?? 0, 0, 'an event stream is still open');
          // The next request on the same keep-alive socket is answered.
          const ping = await request(served.port, 'GET', '/ping', agent);
          assert.equal(ping?.body, 'pong');
        } finally {
          agent.destroy();
        }
        // A GET still streams.
        const get = new AbortController();
        const res = await fetch(`http://127.0.0.1:${served.port}/events`, { signal: get.signal });
        assert.equal(res.status, 200);
        const reader = res.body!.getReader();
        const { value } = await reader.read();
        assert.ok(value && value.length > 0);
        assert.equal(larder.metrics.pubsub()?.sseClients, 1);
        get.abort();
        await reader.cancel().catch(() => {});
      });
    });
  }
}
