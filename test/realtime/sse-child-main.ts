/**
 * @module One app process for the cross-process event-stream tests: a Larder on
 * `LARDER_SSE_URL`, serving `GET /events?` (`web.events([LARDER_SSE_CHANNEL])`) through the
 * adapter named in `LARDER_SSE_ADAPTER` on a free loopback port. Driven over IPC:
 * `{ id, op: 'send', data }` → `{ id, value: eventId }`; `{ id, op: 'close' }`.
 */
import type { AddressInfo } from 'node:net';
import { createLarder } from '../../src/larder.js';

const url = process.env.LARDER_SSE_URL!;
const channel = process.env.LARDER_SSE_CHANNEL!;
const adapter = process.env.LARDER_SSE_ADAPTER ?? 'express';
const larder = createLarder({ logger: false, redis: url }, {});

async function serve(): Promise<{ port: number; close: () => Promise<void> }> {
  if (adapter === 'fastify') {
    const { default: Fastify } = await import('fastify');
    const { adapt } = await import('../../src/adapters/fastify.js');
    const web = adapt(larder);
    const app = Fastify();
    await app.register(web.plugin);
    app.get('/events', web.events([channel]));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      port: (app.server.address() as AddressInfo).port,
      close: async () => {
        app.server.closeAllConnections();
        await app.close();
      },
    };
  }
  if (adapter === 'hono') {
    const { Hono } = await import('hono');
    const { serve: listen } = await import('@hono/node-server');
    const { adapt } = await import('../../src/adapters/hono.js');
    const web = adapt(larder);
    const app = new Hono();
    app.get('/events', web.events([channel]));
    const server = listen({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    return {
      port: (server.address() as AddressInfo).port,
      close: () =>
        new Promise((resolve) => {
          (server as unknown as { closeAllConnections(): void }).closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }
  const { default: express } = await import('express');
  const { adapt } = await import('../../src/adapters/express.js');
  const web = adapt(larder);
  const app = express();
  app.get('/events', web.events([channel]));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const server = await serve();
process.on('message', async (message: { id: number; op: string; data?: unknown }) => {
  try {
    if (message.op === 'send') {
      const value = await larder.pubsub.sendEvent(channel, message.data);
      process.send!({ id: message.id, ok: true, value });
    } else if (message.op === 'close') {
      await server.close();
      await larder.close();
      process.send!({ id: message.id, ok: true });
      process.disconnect();
    }
  } catch (error) {
    process.send!({ id: message.id, ok: false, error: String(error) });
  }
});
process.send!({ ready: true, port: server.port });
