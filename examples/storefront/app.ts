/**
 * The storefront demo: an Express 5 + Nunjucks app that shows larder at work.
 *
 * - `/` shows which backends are active and the health report.
 * - `/products` is the catalog of the visitor's region (a `region` cookie), cached whole
 *   with `cachePage` and varying on the cookie; `/products/:region` is the same per URL.
 *   The catalog lives in SQLite (catalog.ts, database.ts); its deliberately slow query goes
 *   through `cache.getOrSet`. Every response carries `Server-Timing` and `Cache-Status`
 *   (timing.ts), so both layers are visible. The staff user changes prices (admin.ts),
 *   which drops the cached query and pages together by their `catalog` tag.
 * - Sessions (`web.session()`): sign-in with `session.login`, a cart, and "your devices"
 *   from the per-user index (see account.ts and cart.ts).
 * - The sidebar is a `{% cache %}` fragment per signed-in user.
 * - `/api/products` is the catalog as JSON, rate-limited by `web.rateLimit('api')` (the
 *   `rateLimits.api` config: 429 with `Retry-After` and `RateLimit` headers past it), and
 *   sign-in is guarded against password guessing by `createLoginGuard` (see account.ts).
 * - Checkout applies the `confirm-order` task (retries with backoff; see orders.ts) and
 *   `/orders/:id` shows its status from the task's `AsyncResult`.
 * - `/ops` is larder's ops dashboard, for the staff user `admin` only (admin.ts);
 *   `/metrics` is the Prometheus text of the same counters, for a scraper.
 */
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Larder } from 'larder';
import { adapt } from 'larder/express';
import { installCacheTag } from 'larder/nunjucks';
import { createLoginGuard, type LoginGuardOptions } from 'larder/ratelimit';
import nunjucks from 'nunjucks';
import { accountRoutes } from './account.js';
import { ADMIN_USER, adminRoutes, isAdmin } from './admin.js';
import { cartRoutes } from './cart.js';
import { Catalog, isRegion, type Product, REGIONS, type Region } from './catalog.js';
import { boards, ORDERS_CHANNEL, orderRoutes } from './orders.js';
import { timing } from './timing.js';
import { visitorOf } from './visitor.js';

const views = fileURLToPath(new URL('./views', import.meta.url));

/** Renders a view into the response, with the header's and sidebar's data. */
export type Render = (
  req: Request,
  res: Response,
  view: string,
  context: Record<string, unknown>,
) => Promise<void>;

/** The region cookie (set by `/region/:region`), or 'us'. */
function regionOf(req: Request): Region {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const [key, value] = part.trim().split('=');
    if (key === 'region' && isRegion(value)) return value;
  }
  return 'us';
}

/**
 * CSRF: the session cookie is SameSite=Lax (larder's default), so a browser leaves it off
 * a POST that another site starts — a forged form cannot act as the signed-in user, and a
 * same-site form POST needs no token. Lax does not cover login CSRF (signing a victim into
 * the attacker's account needs no cookie), so a POST whose Origin names another site is
 * refused as well (OWASP CSRF cheat sheet, "verifying origin with standard headers").
 */
function sameOrigin(req: Request, res: Response, next: NextFunction) {
  const origin = req.get('origin');
  if (req.method === 'POST' && origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {}
    if (host !== req.get('host')) {
      res.status(403).type('text').send('Cross-site form posts are refused.');
      return;
    }
  }
  next();
}

/** What the demo lets a caller (server.ts, the tests) change. */
export interface StorefrontOptions {
  /** The sign-in guard's limits. @default 5 wrong passwords per user name + address per 15 minutes, 100 per address per day */
  loginGuard?: LoginGuardOptions;
  /** The catalog database (the caller closes it). @default a fresh seeded in-memory database */
  catalog?: Catalog;
}

/**
 * The limits server.ts starts the demo with: small enough to see the API refuse a burst of
 * reloads (or `for i in $(seq 31); do curl -s -o /dev/null -w '%{http_code} ' …; done`).
 */
export const RATE_LIMITS = { api: { limit: 30, window: 60 } };

/**
 * Builds the storefront app on a Larder (the caller owns and closes it). The Larder needs a
 * `rateLimits.api` limit, as {@link RATE_LIMITS}.
 */
export function createApp(larder: Larder, options: StorefrontOptions = {}) {
  const catalogDb = options.catalog ?? Catalog.open(':memory:');
  const web = adapt(larder);
  const guard = createLoginGuard(larder, options.loginGuard);
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(views), { autoescape: true });
  installCacheTag(env, larder);
  const app = express();
  app.disable('x-powered-by');
  app.use(timing());
  app.use(express.urlencoded({ extended: false }));
  app.use(sameOrigin);
  // req.session on every route; a route that never reads it costs no store round trip.
  app.use(web.session());

  const render: Render = async (req, res, view, context) => {
    const visitor = await visitorOf(req);
    // A page showing this visitor's name or cart is theirs alone: `private` keeps it out of
    // the page cache (and out of shared proxies). See the catalog routes below.
    if (visitor.personal) res.set('Cache-Control', 'private');
    const full = {
      regions: REGIONS,
      region: regionOf(req),
      ...visitor,
      admin: visitor.user === ADMIN_USER,
      renderedAt: new Date().toISOString(),
      ...context,
    };
    const html = await new Promise<string>((resolve, reject) =>
      env.render(view, full, (error, out) => (error ? reject(error) : resolve(out as string))),
    );
    res.type('html').send(html);
  };

  /**
   * The region's catalog through the cache: the slow query runs once a minute at most, once
   * across every process (stampede protection). For an hour past that minute the old catalog
   * is still served while one request refreshes it, or if the query fails. Everything built
   * from the catalog carries the `catalog` tag: `invalidateTags(['catalog'])` after a product
   * change drops the query result and the cached pages together.
   */
  const productsFor = async (region: Region) => {
    let loaded = false;
    const products = await larder.cache().getOrSet<Product[]>(
      `catalog:${region}`,
      () => {
        loaded = true;
        return catalogDb.query(region);
      },
      { timeout: 60, grace: '1h', softTimeout: '250ms', tags: ['catalog'] },
    );
    return { products, loaded, region };
  };

  app.get('/health', web.health());

  app.get('/', async (req, res) => {
    await render(req, res, 'home.njk', { title: 'Home', report: await larder.health() });
  });

  // What the catalog page says about the API's limit (config windows are in ms).
  const apiLimit = larder.config.rateLimits.api;
  const api = apiLimit && { limit: apiLimit.limit, window: apiLimit.window / 1000 };

  /** The region's products, saying in `Server-Timing` whether the cached query hit, and its time. */
  const timedProducts = async (res: Response, region: Region) => {
    const started = performance.now();
    const found = await productsFor(region);
    const ms = (performance.now() - started).toFixed(1);
    res.set('Server-Timing', `cache;desc="${found.loaded ? 'miss' : 'hit'}";dur=${ms}`);
    return found;
  };

  const catalog = async (req: Request, res: Response, region: Region) => {
    const { products, loaded } = await timedProducts(res, region);
    await render(req, res, 'catalog.njk', { title: `Catalog (${region})`, region, products, loaded, api });
  };

  // The catalog pages are cached whole, for a minute, per Cookie header (the region cookie).
  // They show the visitor's name and cart count, so they read the session, and the session
  // middleware adds `Vary: Cookie`. That alone would keep one visitor's page from another
  // (each session cookie is a different key), but not from the same visitor a moment later:
  // the cookie stays the same when the cart changes or the session is revoked elsewhere, and
  // a cached page would show the old count or name. So `render` marks every page of a
  // non-empty session `Cache-Control: private`, which the page cache never stores
  // (`Cache-Status: …; detail=private`): anonymous visitors share the cached pages, a
  // signed-in visitor's page is rendered each time — from the cached catalog query and the
  // cached sidebar fragment. An anonymous page reads an empty session: no store round trip
  // without a session cookie, and no Set-Cookie, so it is stored.
  app.get('/products', web.cachePage(60, { tags: ['catalog'] }), web.varyOnCookie(), (req, res) =>
    catalog(req, res, regionOf(req)),
  );

  app.get(
    '/products/:region',
    web.cachePage(60, { tags: ['catalog'] }),
    web.varyOnCookie(),
    async (req, res) => {
      const region = req.params.region;
      if (!isRegion(region)) {
        res
          .status(404)
          .type('text')
          .send(`Unknown region; try ${REGIONS.join(', ')}.`);
        return;
      }
      await catalog(req, res, region);
    },
  );

  app.get('/region/:region', (req, res) => {
    const region = isRegion(req.params.region) ? req.params.region : 'us';
    res.cookie('region', region, { path: '/', sameSite: 'lax', httpOnly: true }).redirect(303, '/products');
  });

  // The JSON API: every /api route shares the `api` limit, per visitor (signed-in user id,
  // else client address).
  app.use('/api', web.rateLimit('api'));
  app.get('/api/products', async (req, res) => {
    const asked = String(req.query.region ?? regionOf(req));
    if (!isRegion(asked)) {
      res.status(404).json({ error: `Unknown region; try ${REGIONS.join(', ')}.` });
      return;
    }
    const { products } = await timedProducts(res, asked);
    res.json({ region: asked, products });
  });

  app.use(accountRoutes(larder, web, render, guard));
  app.use(cartRoutes(web, render, (req) => productsFor(regionOf(req))));
  app.use(orderRoutes(larder, web, render, catalogDb, (req) => productsFor(regionOf(req))));
  app.use(adminRoutes(larder, catalogDb));

  // Operations: the dashboard for the staff user (403 for anyone else), and the Prometheus
  // text for a scraper. The metrics carry no personal data, only operation counts and
  // timings, so the demo leaves /metrics open; a public site would limit it to its network.
  app.use('/ops', web.dashboard({ authorize: isAdmin, title: 'storefront ops' }));
  app.get('/metrics', web.metrics());

  // Live "just bought" notifications: every page follows this stream (see layout.njk). A
  // browser that reconnects sends Last-Event-ID and gets what it missed, from any process.
  app.get('/events', web.events([ORDERS_CHANNEL]));

  // The week's boards, fed by checkout (orders.ts).
  app.get('/boards', web.neverCache(), async (req, res) => {
    const { bestSellers, topCustomers } = boards(larder);
    const names = new Map((await productsFor(regionOf(req))).products.map((p) => [p.sku, p.name]));
    const sellers = (await bestSellers.top(10)).map((e) => ({ ...e, name: names.get(e.member) ?? e.member }));
    await render(req, res, 'boards.njk', {
      title: 'This week',
      sellers,
      customers: await topCustomers.top(10),
    });
  });

  return app;
}
