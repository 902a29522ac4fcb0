/**
 * The storefront's operations routes (examples/storefront/app.ts): the ops dashboard at
 * /ops only for the staff user `admin`, and the Prometheus text at /metrics counting what
 * the shop did — on the embedded default and on Redis.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { client, serve } from './support.js';

const login = (shopper: ReturnType<typeof client>, user: string) =>
  shopper.post('/login', { username: user, password: [...user].reverse().join('') });

for (const mode of ['memory', 'redis'] as const) {
  test(`/ops is the dashboard for the staff user only; /metrics counts the shop's operations (${mode})`, async () => {
    const { base, close } = await serve(mode);
    try {
      const anonymous = await fetch(`${base}/ops`, { redirect: 'manual' });
      assert.equal(anonymous.status, 403);
      const alice = client(base);
      await login(alice, 'alice');
      assert.equal((await alice.request('/ops')).status, 403);
      assert.doesNotMatch(await (await alice.request('/products')).text(), /id="ops-link"/);

      const admin = client(base);
      await login(admin, 'admin');
      assert.match(await (await admin.request('/products')).text(), /<a href="\/ops" id="ops-link">Ops<\/a>/);
      const page = await admin.request('/ops');
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(await page.text(), /<title>storefront ops<\/title>/);
      const info = await admin.request('/ops/info');
      assert.equal(info.status, 200);
      assert.equal((await alice.request('/ops/info')).status, 403);

      await fetch(`${base}/products/eu`);
      const metrics = await fetch(`${base}/metrics`);
      assert.equal(metrics.status, 200);
      const text = await metrics.text();
      assert.match(text, /^larder_cache_operations_total\{[^}]*cache="default"[^}]*\} [1-9]/m);
      assert.match(text, /^# TYPE larder_session_operation_duration_seconds histogram$/m);
    } finally {
      await close();
    }
  });
}
