/**
 * The storefront's catalog on SQLite (examples/storefront/catalog.ts, admin.ts, timing.ts)
 * over real HTTP, on the embedded default and on Redis: a price change by the staff user
 * drops the cached catalog query and the cached pages together (their `catalog` tag); a
 * confirmed order is recorded once and takes its units out of the region's stock; and every
 * response says `Cache-Status` and `Server-Timing`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Catalog } from '../../examples/storefront/catalog.js';
import { client, serve } from './support.js';

const login = (shopper: ReturnType<typeof client>, user: string) =>
  shopper.post('/login', { username: user, password: [...user].reverse().join('') });

for (const mode of ['memory', 'redis'] as const) {
  test(`a price change by the staff user drops the cached catalog query and pages together (${mode})`, async () => {
    const { base, catalog, close } = await serve(mode);
    try {
      const first = await fetch(`${base}/products/eu`);
      assert.equal(first.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
      assert.match(await first.text(), /Stovetop kettle — <span class="price">35\.88 EUR/);
      const hit = await fetch(`${base}/products/eu`);
      assert.match(hit.headers.get('cache-status') ?? '', /^larder; hit/);
      assert.match(hit.headers.get('server-timing') ?? '', /^page;desc="hit", total;dur=\d/);
      assert.equal(
        (await fetch(`${base}/products/us`)).headers.get('cache-status'),
        'larder; fwd=uri-miss; stored',
      );

      // Nobody but the staff user changes prices, and nothing changes when they try.
      const anonymous = client(base);
      assert.equal(
        (await anonymous.post('/products/kettle/price', { region: 'eu', price: '1' })).status,
        403,
      );
      const alice = client(base);
      await login(alice, 'alice');
      const refused = await alice.post('/products/kettle/price', { region: 'eu', price: '1' });
      assert.equal(refused.status, 403);
      assert.match(await refused.text(), /sign in as admin/);
      assert.match((await fetch(`${base}/products/eu`)).headers.get('cache-status') ?? '', /^larder; hit/);

      const admin = client(base);
      await login(admin, 'admin');
      const adminPage = await (await admin.request('/products/eu')).text();
      assert.match(adminPage, /class="set-price"/, 'the staff user sees the price form');
      for (const [form, status, said] of [
        [
          { region: 'eu', price: 'cheap' },
          400,
          /A price is a positive amount like 12 or 12\.50; got "cheap"/,
        ],
        [{ region: 'eu', price: '0' }, 400, /got "0"/],
        [{ region: 'eu', price: '1.999' }, 400, /got "1\.999"/],
        [{ region: 'mars', price: '10' }, 400, /Unknown region "mars"; use us, eu, apac/],
      ] as const) {
        const res = await admin.post('/products/kettle/price', form);
        assert.equal(res.status, status);
        assert.match(await res.text(), said);
      }
      const unknown = await admin.post('/products/teapot/price', { region: 'eu', price: '10' });
      assert.equal(unknown.status, 404);
      assert.match(await unknown.text(), /No product "teapot"/);
      assert.equal(catalog.products('eu')[0].price, 35.88, 'refused changes wrote nothing');

      const changed = await admin.post('/products/kettle/price', { region: 'eu', price: '30.50' });
      assert.equal(changed.status, 303);
      assert.equal(changed.headers.get('location'), '/products/eu');
      assert.equal(catalog.products('eu')[0].price, 30.5);

      // Page and query dropped together: the page is rendered again, and the query runs again.
      const after = await fetch(`${base}/products/eu`);
      assert.equal(after.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
      assert.match(after.headers.get('server-timing') ?? '', /^cache;desc="miss";dur=/);
      assert.match(await after.text(), /Stovetop kettle — <span class="price">30\.50 EUR/);
      const apiRes = await fetch(`${base}/api/products?region=eu`);
      assert.match(apiRes.headers.get('server-timing') ?? '', /^cache;desc="hit";dur=[\d.]+, total;dur=/);
      const api = (await apiRes.json()) as any;
      assert.equal(api.products[0].price, 30.5);
      // Every region's cached page carries the tag; the US price itself is unchanged.
      const us = await fetch(`${base}/products/us`);
      assert.equal(us.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
      assert.match(await us.text(), /Stovetop kettle — <span class="price">39\.00 USD/);
    } finally {
      await close();
    }
  });

  test(`a confirmed order is recorded in SQLite once and takes its units from the region's stock (${mode})`, async () => {
    const { base, larder, catalog, close } = await serve(mode);
    try {
      const stockOf = (sku: string) => catalog.products('eu').find((p) => p.sku === sku)?.stock;
      const before = stockOf('scale');
      assert.equal(before, 25);
      const page = await fetch(`${base}/products/eu`);
      assert.match(await page.text(), /\(25 in stock\)/);
      const shopper = client(base);
      await login(shopper, 'bea');
      await shopper.request('/region/eu');
      await shopper.post('/cart/add', { sku: 'scale' });
      await shopper.post('/cart/add', { sku: 'scale' });
      await shopper.post('/cart/add', { sku: 'scale' });
      const placed = await shopper.post('/checkout');
      const id = /\/orders\/([0-9a-f]{8})$/.exec(placed.headers.get('location') ?? '')?.[1];
      assert.ok(id, 'checkout redirects to the order');
      await larder.tasks.result(`confirm-${id}`, { task: 'confirm-order' }).get({ timeout: 20_000 });

      const recorded = catalog.order(id);
      assert.ok(recorded, 'the task recorded the order');
      assert.deepEqual(
        { ...recorded, confirmedAt: typeof recorded.confirmedAt },
        {
          id,
          region: 'eu',
          customer: 'bea',
          total: '135.24',
          currency: 'EUR',
          confirmedAt: 'string',
          lines: [{ sku: 'scale', quantity: 3 }],
        },
      );
      assert.equal(stockOf('scale'), 22);
      assert.equal(
        catalog.products('us').find((p) => p.sku === 'scale')?.stock,
        25,
        'other regions keep theirs',
      );
      // Recording again (a retried task) changes nothing.
      assert.equal(catalog.recordOrder({ ...recorded, region: 'eu' }), false);
      assert.equal(stockOf('scale'), 22);
      // The task dropped the cached catalog: the page shows the new stock.
      const now = await fetch(`${base}/products/eu`);
      assert.equal(now.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
      assert.match(await now.text(), /\(22 in stock\)/);
    } finally {
      await close();
    }
  });
}

test('every response says Cache-Status and Server-Timing, cached or not', async () => {
  const { base, close } = await serve('memory');
  try {
    const shopper = client(base);
    const seen: Record<string, string> = {};
    const check = async (label: string, res: Response) => {
      await res.arrayBuffer();
      const status = res.headers.get('cache-status') ?? '';
      assert.match(status, /^larder; /, `${label}: Cache-Status`);
      assert.match(
        res.headers.get('server-timing') ?? '',
        /(^|, )total;dur=\d+(\.\d)?$/,
        `${label}: Server-Timing`,
      );
      seen[label] = status;
    };
    for (const path of [
      '/',
      '/login',
      '/cart',
      '/boards',
      '/health',
      '/api/products',
      '/account/devices',
      '/nowhere',
    ])
      await check(`GET ${path}`, await shopper.request(path));
    await check('POST /cart/add', await shopper.post('/cart/add', { sku: 'press' }));
    await check('GET /products', await shopper.request('/products'));
    assert.equal(seen['GET /'], 'larder; fwd=bypass');
    assert.equal(seen['GET /nowhere'], 'larder; fwd=bypass');
    assert.equal(seen['POST /cart/add'], 'larder; fwd=method');
    assert.equal(
      seen['GET /products'],
      'larder; fwd=uri-miss; detail=private',
      'a session with a cart is private',
    );
  } finally {
    await close();
  }
});

test('the database is created and seeded on first open, and a second open finds it as it was left', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'storefront-db-'));
  try {
    const file = path.join(dir, 'nested', 'shop.db');
    const first = Catalog.open(file);
    assert.deepEqual(
      first.products('apac').map((p) => [p.sku, p.price, p.currency]),
      [
        ['kettle', 52.65, 'SGD'],
        ['grinder', 174.15, 'SGD'],
        ['press', 45.9, 'SGD'],
        ['scale', 66.15, 'SGD'],
      ],
    );
    assert.equal(first.setPrice('press', 'apac', 40), true);
    // Another process opening the same file meanwhile (cluster workers): the seed is not redone.
    const second = Catalog.open(file);
    assert.equal(second.products('apac')[2].price, 40);
    assert.equal(second.db.prepare('SELECT count(*) AS n FROM prices').pluck().get(), 12);
    first.close();
    second.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
