/**
 * The cart, kept in the session: `cart` lists the product ids in the order first added
 * (`session.get('cart', [])` / `set`), and `qty:<sku>` counts each with `session.incr`.
 * An anonymous visitor gets a session on the first add; signing in keeps the cart.
 * The counters are atomic (one HINCRBY on Redis); the `cart` list is read, changed and
 * written back, so two different products added in the same instant can race on it.
 */
import { type Request, Router } from 'express';
import type { adapt } from 'larder/express';
import type { Render } from './app.js';
import { type Product, SKUS } from './catalog.js';
import { shopSession } from './visitor.js';

/** The cart page and the forms that change the cart. */
export function cartRoutes(
  web: ReturnType<typeof adapt>,
  render: Render,
  productsFor: (req: Request) => Promise<{ products: Product[] }>,
): Router {
  const router = Router();

  router.get('/cart', web.neverCache(), async (req, res) => {
    const session = shopSession(req);
    const { products } = await productsFor(req);
    const lines = [];
    let total = 0;
    for (const sku of await session.get('cart', [])) {
      const product = products.find((p) => p.sku === sku);
      if (product === undefined) continue;
      const quantity = await session.get(`qty:${sku}`, 0);
      total += product.price * quantity;
      lines.push({ ...product, quantity });
    }
    const currency = products[0]?.currency ?? '';
    await render(req, res, 'cart.njk', { title: 'Cart', lines, total: total.toFixed(2), currency });
  });

  router.post('/cart/add', async (req, res) => {
    const sku = String(req.body?.sku ?? '');
    if (!SKUS.includes(sku)) {
      res.status(400).type('text').send('Unknown product.');
      return;
    }
    const session = shopSession(req);
    const cart = await session.get('cart', []);
    if (!cart.includes(sku)) await session.set('cart', [...cart, sku]);
    await session.incr(`qty:${sku}`);
    res.redirect(303, '/cart');
  });

  router.post('/cart/clear', async (req, res) => {
    const session = shopSession(req);
    for (const field of await session.keys()) {
      if (field === 'cart' || field.startsWith('qty:')) await session.delete(field);
    }
    res.redirect(303, '/cart');
  });

  return router;
}
