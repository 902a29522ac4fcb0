/** Event streams (SSE) over real HTTP on Fastify 5: the shared suite (`events.suite.ts`). */
import Fastify from 'fastify';
import { adapt } from '../../src/adapters/fastify.js';
import { eventsSuite } from './events.suite.js';

eventsSuite('Fastify', async (larder, channels) => {
  const web = adapt(larder);
  const app = Fastify();
  await app.register(web.plugin);
  app.get('/events', web.events([channels.a], { heartbeat: '200ms' }));
  app.get('/multi', web.events([channels.a, channels.b]));
  app.get(
    '/private',
    web.events([channels.a], {
      authorize: (request, chosen) => request.headers['x-token'] === 'let-me-in' && chosen[0] === channels.a,
    }),
  );
  app.get('/slow', web.events([channels.slow], { maxBufferedBytes: 64 * 1024, heartbeat: false }));
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    base,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
});
