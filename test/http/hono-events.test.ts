/** Event streams (SSE) over real HTTP on Hono 4 (@hono/node-server): the shared suite (`events.suite.ts`). */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { adapt } from '../../src/adapters/hono.js';
import { eventsSuite } from './events.suite.js';

eventsSuite('Hono', async (larder, channels) => {
  const web = adapt(larder);
  const app = new Hono();
  app.get('/events', web.events([channels.a], { heartbeat: '200ms' }));
  app.get('/multi', web.events([channels.a, channels.b]));
  app.get(
    '/private',
    web.events([channels.a], {
      authorize: (c, chosen) => c.req.header('x-token') === 'let-me-in' && chosen[0] === channels.a,
    }),
  );
  app.get('/slow', web.events([channels.slow], { maxBufferedBytes: 64 * 1024, heartbeat: false }));
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections(): void }).closeAllConnections();
        server.close(() => resolve());
      }),
  };
});
