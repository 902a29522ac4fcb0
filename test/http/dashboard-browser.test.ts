/**
 * The ops dashboard in real headless Chromium (Debian's, through playwright-core), on Express
 * with Redis standalone: the page loads under its CSP without an error, the uPlot charts
 * draw their series, the numbers on the page change after the test makes cache traffic, and
 * a screenshot is saved to `test-results/dashboard.png` for a person to look at.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import express from 'express';
import { type Browser, chromium } from 'playwright-core';
import { adapt } from '../../src/adapters/express.js';
import { createLarder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

const CHROMIUM = '/usr/bin/chromium';

// The test tsconfig has no DOM lib: page functions reach the document through globalThis.
// (Functions, not strings: a string predicate is eval'd, which the page's CSP forbids.)
/** True when the canvas under `selector` has pixels in the first series colour (#2563eb): a line was drawn. */
function seriesDrawn(selector: string): boolean {
  const canvas = (globalThis as any).document.querySelector(selector);
  if (!canvas) return false;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4)
    if (Math.abs(data[i] - 37) < 24 && Math.abs(data[i + 1] - 99) < 24 && Math.abs(data[i + 2] - 235) < 24)
      n++;
  return n > 20;
}

test('in Chromium: the dashboard loads, draws its charts, and its numbers follow cache traffic', async () => {
  const larder = createLarder(
    {
      logger: false,
      redis: redisUrlFor('standalone')!,
      caches: { default: { backend: 'redis', keyPrefix: uniquePrefix('dash-browser') } },
    },
    {},
  );
  const web = adapt(larder);
  const app = express();
  app.use(
    '/ops',
    web.dashboard({
      interval: '250ms',
      title: 'Storefront operations',
      authorize: (req) => /(?:^|;\s*)staff=yes(?:;|$)/.test(req.get('cookie') ?? ''),
    }),
  );
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let browser: Browser | undefined;
  let traffic = true;
  const cache = larder.cache();
  const makeTraffic = async () => {
    for (let i = 0; traffic; i++) {
      await cache.set(`item-${i % 50}`, { i, name: 'x'.repeat(i % 200) });
      await cache.get(`item-${(i * 7) % 80}`);
    }
  };
  let running: Promise<void> | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 1400 } });
    const problems: string[] = [];
    const page = await context.newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });

    // Without the staff cookie: 403, and nothing of the dashboard.
    // networkidle: the browser's own requests for this page (its favicon: a 404 from this
    // app) are over before the problems below start to count.
    const denied = await page.goto(`${base}/ops`, { waitUntil: 'networkidle' });
    assert.equal(denied?.status(), 403);
    assert.doesNotMatch(await page.content(), /Storefront operations/);

    await context.addCookies([{ name: 'staff', value: 'yes', url: base }]);
    problems.length = 0;
    const loaded = await page.goto(`${base}/ops`);
    assert.equal(loaded?.status(), 200);
    assert.equal(await page.textContent('h1'), 'Storefront operations');
    // The page names its icon, so the host app is not asked for /favicon.ico (a 404 there).
    assert.equal(await page.getAttribute('link[rel="icon"]', 'href'), 'data:,');
    await page.waitForFunction(
      () => Number((globalThis as any).document.body.getAttribute('data-frames')) >= 2,
      undefined,
      { timeout: 15_000 },
    );
    assert.equal(await page.textContent('#figure-status'), 'live');
    const quiet = (await page.textContent('#cache-rows')) ?? '';

    running = makeTraffic();
    // The cache's row shows operations per second above zero, and a hit ratio.
    await page.waitForFunction(
      () => {
        const row = (globalThis as any).document.querySelector('#cache-rows tr');
        return (
          row &&
          Number(row.children[1].textContent.replace(/,/g, '')) > 0 &&
          /%/.test(row.children[2].textContent)
        );
      },
      undefined,
      { timeout: 15_000 },
    );
    const busy = (await page.textContent('#cache-rows')) ?? '';
    assert.notEqual(busy, quiet, 'the numbers changed after the traffic');
    assert.match(busy, /^default/);

    // uPlot drew a line in the series colour on the ops/s, hit-ratio and latency charts.
    // (A line needs two points with a value: hit ratio and latency have none before traffic.)
    for (const chart of ['#chart-ops', '#chart-hit-ratio', '#chart-latency'])
      await page.waitForFunction(seriesDrawn, `${chart} canvas`, { timeout: 15_000 });

    // The on-demand biggest keys, through the page's form.
    await page.click('#keys-form button');
    await page.waitForFunction(
      () => (globalThis as any).document.querySelectorAll('#key-rows tr').length > 0,
      undefined,
      {
        timeout: 15_000,
      },
    );
    assert.match((await page.textContent('#keys-status')) ?? '', /keys sampled \(MEMORY USAGE\)/);

    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true });
    assert.deepEqual(problems, [], 'no script error and no CSP violation');
  } finally {
    traffic = false;
    await running;
    await browser?.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await larder.close();
  }
});
