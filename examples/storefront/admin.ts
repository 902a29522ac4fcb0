/**
 * The demo's staff side: the signed-in user `admin` (password `nimda`, as every demo
 * password is the user name backwards) may change prices from the catalog page. A change
 * is written to SQLite and then `invalidateTags(['catalog'])` drops, in one step, every
 * region's cached catalog query and every cached catalog page (both carry the tag) — in
 * every process, since the tag versions live in the shared cache. The same user is the one
 * `/ops` (larder's ops dashboard) lets in.
 */
import { type Request, type Response, Router } from 'express';
import type { Larder } from 'larder';
import { type Catalog, isRegion, REGIONS } from './catalog.js';
import { shopSession } from './visitor.js';

/** The demo's staff user: price changes and the ops dashboard at /ops. */
export const ADMIN_USER = 'admin';

/** True when the request's session is the staff user's. */
export async function isAdmin(req: Request): Promise<boolean> {
  return (await shopSession(req).userId()) === ADMIN_USER;
}

/** A price as the form sends it: up to 6 digits, optionally 1 or 2 decimals. */
const PRICE = /^\d{1,6}(\.\d{1,2})?$/;

/** POST /products/:sku/price (region, price): the staff user's price change. */
export function adminRoutes(larder: Larder, catalog: Catalog): Router {
  const router = Router();

  router.post('/products/:sku/price', async (req: Request, res: Response) => {
    if (!(await isAdmin(req))) {
      res
        .status(403)
        .type('text')
        .send(`Only the demo's staff user may change prices: sign in as ${ADMIN_USER}.`);
      return;
    }
    const region = req.body?.region;
    const price = String(req.body?.price ?? '').trim();
    if (!isRegion(region)) {
      res
        .status(400)
        .type('text')
        .send(`Unknown region ${JSON.stringify(region)}; use ${REGIONS.join(', ')}.`);
      return;
    }
    if (!PRICE.test(price) || Number(price) <= 0) {
      res
        .status(400)
        .type('text')
        .send(`A price is a positive amount like 12 or 12.50; got ${JSON.stringify(price)}.`);
      return;
    }
    const sku = String(req.params.sku);
    if (!catalog.setPrice(sku, region, Number(price))) {
      res
        .status(404)
        .type('text')
        .send(`No product ${JSON.stringify(sku)}.`);
      return;
    }
    await larder.cache().invalidateTags(['catalog']);
    res.redirect(303, `/products/${region}`);
  });

  return router;
}
