/**
 * The storefront demo: an Express 5 app that shows every larder capability at work.
 * This first cut shows which backends are active and the health report; each capability
 * issue grows it (catalog pages, sessions, cart, rate-limited API, tasks, live events).
 */
import express from 'express';
import type { Larder } from 'larder';
import { adapt } from 'larder/express';
import { queryCatalog, REGIONS, type Region } from './catalog.js';

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Builds the storefront app on a Larder (the caller owns and closes it). */
export function createApp(larder: Larder) {
  const web = adapt(larder);
  const app = express();
  app.disable('x-powered-by');

  app.get('/health', web.health());

  // Catalog pages: the slow query goes through cache.getOrSet; Server-Timing says whether
  // this request hit the cache and how long the lookup took.
  app.get('/products/:region', async (req, res) => {
    const region = req.params.region as Region;
    if (!REGIONS.includes(region)) {
      res
        .status(404)
        .type('text')
        .send(`Unknown region; try ${REGIONS.join(', ')}.`);
      return;
    }
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
    const items = products
      .map((p) => `<li data-sku="${p.sku}">${escapeHtml(p.name)} — ${p.price.toFixed(2)} ${p.currency}</li>`)
      .join('');
    res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Catalog (${region})</title></head>
<body><h1>Catalog: ${region}</h1><p id="cache">${loaded ? 'Loaded from the database' : 'Served from the cache'} in ${ms} ms</p>
<ul id="products">${items}</ul><p>${REGIONS.map((r) => `<a href="/products/${r}">${r}</a>`).join(' · ')}</p></body></html>`);
  });

  app.get('/', async (_req, res) => {
    const report = await larder.health();
    const rows = Object.entries(report.backends)
      .map(
        ([capability, backend]) =>
          `<tr><th>${escapeHtml(capability)}</th><td>${escapeHtml(backend)}</td></tr>`,
      )
      .join('');
    const conns = report.connections.length
      ? report.connections
          .map(
            (c) =>
              `<tr><th>${escapeHtml(c.name)}</th><td>${c.topology}</td><td class="${c.status}">${c.status}</td>` +
              `<td>${c.latencyMs === undefined ? '' : `${c.latencyMs} ms`}</td><td>${escapeHtml(c.error ?? '')}</td></tr>`,
          )
          .join('')
      : '<tr><td colspan="5">No Redis connections: everything runs in this process.</td></tr>';
    res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>larder storefront</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #ddd}
.up{color:#17803d}.down{color:#b91c1c}</style></head>
<body><h1>larder storefront</h1>
<p id="mode">${report.embedded ? 'Embedded mode: in-memory drivers, no Redis needed.' : 'Running on Redis.'}</p>
<p>Catalog: ${REGIONS.map((r) => `<a href="/products/${r}">${r}</a>`).join(' · ')}</p>
<h2>Backends</h2><table id="backends">${rows}</table>
<h2>Health: <span id="status">${report.status}</span></h2>
<table id="connections">${conns}</table>
</body></html>`);
  });
  return app;
}
