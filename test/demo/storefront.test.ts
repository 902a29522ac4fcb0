/**
 * The storefront demo over real HTTP: the embedded default and the Redis mode each serve
 * the status page and the health route.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createApp } from '../../examples/storefront/app.js';
import { createLarder } from '../../src/larder.js';
import { redisUrlFor } from '../support/conformance.js';

async function serve(larder: ReturnType<typeof createLarder>) {
  const server = createApp(larder as never).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, close: () => new Promise((resolve) => server.close(resolve)) };
}

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

for (const mode of ['memory', 'redis'] as const) {
  test(`catalog pages are cached (${mode}): page cache per region and user, catalog query via getOrSet`, async () => {
    const env = mode === 'redis' ? { REDIS_URL: redisUrlFor('standalone') } : {};
    const larder = createLarder({ logger: false }, env);
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

  test(`the sidebar fragment is cached per user, and one user's page never reaches another (${mode})`, async () => {
    const env = mode === 'redis' ? { REDIS_URL: redisUrlFor('standalone') } : {};
    const larder = createLarder({ logger: false }, env);
    await larder.cache().clear();
    const { base, close } = await serve(larder);
    try {
      const page = (user: string) => fetch(`${base}/products/us`, { headers: { cookie: `user=${user}` } });
      const alice = await (await page('alice')).text();
      const bob = await (await page('bob')).text();
      assert.match(alice, /Hello, alice/);
      assert.match(bob, /Hello, bob/);
      assert.doesNotMatch(bob, /alice/);
      const fragmentKey = (await import('../../src/cache/fragment.js')).makeFragmentKey('sidebar', ['alice']);
      assert.match(String(await larder.cache().get(fragmentKey)), /Hello, alice/);
    } finally {
      await close();
      await larder.close();
    }
  });
}
