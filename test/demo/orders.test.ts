/**
 * The storefront's order flow (examples/storefront/orders.ts) over real HTTP, on the
 * embedded default (the eager driver) and on Redis (BullMQ, a worker in this process):
 * checkout turns the cart into an order and applies `confirm-order`; the order page shows
 * the task's status until it is confirmed — after the one retry the demo's "busy mail
 * server" forces. Then the same flow in Chromium, clicking the button.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Browser, chromium } from 'playwright-core';
import { CHROMIUM, client, serve } from './support.js';

const statusOf = (html: string) => /id="order-status"[^>]*>([a-z]+)</.exec(html)?.[1];

for (const mode of ['memory', 'redis'] as const) {
  test(`checkout (${mode}): the order page shows the confirmation task until it succeeds after a retry`, async () => {
    const { base, larder, close } = await serve(mode);
    try {
      assert.equal(larder.tasks.driverKind, mode === 'memory' ? 'eager' : 'bullmq');
      const shopper = client(base);
      assert.equal((await shopper.post('/cart/add', { sku: 'press' })).status, 303);
      await shopper.post('/cart/add', { sku: 'press' });
      assert.match(await (await shopper.request('/cart')).text(), /id="checkout"/);

      const placed = await shopper.post('/checkout');
      assert.equal(placed.status, 303);
      const orderUrl = placed.headers.get('location') ?? '';
      assert.match(orderUrl, /^\/orders\/[0-9a-f]{8}$/);
      assert.match(
        await (await shopper.request('/cart')).text(),
        /id="cart-empty"/,
        'checkout empties the cart',
      );

      const seen = new Set<string>();
      let html = '';
      const until = Date.now() + 20_000;
      for (;;) {
        const page = await shopper.request(orderUrl);
        assert.equal(page.status, 200);
        assert.equal(page.headers.get('cache-control')?.includes('no-cache'), true);
        html = await page.text();
        const status = statusOf(html);
        assert.ok(status, 'the page shows a status');
        seen.add(status);
        if (status === 'success') break;
        assert.ok(['pending', 'started', 'retry'].includes(status), `unexpected status ${status}`);
        assert.ok(Date.now() < until, `still ${status} after 20 s`);
        await sleep(50);
      }
      assert.match(html, /id="confirmed">Confirmed at \d{4}-/);
      assert.match(html, /attempt 2/, 'the first attempt failed and was retried');
      assert.match(html, /Espresso press|press/i);
      assert.match(html, mode === 'memory' ? /in this process \(eager driver\)/ : /on a BullMQ worker/);

      // Another visitor cannot see the order; a second checkout of an empty cart places nothing.
      assert.equal((await client(base).request(orderUrl)).status, 404);
      assert.equal((await shopper.post('/checkout')).headers.get('location'), '/cart');
    } finally {
      await close();
    }
  });
}

test('in Chromium (memory): place the order, watch it get confirmed', async () => {
  const { base, close } = await serve('memory');
  let browser: Browser | undefined;
  try {
    // Chromium refuses to run as root with its sandbox on.
    const args = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
    browser = await chromium.launch({ executablePath: CHROMIUM, args });
    const page = await (await browser.newContext({ baseURL: base })).newPage();
    await page.request.post('/cart/add', { form: { sku: 'press' } });
    await page.goto('/cart');
    await Promise.all([page.waitForURL('**/orders/*'), page.click('#checkout')]);
    // The page reloads itself each second until the task is done.
    await page.locator('#confirmed').waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('#order-status').textContent(), 'success');
  } finally {
    await browser?.close();
    await close();
  }
});
