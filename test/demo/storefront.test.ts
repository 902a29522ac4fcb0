/**
 * The storefront demo over real HTTP and in a real browser (playwright-core driving
 * Debian's Chromium), on the embedded default and on Redis: the status page, the page
 * cache per region, sessions (login, cart, logout) and "your devices".
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { createApp } from '../../examples/storefront/app.js';
import { makeFragmentKey } from '../../src/cache/fragment.js';
import { createLarder } from '../../src/larder.js';
import { redisUrlFor } from '../support/conformance.js';

const CHROMIUM = '/usr/bin/chromium';

async function serve(larder: ReturnType<typeof createLarder>) {
  const server = createApp(larder as never).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** A Larder for `mode`, with sessions under a prefix of their own (the Redis server is shared). */
function larderFor(mode: 'memory' | 'redis') {
  const env = mode === 'redis' ? { REDIS_URL: redisUrlFor('standalone') } : {};
  return createLarder({ logger: false, sessions: { prefix: `storefront-test:${randomUUID()}` } }, env);
}

/** A fetch client with a cookie jar, for the HTTP-level tests. */
function client(base: string, userAgent = 'storefront-test') {
  const jar = new Map<string, string>();
  const request = async (path: string, init: RequestInit = {}) => {
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
    const res = await fetch(`${base}${path}`, {
      redirect: 'manual',
      ...init,
      headers: { 'user-agent': userAgent, ...(cookie ? { cookie } : {}), ...init.headers },
    });
    for (const line of res.headers.getSetCookie()) {
      const [name, value] = line.split(';')[0].split('=');
      if (/;\s*max-age=0/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  };
  const post = (path: string, form: Record<string, string> = {}) =>
    request(path, { method: 'POST', body: new URLSearchParams(form) });
  return { jar, request, post };
}

/** The devices page's handle for a session id (what account.ts shows instead of the id). */
const handleOf = (id: string) => createHash('sha256').update(id).digest('base64url').slice(0, 16);

test('embedded default: the page says so and health is ok with no connections', async () => {
  const larder = createLarder({ logger: false }, {});
  const { base, close } = await serve(larder);
  try {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /Embedded mode: in-memory drivers/);
    assert.match(html, /<span id="status">ok<\/span>/);
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 200);
    assert.equal(health.headers.get('cache-control'), 'no-store');
    const body = (await health.json()) as any;
    assert.equal(body.embedded, true);
    assert.deepEqual(body.connections, []);
  } finally {
    await close();
    await larder.close();
  }
});

test('with REDIS_URL: the page shows the Redis connection up, with its round trip', async () => {
  const larder = createLarder({ logger: false }, { REDIS_URL: redisUrlFor('standalone') });
  const { base, close } = await serve(larder);
  try {
    const html = await (await fetch(`${base}/`)).text();
    assert.match(html, /Running on Redis/);
    assert.match(html, /class="up">up</);
    const body = (await (await fetch(`${base}/health`)).json()) as any;
    assert.equal(body.status, 'ok');
    assert.equal(body.connections[0].topology, 'standalone');
  } finally {
    await close();
    await larder.close();
  }
});

test('health answers 503 when Redis is unreachable', async () => {
  const larder = createLarder(
    { logger: false, redis: { url: 'redis://127.0.0.1:1', connectTimeout: '200ms' } },
    {},
  );
  const { base, close } = await serve(larder);
  try {
    const res = await fetch(`${base}/health`);
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as any).status, 'down');
  } finally {
    await close();
    await larder.close();
  }
});

test('a form posted from another site is refused before it reaches the session', async () => {
  const larder = larderFor('memory');
  const { base, close } = await serve(larder);
  try {
    const forged = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: 'https://evil.example' },
      body: new URLSearchParams({ username: 'mallory' }),
    });
    assert.equal(forged.status, 403);
    assert.deepEqual(forged.headers.getSetCookie(), []);
    const own = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: base },
      body: new URLSearchParams({ username: 'alice' }),
    });
    assert.equal(own.status, 303);
    assert.match(own.headers.getSetCookie()[0] ?? '', /^sessionid=/);
  } finally {
    await close();
    await larder.close();
  }
});

for (const mode of ['memory', 'redis'] as const) {
  test(`catalog pages are cached (${mode}): page cache per region, catalog query via getOrSet`, async () => {
    const larder = larderFor(mode);
    await larder.cache().clear();
    const { base, close } = await serve(larder);
    try {
      const first = await fetch(`${base}/products/eu`);
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
      assert.match(first.headers.get('server-timing') ?? '', /^cache;desc="miss";dur=/);
      assert.match(await first.text(), /EUR/);
      const second = await fetch(`${base}/products/eu`);
      assert.match(second.headers.get('cache-status') ?? '', /^larder; hit/);
      const other = await fetch(`${base}/products/apac`);
      assert.match(other.headers.get('cache-status') ?? '', /fwd=uri-miss/, 'each region has its own page');
      assert.match(await other.text(), /SGD/);
      assert.equal((await fetch(`${base}/products/mars`)).status, 404);
    } finally {
      await close();
      await larder.close();
    }
  });

  test(`a signed-in visitor's catalog page is private, never stored nor served to anyone (${mode})`, async () => {
    const larder = larderFor(mode);
    await larder.cache().clear();
    const { base, close } = await serve(larder);
    try {
      const anonymous = await fetch(`${base}/products/us`);
      assert.equal(anonymous.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
      assert.match(anonymous.headers.get('vary') ?? '', /Cookie/);
      assert.deepEqual(anonymous.headers.getSetCookie(), [], 'an anonymous page carries no session cookie');
      assert.match(await anonymous.text(), /id="greeting">Sign in</);

      const alice = client(base);
      assert.equal((await alice.post('/login', { username: 'Alice' })).status, 303);
      for (let i = 0; i < 2; i++) {
        const page = await alice.request('/products/us');
        assert.equal(page.headers.get('cache-control'), 'private');
        assert.equal(page.headers.get('cache-status'), 'larder; fwd=uri-miss; detail=private');
        assert.match(await page.text(), /id="greeting">Hi, Alice</);
      }
      await alice.post('/cart/add', { sku: 'press' });
      const after = await (await alice.request('/products/us')).text();
      assert.match(after, /id="cart-count">1</, 'the count is fresh, not a cached page');

      const again = await fetch(`${base}/products/us`);
      assert.match(again.headers.get('cache-status') ?? '', /^larder; hit/);
      assert.doesNotMatch(await again.text(), /Alice/);
    } finally {
      await close();
      await larder.close();
    }
  });

  test(`the sidebar fragment is cached per signed-in user, and one user's page never reaches another (${mode})`, async () => {
    const larder = larderFor(mode);
    await larder.cache().clear();
    const { base, close } = await serve(larder);
    try {
      const alice = client(base);
      const bob = client(base);
      await alice.post('/login', { username: 'alice' });
      await bob.post('/login', { username: 'bob' });
      const alicePage = await (await alice.request('/products/us')).text();
      const bobPage = await (await bob.request('/products/us')).text();
      assert.match(alicePage, /Signed in as alice/);
      assert.match(bobPage, /Signed in as bob/);
      assert.doesNotMatch(bobPage, /alice/);
      const sidebar = String(await larder.cache().get(makeFragmentKey('sidebar', ['alice'])));
      assert.match(sidebar, /Signed in as alice/);
      const rendered = /Sidebar rendered at ([^<]+)</.exec(alicePage)?.[1];
      const later = await (await alice.request('/cart')).text();
      assert.equal(
        /Sidebar rendered at ([^<]+)</.exec(later)?.[1],
        rendered,
        'the fragment came from the cache',
      );
    } finally {
      await close();
      await larder.close();
    }
  });

  test(`an anonymous cart survives signing in, under a new session id (${mode})`, async () => {
    const larder = larderFor(mode);
    const { base, close } = await serve(larder);
    try {
      const visitor = client(base);
      await visitor.post('/cart/add', { sku: 'kettle' });
      await visitor.post('/cart/add', { sku: 'kettle' });
      const anonymousId = visitor.jar.get('sessionid');
      assert.ok(anonymousId, 'adding to the cart starts a session');
      const cart = await (await visitor.request('/cart')).text();
      assert.match(cart, /class="quantity">2</);
      await visitor.post('/login', { username: 'carol' });
      const signedIn = visitor.jar.get('sessionid');
      assert.ok(signedIn);
      assert.notEqual(signedIn, anonymousId, 'login cycles the session id');
      assert.match(await (await visitor.request('/cart')).text(), /id="cart-count">2</);
      const planted = await fetch(`${base}/cart`, { headers: { cookie: `sessionid=${anonymousId}` } });
      assert.match(await planted.text(), /id="cart-count">0</, 'the pre-login id no longer works');
    } finally {
      await close();
      await larder.close();
    }
  });

  test(`devices: a user revokes only their own sessions; "sign out everywhere else" keeps this one (${mode})`, async () => {
    const larder = larderFor(mode);
    const { base, close } = await serve(larder);
    try {
      const laptop = client(base, 'laptop');
      const phone = client(base, 'phone');
      const tablet = client(base, 'tablet');
      const bob = client(base, 'bob-browser');
      for (const device of [laptop, phone, tablet]) await device.post('/login', { username: 'alice' });
      await bob.post('/login', { username: 'bob' });

      // alice posts the handle of bob's session: not one of hers, so nothing happens.
      const bobHandle = handleOf(bob.jar.get('sessionid') as string);
      await laptop.post('/account/devices/revoke', { device: bobHandle });
      assert.match(await (await bob.request('/products/us')).text(), /Hi, bob/);
      assert.match(await (await laptop.request('/account/devices')).text(), /already signed out/);

      const page = await (await laptop.request('/account/devices')).text();
      assert.equal(page.match(/<tr class="device/g)?.length, 3);
      assert.doesNotMatch(
        page,
        new RegExp(laptop.jar.get('sessionid') as string),
        'no session id in the page',
      );

      await laptop.post('/account/devices/revoke-others');
      const after = await (await laptop.request('/account/devices')).text();
      assert.match(after, /Signed out 2 other devices\./);
      assert.equal(after.match(/<tr class="device/g)?.length, 1);
      for (const device of [phone, tablet]) {
        assert.match(await (await device.request('/products/us')).text(), /id="greeting">Sign in</);
        assert.equal(device.jar.has('sessionid'), false, 'the stale cookie is cleared');
      }
      assert.deepEqual(
        (await larder.sessions.forUser('alice').list()).map((s) => s.userAgent),
        ['laptop'],
      );
    } finally {
      await close();
      await larder.close();
    }
  });

  test(`in Chromium (${mode}): login, cart, two devices, revoke one, logout; the cookie is HttpOnly and SameSite=Lax`, async () => {
    const larder = larderFor(mode);
    await larder.cache().clear();
    const { base, close } = await serve(larder);
    let browser: Browser | undefined;
    try {
      // Chromium refuses to run as root with its sandbox on.
      const args = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
      browser = await chromium.launch({ executablePath: CHROMIUM, args });
      const laptop = await browser.newContext({ baseURL: base, userAgent: 'Storefront test (laptop)' });
      const phone = await browser.newContext({ baseURL: base, userAgent: 'Storefront test (phone)' });
      const onLaptop = await laptop.newPage();
      const onPhone = await phone.newPage();

      const signIn = async (page: typeof onLaptop, username: string) => {
        await page.goto('/login');
        await page.getByText('there are no passwords').waitFor();
        await page.fill('input[name="username"]', username);
        await Promise.all([page.waitForURL('**/products'), page.click('#login')]);
      };
      const addToCart = async (sku: string) => {
        await onLaptop.goto('/products');
        await Promise.all([onLaptop.waitForURL('**/cart'), onLaptop.click(`li[data-sku="${sku}"] button`)]);
      };

      await signIn(onLaptop, 'Alice');
      assert.equal(await onLaptop.textContent('#greeting'), 'Hi, Alice');
      assert.equal(await onLaptop.textContent('#cart-count'), '0');
      await addToCart('kettle');
      await addToCart('grinder');
      assert.equal(await onLaptop.textContent('#cart-count'), '2');
      assert.equal(await onLaptop.locator('#cart tr[data-sku]').count(), 2);

      const [cookie] = (await laptop.cookies()).filter((c) => c.name === 'sessionid');
      assert.ok(cookie, 'the session cookie is set');
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Lax');
      assert.equal(cookie.secure, false, 'plain HTTP outside production: Secure is off (auto)');
      assert.equal(String(await onLaptop.evaluate('document.cookie')).includes('sessionid'), false);

      await signIn(onPhone, 'alice');
      assert.equal(await onPhone.textContent('#greeting'), 'Hi, alice');
      assert.equal(await onPhone.textContent('#cart-count'), '0', 'the cart belongs to the other session');

      await onLaptop.goto('/account/devices');
      assert.equal(await onLaptop.locator('tr.device').count(), 2);
      assert.match((await onLaptop.textContent('tr.device.current')) ?? '', /\(laptop\)[\s\S]*this device/);
      assert.match((await onLaptop.textContent('tr.device:not(.current)')) ?? '', /\(phone\)/);
      await Promise.all([
        onLaptop.waitForURL('**/account/devices'),
        onLaptop.click('tr.device:not(.current) button'),
      ]);
      assert.equal(await onLaptop.textContent('#flash'), 'The device was signed out.');
      assert.equal(await onLaptop.locator('tr.device').count(), 1);

      // The phone's next request finds its session gone: signed out, cookie cleared.
      await onPhone.goto('/account/devices');
      assert.match(onPhone.url(), /\/login$/);
      assert.equal(await onPhone.textContent('#greeting'), 'Sign in');
      assert.deepEqual(
        (await phone.cookies()).filter((c) => c.name === 'sessionid'),
        [],
      );

      await onLaptop.goto('/products');
      assert.equal(await onLaptop.textContent('#cart-count'), '2', 'the laptop keeps its session');
      await Promise.all([onLaptop.waitForURL(`${base}/`), onLaptop.click('#logout')]);
      assert.equal(await onLaptop.textContent('#greeting'), 'Sign in');
      assert.equal(await onLaptop.textContent('#cart-count'), '0');
      assert.deepEqual(
        (await laptop.cookies()).filter((c) => c.name === 'sessionid'),
        [],
      );
      assert.deepEqual(await larder.sessions.forUser('alice').list(), []);
    } finally {
      await browser?.close();
      await close();
      await larder.close();
    }
  });
}
