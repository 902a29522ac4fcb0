/**
 * Orders: checkout turns the cart into an order kept in the session and applies the
 * `confirm-order` task — Celery's "send the confirmation in the background, with retries".
 * The task records the confirmed order in SQLite and takes its units out of the region's
 * stock; the stock shows on the catalog, so it then drops the cached catalog (`catalog` tag).
 * The job id is derived from the order (`confirm-<order id>`), so a double-submitted
 * checkout or a retried request cannot send two confirmations, and the order page finds
 * the job again with `larder.tasks.result(id)`.
 *
 * Embedded (`npm start`), the task runs in this process (the eager driver); with
 * REDIS_URL it goes to BullMQ and a worker runs it: server.ts starts one in-process, or
 * run `larder worker --app examples/storefront/worker.ts` beside it (STOREFRONT_WORKER=off).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Request, Router } from 'express';
import type { Larder } from 'larder';
import type { adapt } from 'larder/express';
import type { Session } from 'larder/session';
import type { Task } from 'larder/tasks';
import type { Render } from './app.js';
import { cartLines, emptyCart } from './cart.js';
import type { Catalog, Product, Region } from './catalog.js';

/** An order as the session keeps it. */
export interface Order {
  id: string;
  /** The confirmation job's id. */
  job: string;
  placedAt: string;
  lines: { sku: string; name: string; quantity: number }[];
  total: string;
  currency: string;
}

/** What `confirm-order` gets and gives. */
export interface Confirmation {
  orderId: string;
  region: Region;
  /** The signed-in user id, or null. */
  customer: string | null;
  total: string;
  currency: string;
  lines: { sku: string; quantity: number }[];
}

/** The orders part of the session. */
type OrderSession = Session<{ orders: Order[] }>;

const orderSession = (req: Request) => req.session as unknown as OrderSession;

/** The task's name, for `larder.tasks.result(id, { task })`. */
export const CONFIRM_ORDER = 'confirm-order';

/**
 * Defines `confirm-order` on `larder` (once), recording orders in `catalog`. The "mail
 * server" is busy on every first attempt, so the order page shows a retry before the
 * confirmation lands — retries with backoff, visible. Recording is idempotent (keyed by the
 * order id), so a retry after a later failure never takes the stock twice.
 *
 * @example const confirm = orderTasks(larder, Catalog.open());
 */
export function orderTasks(
  larder: Larder,
  catalog: Catalog,
): Task<Confirmation, { confirmedAt: string; attempts: number }> {
  if (larder.tasks.names().includes(CONFIRM_ORDER)) return larder.tasks.get(CONFIRM_ORDER);
  return larder.tasks.define(
    CONFIRM_ORDER,
    async (order: Confirmation, ctx) => {
      await sleep(200); // talking to the mail server
      if (ctx.attempt === 1) throw new Error(`mail server busy while confirming ${order.orderId}; retrying`);
      const confirmedAt = new Date().toISOString();
      const { orderId: id, lines, ...rest } = order;
      // The stock changed: the cached query results and pages carrying it go together.
      if (catalog.recordOrder({ id, lines, ...rest }, confirmedAt))
        await larder.cache().invalidateTags(['catalog']);
      return { confirmedAt, attempts: ctx.attempt };
    },
    { retries: 3, backoff: { type: 'exponential', delay: '500ms' }, timeLimit: '10s' },
  );
}

/** The live feed every page follows (`/events`), and the event a placed order sends. */
export const ORDERS_CHANNEL = 'orders';

/** The weekly boards checkout feeds (`/boards` shows them). */
export const boards = (larder: Larder) => ({
  bestSellers: larder.leaderboard('best-sellers', { window: 'weekly' }),
  topCustomers: larder.leaderboard('top-customers', { window: 'weekly' }),
});

/**
 * After checkout: a "just bought" event to every open page of every process (kept in a
 * Redis Stream, so a browser that reconnects gets what it missed), and the week's boards:
 * units per product, and items bought per signed-in customer.
 */
async function announce(larder: Larder, order: Order, session: OrderSession): Promise<void> {
  await larder.pubsub.sendEvent(
    ORDERS_CHANNEL,
    { names: order.lines.map((l) => l.name), at: order.placedAt },
    { event: 'bought' },
  );
  const { bestSellers, topCustomers } = boards(larder);
  for (const line of order.lines) await bestSellers.incr(line.sku, line.quantity);
  const customer = await session.userId();
  if (customer)
    await topCustomers.incr(
      String(customer),
      order.lines.reduce((n, l) => n + l.quantity, 0),
    );
}

/** POST /checkout and the order pages. */
export function orderRoutes(
  larder: Larder,
  web: ReturnType<typeof adapt>,
  render: Render,
  catalog: Catalog,
  productsFor: (req: Request) => Promise<{ products: Product[]; region: Region }>,
): Router {
  const confirm = orderTasks(larder, catalog);
  const router = Router();

  router.post('/checkout', async (req, res) => {
    const { products, region } = await productsFor(req);
    const { lines, total, currency } = await cartLines(req, products);
    if (lines.length === 0) {
      res.redirect(303, '/cart');
      return;
    }
    const id = randomUUID().slice(0, 8);
    const order: Order = {
      id,
      job: `confirm-${id}`,
      placedAt: new Date().toISOString(),
      lines: lines.map(({ sku, name, quantity }) => ({ sku, name, quantity })),
      total,
      currency,
    };
    const session = orderSession(req);
    await session.set('orders', [...(await session.get('orders', [])), order]);
    await emptyCart(req);
    const customer = (await session.userId()) ?? null;
    const units = order.lines.map(({ sku, quantity }) => ({ sku, quantity }));
    await confirm
      .applyAsync(
        { orderId: id, region, customer, total, currency, lines: units },
        { jobId: order.job, expires: '1h' },
      )
      .enqueued();
    await announce(larder, order, session);
    res.redirect(303, `/orders/${id}`);
  });

  router.get('/orders/:id', web.neverCache(), async (req, res) => {
    const order = (await orderSession(req).get('orders', [])).find((o) => o.id === req.params.id);
    if (!order) {
      res.status(404).type('text').send('No such order in your session.');
      return;
    }
    const info = await larder.tasks.result(order.job, { task: CONFIRM_ORDER }).info();
    const done = ['success', 'failure', 'revoked'].includes(info.status);
    await render(req, res, 'order.njk', {
      title: `Order ${order.id}`,
      order,
      status: info.status,
      attempts: info.attempts,
      confirmedAt: (info.result as { confirmedAt?: string } | undefined)?.confirmedAt ?? '',
      failure: info.failure?.message ?? '',
      done,
      driver: larder.tasks.driverKind,
    });
  });

  return router;
}
