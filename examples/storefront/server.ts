/**
 * `npm start`: runs the storefront on the embedded default (in-memory drivers), or on
 * Redis when REDIS_URL is set, and prints its address and the backend of each capability.
 * Listens on PORT (default 8000). Also what each process of `npm run start:cluster` runs
 * (cluster.ts): there the primary prints the banner once, for all of them.
 */
import cluster from 'node:cluster';
import { startStorefront } from './run.js';

const shop = await startStorefront();
const mode = shop.larder.config.embedded ? 'in-memory drivers, one process' : 'Redis';
if (cluster.isWorker) {
  process.send?.({ storefront: 'ready', url: shop.url, backends: shop.backends });
} else {
  console.log(`storefront: ${shop.url} (${mode})\n${shop.backends.join('\n')}`);
}

let closing = false;
async function shutdown(signal: NodeJS.Signals) {
  // The same signal again while closing (a second Ctrl-C): stop at once.
  process.once(signal, () => process.exit(1));
  if (closing) return;
  closing = true;
  await shop.close();
  process.exit(0);
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
