/**
 * `npm start`: runs the storefront on the embedded default (in-memory drivers), or on
 * Redis when REDIS_URL is set. Listens on PORT (default 8000).
 */
import { createLarder } from 'larder';
import { createApp, RATE_LIMITS } from './app.js';

const larder = createLarder({ rateLimits: RATE_LIMITS });
const app = createApp(larder);
// On Redis the order confirmations need a worker: one in this process unless
// STOREFRONT_WORKER=off (then run `larder worker --app examples/storefront/worker.ts`).
const worker =
  larder.tasks.driverKind === 'bullmq' && process.env.STOREFRONT_WORKER !== 'off'
    ? await larder.tasks.startWorker({ concurrency: 2 })
    : undefined;
const port = Number(process.env.PORT ?? 8000);
const server = app.listen(port, () => {
  const mode = larder.config.embedded ? 'in-memory drivers' : 'Redis';
  console.log(`storefront: http://localhost:${port}/ (${mode})`);
});

async function shutdown() {
  server.close();
  await worker?.close();
  await larder.close();
  process.exit(0);
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
