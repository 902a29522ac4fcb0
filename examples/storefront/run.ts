/**
 * Starts the storefront in this process: the catalog database, a Larder (in-memory drivers,
 * or Redis with REDIS_URL), the app, and — on Redis — a task worker for order confirmations.
 * server.ts runs it for `npm start`; cluster.ts runs it in each worker process.
 */
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLarder, type Larder } from 'larder';
import { createApp, RATE_LIMITS } from './app.js';
import { Catalog } from './catalog.js';
import { databasePath } from './database.js';

/** A running storefront. */
export interface Storefront {
  /** `http://localhost:PORT/`. */
  url: string;
  larder: Larder;
  catalog: Catalog;
  /** One line per active backend (`larder.backends()`, the catalog, the task worker). */
  backends: string[];
  /** Stops taking requests, ends open connections (SSE), then closes the worker, Larder and database. */
  close(): Promise<void>;
}

/**
 * Starts the storefront on PORT (default 8000; 0 picks a free port).
 *
 * @example
 * const shop = await startStorefront();
 * console.log(shop.url, shop.backends.join('\n'));
 * await shop.close();
 */
export async function startStorefront(env: NodeJS.ProcessEnv = process.env): Promise<Storefront> {
  const file = databasePath(env);
  const catalog = Catalog.open(file);
  const larder = createLarder({ rateLimits: RATE_LIMITS });
  const app = createApp(larder, { catalog });
  // On Redis the order confirmations need a worker: one in this process unless
  // STOREFRONT_WORKER=off (then run `larder worker --app examples/storefront/worker.ts`).
  const inProcess = larder.tasks.driverKind === 'bullmq' && env.STOREFRONT_WORKER !== 'off';
  const worker = inProcess ? await larder.tasks.startWorker({ concurrency: 2 }) : undefined;
  const server = app.listen(Number(env.PORT ?? 8000));
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  const backends = Object.entries(larder.backends());
  if (larder.tasks.driverKind === 'bullmq') {
    backends.push(['task worker', worker ? 'in this process' : 'off here (STOREFRONT_WORKER=off)']);
  }
  const relative = path.relative(process.cwd(), file);
  const shown =
    file === ':memory:'
      ? ':memory: (this process only)'
      : relative.startsWith('..') || path.isAbsolute(relative)
        ? path.resolve(file)
        : relative;
  backends.push(['catalog', `sqlite ${shown}`]);
  const width = Math.max(...backends.map(([name]) => name.length));

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // Requests in flight get a second to finish; event streams never do, so they are cut.
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeIdleConnections();
      await Promise.race([closed, sleep(1000)]);
      server.closeAllConnections();
      await closed;
      await worker?.close();
      await larder.close();
      catalog.close();
    })();
    return closing;
  };
  return {
    url: `http://localhost:${port}/`,
    larder,
    catalog,
    backends: backends.map(([name, backend]) => `  ${name.padEnd(width)}  ${backend}`),
    close,
  };
}
