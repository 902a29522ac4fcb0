/**
 * The storefront demo: an Express 5 + Nunjucks app that shows larder at work.
 *
 * - `/` shows which backends are active and the health report.
 * - `/products` is the catalog of the visitor's region (a `region` cookie), cached whole
 *   with `cachePage` and varying on the cookie; `/products/:region` is the same per URL.
 *   The slow catalog query goes through `cache.getOrSet`; `Server-Timing` and
 *   `Cache-Status` make both layers visible.
 * - The sidebar is a `{% cache %}` fragment per signed-in user (sign-in is a plain cookie
 *   until the sessions issue lands).
 */
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response } from 'express';
import type { Larder } from 'larder';
import { adapt } from 'larder/express';
import { installCacheTag } from 'larder/nunjucks';
import nunjucks from 'nunjucks';
import { queryCatalog, REGIONS, type Region } from './catalog.js';

const views = fileURLToPath(new URL('./views', import.meta.url));

/** Reads one cookie (the demo needs two; sessions replace this later). */
function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

function regionOf(req: Request): Region {
  const region = cookie(req, 'region');
  return (REGIONS as readonly string[]).includes(region ?? '') ? (region as Region) : 'us';
}

/** Builds the storefront app on a Larder (the caller owns and closes it). */
export function createApp(larder: Larder) {
  const web = adapt(larder);
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(views), { autoescape: true });
  installCacheTag(env, larder);
  const app = express();
  app.disable('x-powered-by');
  app.use(express.urlencoded({ extended: false }));

  const render = (req: Request, res: Response, view: string, context: Record<string, unknown>) =>
    new Promise<void>((resolve, reject) => {
      const full = {
        regions: REGIONS,
        region: regionOf(req),
        user: cookie(req, 'user') ?? '',
        renderedAt: new Date().toISOString(),
        ...context,
      };
      env.render(view, full, (error, html) => {
        if (error) return reject(error);
        res.type('html').send(html);
        resolve();
      });
    });

  app.get('/health', web.health());

  app.get('/', async (req, res) => {
    await render(req, res, 'home.njk', { title: 'Home', report: await larder.health() });
  });

  const catalog = async (req: Request, res: Response, region: Region) => {
    const started = performance.now();
    let loaded = false;
    const products = await larder.cache().getOrSet(
      `catalog:${region}`,
      () => {
        loaded = true;
        return queryCatalog(region);
      },
      { timeout: 60 },
    );
    const ms = (performance.now() - started).toFixed(1);
    res.set('Server-Timing', `cache;desc="${loaded ? 'miss' : 'hit'}";dur=${ms}`);
    await render(req, res, 'catalog.njk', { title: `Catalog (${region})`, region, products, loaded });
  };

  // The whole page, cached per cookie (region + user) for a minute.
  app.get('/products', web.cachePage(60), web.varyOnCookie(), (req, res) => catalog(req, res, regionOf(req)));

  app.get('/products/:region', web.cachePage(60), web.varyOnCookie(), async (req, res) => {
    const region = req.params.region as Region;
    if (!REGIONS.includes(region)) {
      res
        .status(404)
        .type('text')
        .send(`Unknown region; try ${REGIONS.join(', ')}.`);
      return;
    }
    await catalog(req, res, region);
  });

  app.get('/region/:region', (req, res) => {
    const region = REGIONS.includes(req.params.region as Region) ? req.params.region : 'us';
    res.cookie('region', region, { path: '/', sameSite: 'lax', httpOnly: true }).redirect(303, '/products');
  });

  app.post('/signin', (req, res) => {
    const user = String(req.body?.user ?? '').slice(0, 40) || 'guest';
    res.cookie('user', user, { path: '/', sameSite: 'lax', httpOnly: true }).redirect(303, '/products');
  });

  app.post('/signout', (_req, res) => {
    res.clearCookie('user', { path: '/' }).redirect(303, '/');
  });

  return app;
}
