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
import type { Product } from './catalog.js';
import { shopSession } from './visitor.js';

/** The cart's lines priced from `products` (the visitor's region), with the total. */
export async function cartLines(req: Request, products: Product[]) {
  const session = shopSession(req);
  const lines = [];
  let total = 0;
  for (const sku of await session.get('cart', [])) {
    const product = products.find((p) => p.sku === sku);
    if (product === undefined) continue;
    const quantity = await session.get(`qty:${sku}`, 0);
    total += product.price * quantity;
    lines.push({ ...product, quantity });
  }
  return { lines, total: total.toFixed(2), currency: products[0]?.currency ?? '' };
}

/** Empties the cart (after checkout, or on request). */
export async function emptyCart(req: Request): Promise<void> {
  const session = shopSession(req);
  for (const field of await session.keys()) {
    if (field === 'cart' || field.startsWith('qty:')) await session.delete(field);
  }
}

/** The cart page and the forms that change the cart. */
export function cartRoutes(
  web: ReturnType<typeof adapt>,
  render: Render,
  productsFor: (req: Request) => Promise<{ products: Product[] }>,
): Router {
  const router = Router();

  router.get('/cart', web.neverCache(), async (req, res) => {
    const { products } = await productsFor(req);
    const { lines, total, currency } = await cartLines(req, products);
    await render(req, res, 'cart.njk', { title: 'Cart', lines, total, currency });
  });

  router.post('/cart/add', async (req, res) => {
    const sku = String(req.body?.sku ?? '');
    const { products } = await productsFor(req);
    if (!products.some((p) => p.sku === sku)) {
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
    await emptyCart(req);
    res.redirect(303, '/cart');
  });

  return router;
}
