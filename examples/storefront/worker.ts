/**
 * The storefront's tasks for a separate worker process:
 *
 *   REDIS_URL=redis://127.0.0.1:6379 npx larder worker --app examples/storefront/worker.ts --concurrency 4
 *
 * (start the server with STOREFRONT_WORKER=off so only this process runs them).
 */
import { createLarder } from 'larder';
import { orderTasks } from './orders.js';

export const larder = createLarder();
orderTasks(larder);
