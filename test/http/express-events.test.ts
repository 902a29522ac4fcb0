/** Event streams (SSE) over real HTTP on Express 5: the shared suite (`events.suite.ts`). */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { adapt } from '../../src/adapters/express.js';
import { eventsSuite } from './events.suite.js';

eventsSuite('Express', async (larder, channels) => {
  const web = adapt(larder);
  const app = express();
  app.get('/events', web.events([channels.a], { heartbeat: '200ms' }));
  app.get('/multi', web.events([channels.a, channels.b]));
  app.get(
    '/private',
    web.events([channels.a], {
      authorize: (req, chosen) => req.get('x-token') === 'let-me-in' && chosen[0] === channels.a,
    }),
  );
  app.get('/slow', web.events([channels.slow], { maxBufferedBytes: 64 * 1024, heartbeat: false }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
});
