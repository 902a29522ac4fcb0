/**
 * The storefront end to end, as `npm start` runs it (examples/storefront/server.ts in child
 * processes, printing their address), in headless Chromium: browse the catalog and switch
 * region, sign in, add to cart, check out and see the order confirmed, see the "just bought"
 * notification arrive in another visitor's browser context, view the devices and sign out
 * everywhere — the same user's other browser context is signed out too.
 *
 * Twice: on the in-memory default (one process, every context on it), and on Redis with two
 * processes on two ports sharing one Redis server (its own, so nothing else's events or keys
 * mix in) and one SQLite file. There the buyer uses one process and the other visitor and the
 * buyer's second device the other, so the notification, the session and its revocation all
 * cross processes.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { startStandalone } from '../support/redis-server.js';
import { CHROMIUM } from './support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const server = path.join(root, 'examples/storefront/server.ts');

interface Shop {
  base: string;
  output: () => string;
  /** SIGTERM, then the exit code (a clean shutdown is 0). */
  stop: () => Promise<number | null>;
}

/** Starts `npm start`'s server (on a free port) with `env`; resolves once it printed its address. */
function startShop(env: Record<string, string>): Promise<Shop> {
  const { REDIS_URL: _r, LARDER_REDIS_URL: _l, ...inherited } = process.env;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', server], {
    cwd: root,
    env: { ...inherited, PORT: '0', STOREFRONT_QUERY_MS: '50', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    // A bound on start-up (a busy machine takes seconds; a hang would stall the run).
    const bound = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the storefront printed no address within 60 s:\n${output}`));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /storefront: (http:\/\/localhost:\d+)\//.exec(output)?.[1];
      if (url) {
        clearTimeout(bound);
        child.stdout?.off('data', onData);
        child.stdout?.on('data', (more: Buffer) => {
          output += more.toString();
        });
        resolve({
          base: url.replace('localhost', '127.0.0.1'),
          output: () => output,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    exited.then((code) => {
      clearTimeout(bound);
      reject(new Error(`the storefront exited with ${code} before listening:\n${output}`));
    });
  });
}

/** Waits until the page's live feed (`/events`) is open, so no event can be missed. */
const followingEvents = (page: Page) =>
  page.waitForFunction(
    () =>
      (globalThis as unknown as { storefrontEvents?: { readyState: number } }).storefrontEvents
        ?.readyState === 1,
  );

async function signIn(page: Page, base: string, user: string) {
  await page.goto(`${base}/login`);
  await page.fill('input[name="username"]', user);
  await page.fill('input[name="password"]', [...user].reverse().join(''));
  await Promise.all([page.waitForURL('**/products'), page.click('#login')]);
  assert.equal(await page.textContent('#greeting'), `Hi, ${user}`);
}

/** The whole visit. `buyerBase` serves the buyer's laptop; `otherBase` the watcher and the buyer's phone. */
async function shopAround(buyerBase: string, otherBase: string) {
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const laptop = await (await browser.newContext({ userAgent: 'E2E laptop' })).newPage();
    const phone = await (await browser.newContext({ userAgent: 'E2E phone' })).newPage();
    const watcher = await (await browser.newContext({ userAgent: 'E2E other visitor' })).newPage();

    // Another visitor is looking at the catalog (on the other process).
    await watcher.goto(`${otherBase}/products`);
    await followingEvents(watcher);

    // Browse: the US catalog, then switch to the EU one.
    await laptop.goto(`${buyerBase}/products`);
    await laptop.locator('h1', { hasText: 'Catalog: us' }).waitFor();
    assert.match((await laptop.textContent('li[data-sku="kettle"] .price')) ?? '', /^39\.00 USD$/);
    await laptop.click('header a[href="/region/eu"]');
    await laptop.locator('h1', { hasText: 'Catalog: eu' }).waitFor();
    assert.match((await laptop.textContent('li[data-sku="kettle"] .price')) ?? '', /^35\.88 EUR$/);

    // Sign in on the laptop, and as the same user on the phone (the other process).
    await signIn(laptop, buyerBase, 'dana');
    await signIn(phone, otherBase, 'dana');

    // Add to cart; the cart is in the shared session, so the other process shows it too.
    await laptop.locator('h1', { hasText: 'Catalog: eu' }).waitFor();
    await Promise.all([laptop.waitForURL('**/cart'), laptop.click('li[data-sku="kettle"] button')]);
    assert.equal(await laptop.textContent('#cart-count'), '1');
    assert.equal(await laptop.textContent('#total'), '35.88 EUR');
    await laptop.goto(`${otherBase}/cart`);
    assert.equal(await laptop.textContent('#total'), '35.88 EUR', 'the session is shared by the processes');

    // Check out (on the buyer's process); the order is confirmed by the task after a retry.
    await laptop.goto(`${buyerBase}/cart`);
    await Promise.all([laptop.waitForURL('**/orders/*'), laptop.click('#checkout')]);
    const toast = watcher.locator('#live .bought', { hasText: 'Stovetop kettle' });
    await toast.waitFor({ timeout: 15_000 });
    assert.match((await toast.textContent()) ?? '', /Someone just bought Stovetop kettle/);
    await laptop.locator('#confirmed').waitFor({ timeout: 20_000 });
    assert.equal(await laptop.textContent('#order-status'), 'success');

    // Devices: the laptop and the phone; sign out everywhere.
    await laptop.goto(`${buyerBase}/account/devices`);
    assert.equal(await laptop.locator('tr.device').count(), 2);
    assert.match((await laptop.textContent('tr.device.current')) ?? '', /E2E laptop/);
    assert.match((await laptop.textContent('tr.device:not(.current)')) ?? '', /E2E phone/);
    await Promise.all([laptop.waitForURL(`${buyerBase}/`), laptop.click('#revoke-all')]);
    assert.equal(await laptop.textContent('#greeting'), 'Sign in');

    // The phone's next page finds its session gone.
    await phone.goto(`${otherBase}/account/devices`);
    assert.match(phone.url(), /\/login$/);
    assert.equal(await phone.textContent('#greeting'), 'Sign in');
    for (const page of [laptop, phone]) {
      const cookies = await page.context().cookies();
      assert.deepEqual(
        cookies.filter((c) => c.name === 'sessionid'),
        [],
      );
    }
  } finally {
    await browser?.close();
  }
}

/** Runs `visit`; if it fails, the error says what the storefront processes printed. */
async function withOutput(shops: Shop[], visit: () => Promise<void>) {
  try {
    await visit();
  } catch (error) {
    const printed = shops.map((shop, i) => `--- process ${i + 1} ---\n${shop.output()}`).join('\n');
    throw new Error(`${(error as Error).message}\n${printed}`, { cause: error });
  }
}

test('in Chromium, end to end on the in-memory default (one process)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'storefront-e2e-'));
  const shop = await startShop({ STOREFRONT_DB: path.join(dir, 'shop.db') });
  try {
    assert.match(shop.output(), /in-memory drivers, one process/);
    assert.match(shop.output(), /^ {2}sessions +memory$/m);
    assert.match(shop.output(), /^ {2}catalog +sqlite .*shop\.db$/m);
    await withOutput([shop], () => shopAround(shop.base, shop.base));
  } finally {
    const code = await shop.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, `a clean shutdown:\n${shop.output()}`);
  }
});

test('in Chromium, end to end on Redis with two processes', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'storefront-e2e-'));
  const redis = await startStandalone();
  const env = { REDIS_URL: redis.url, STOREFRONT_DB: path.join(dir, 'shop.db') };
  // Started together: both seed the same new database file at once.
  const started = await Promise.allSettled([startShop(env), startShop(env)]);
  const shops = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    for (const shop of shops) {
      assert.match(shop.output(), /\(Redis\)/);
      assert.match(shop.output(), /^ {2}sessions +redis redis:\/\/127\.0\.0\.1:\d+\/0$/m);
      assert.match(shop.output(), /^ {2}task worker +in this process$/m);
    }
    assert.notEqual(shops[0].base, shops[1].base);
    await withOutput(shops, () => shopAround(shops[0].base, shops[1].base));
  } finally {
    const codes = [];
    for (const shop of shops) codes.push(await shop.stop());
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
    if (shops.length === 2) {
      assert.deepEqual(codes, [0, 0], `clean shutdowns:\n${shops.map((s) => s.output()).join('\n')}`);
    }
  }
});
