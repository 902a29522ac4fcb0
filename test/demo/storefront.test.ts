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
import { createApp, RATE_LIMITS, type StorefrontOptions } from '../../examples/storefront/app.js';
import { makeFragmentKey } from '../../src/cache/fragment.js';
import { createLarder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { CHROMIUM, client } from './support.js';

/**
 * Serves the demo on a free port. The login guard's keys get a prefix of their own: every
 * request comes from 127.0.0.1, and the Redis server is shared.
 */
async function serve(larder: ReturnType<typeof createLarder>, options: StorefrontOptions = {}) {
  const loginGuard = { prefix: `storefront-test-${randomUUID()}`, ...options.loginGuard };
  const server = createApp(larder as never, { ...options, loginGuard }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** A Larder for `mode`, with sessions under a prefix of their own (the Redis server is shared). */
function larderFor(mode: 'memory' | 'redis', rateLimits: typeof RATE_LIMITS = RATE_LIMITS) {
  const env = mode === 'redis' ? { REDIS_URL: redisUrlFor('standalone') } : {};
  return createLarder(
    {
      logger: false,
      // Cache keys and tags of this test's own: orders confirmed by other tests on the shared
      // server invalidate their `catalog` tag, not this one.
      caches: { default: { keyPrefix: uniquePrefix('storefront') } },
      sessions: { prefix: `storefront-test:${randomUUID()}` },
      rateLimits,
    },
    env,
  );
}

/** The login form for `username` with the demo's password: the user id backwards. */
const credentials = (username: string, password = [...username.toLowerCase()].reverse().join('')) => ({
  username,
  password,
});

/** The devices page's handle for a session id (what account.ts shows instead of the id). */
const handleOf = (id: string) => createHash('sha256').update(id).digest('base64url').slice(0, 16);

test('embedded default: the page says so and health is ok with no connections', async () => {
  const larder = createLarder({ logger: false, rateLimits: RATE_LIMITS }, {});
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
  const larder = createLarder(
    { logger: false, rateLimits: RATE_LIMITS },
    { REDIS_URL: redisUrlFor('standalone') },
  );
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
    {
      logger: false,
      redis: { url: 'redis://127.0.0.1:1', connectTimeout: '200ms' },
      rateLimits: RATE_LIMITS,
    },
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
      body: new URLSearchParams(credentials('mallory')),
    });
    assert.equal(forged.status, 403);
    assert.deepEqual(forged.headers.getSetCookie(), []);
    const own = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: base },
      body: new URLSearchParams(credentials('alice')),
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
      assert.equal((await alice.post('/login', credentials('Alice'))).status, 303);
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
      await alice.post('/login', credentials('alice'));
      await bob.post('/login', credentials('bob'));
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
      await visitor.post('/login', credentials('carol'));
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
      for (const device of [laptop, phone, tablet]) await device.post('/login', credentials('alice'));
      await bob.post('/login', credentials('bob'));

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

  test(`the JSON API answers 429 with Retry-After and RateLimit headers past its limit (${mode})`, async () => {
    // A limit of 3 a minute (the demo's is 30), for the test's own signed-in user: the API
    // counts per user id when there is one, so no other test's requests share the count.
    const larder = larderFor(mode, { api: { limit: 3, window: 60 } });
    const { base, close } = await serve(larder);
    try {
      const visitor = client(base);
      const name = `api-${randomUUID().slice(0, 8)}`;
      assert.equal((await visitor.post('/login', credentials(name))).status, 303);
      for (let remaining = 2; remaining >= 0; remaining--) {
        const res = await visitor.request('/api/products?region=eu');
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('ratelimit-policy'), '"api";q=3;w=60');
        assert.match(res.headers.get('ratelimit') ?? '', new RegExp(`^"api";r=${remaining};t=(59|60)$`));
        const body = (await res.json()) as any;
        assert.equal(body.region, 'eu');
        assert.equal(body.products[0].currency, 'EUR');
      }
      const refused = await visitor.request('/api/products?region=eu');
      assert.equal(refused.status, 429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${retryAfter}`);
      assert.equal(refused.headers.get('ratelimit-policy'), '"api";q=3;w=60');
      assert.equal(refused.headers.get('ratelimit'), `"api";r=0;t=${retryAfter}`);
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json\b/);
      const problem = (await refused.json()) as any;
      assert.equal(problem.type, 'https://iana.org/assignments/http-problem-types#quota-exceeded');
      assert.equal(problem.status, 429);
      assert.deepEqual(problem['violated-policies'], ['api']);
      // The catalog page says where to look.
      const page = await (await visitor.request('/products/eu')).text();
      assert.match(page, /at most 3 requests per 60 seconds per visitor/);
      if (mode === 'memory') {
        // An anonymous visitor counts by address, apart from the signed-in user.
        assert.equal((await fetch(`${base}/api/products`)).status, 200);
      }
    } finally {
      await close();
      await larder.close();
    }
  });

  test(`sign-in refuses the 6th wrong password and, while blocked, the right one; a success resets the count (${mode})`, async () => {
    const larder = larderFor(mode);
    // A 2-second window in place of 15 minutes, so the block ends within the test.
    const { base, close } = await serve(larder, { loginGuard: { perUserAndIp: { limit: 5, window: 2 } } });
    try {
      const page = await (await fetch(`${base}/login`)).text();
      assert.match(page, /After 5 wrong passwords for one user name from\s+your address/);
      const visitor = client(base);
      const wrong = credentials('Dave', 'hunter2');
      for (let i = 1; i <= 4; i++) {
        const res = await visitor.post('/login', wrong);
        assert.equal(res.status, 200);
        assert.match(await res.text(), new RegExp(`Wrong password for Dave\\. ${5 - i} attempts? left\\.`));
      }
      const fifth = await visitor.post('/login', wrong);
      assert.equal(fifth.status, 200);
      assert.match(await fifth.text(), /That was the last attempt: try again in [12] seconds?\./);

      const sixth = await visitor.post('/login', wrong);
      assert.equal(sixth.status, 429);
      const retryAfter = Number(sixth.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 2, `Retry-After: ${retryAfter}`);
      assert.match(
        await sixth.text(),
        /id="login-error">Too many wrong passwords from your address\. Try again in [12] seconds?\.</,
      );
      const right = await visitor.post('/login', credentials('dave'));
      assert.equal(right.status, 429, 'the right password is refused while blocked');
      assert.equal(visitor.jar.has('sessionid'), false, 'and nobody is signed in');
      // The block is per user name: another user from the same address signs in.
      assert.equal((await client(base).post('/login', credentials('erin'))).status, 303);

      await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 100));
      for (let i = 0; i < 2; i++) await visitor.post('/login', wrong);
      const signedIn = await visitor.post('/login', credentials('DAVE'));
      assert.equal(signedIn.status, 303, 'after the block, the right password signs in');
      assert.ok(visitor.jar.has('sessionid'));
      const after = await visitor.post('/login', wrong);
      assert.match(
        await after.text(),
        /Wrong password for Dave\. 4 attempts left\./,
        'the success cleared the count',
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
        await page.getByText('its password is the user name backwards').waitFor();
        await page.fill('input[name="username"]', username);
        await page.fill('input[name="password"]', credentials(username).password);
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
