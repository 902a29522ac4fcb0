/**
 * The storefront's tasks for a separate worker process:
 *
 *   REDIS_URL=redis://127.0.0.1:6379 npx larder worker --app examples/storefront/worker.ts --concurrency 4
 *
 * (start the server with STOREFRONT_WORKER=off so only this process runs them).
 */
import { createLarder } from 'larder';
import { Catalog } from './catalog.js';
import { orderTasks } from './orders.js';

export const larder = createLarder();
// The same database file as the server (STOREFRONT_DB): the task records orders in it.
orderTasks(larder, Catalog.open());
