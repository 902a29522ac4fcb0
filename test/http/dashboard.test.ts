/**
 * The ops dashboard over real HTTP on Express 5, Fastify 5 and Hono 4, mounted at `/ops`:
 * authorization (403 with nothing in it), the server-rendered page (CSP, escaping, hashed
 * assets), `/stream` frames that count cache traffic, `/info` on Redis standalone and every
 * node of a Cluster, `/keys` biggest first — and `web.metrics()`'s Prometheus text.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import * as expressAdapter from '../../src/adapters/express.js';
import * as fastifyAdapter from '../../src/adapters/fastify.js';
import * as honoAdapter from '../../src/adapters/hono.js';
import { ConfigError } from '../../src/errors.js';
import type { DashboardFrame } from '../../src/http/dashboard/index.js';
import { frameBetween, quantile } from '../../src/http/dashboard/rates.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { LATENCY_BUCKETS_MS, type MetricsSnapshot, type OpStats } from '../../src/metrics/types.js';
import { openSse } from '../realtime/sse-client.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

export type Framework = 'express' | 'fastify' | 'hono';
export const FRAMEWORKS: readonly Framework[] = ['express', 'fastify', 'hono'];

/** Staff are requests with `x-staff: yes` or the cookie `staff=yes` (the browser test's). */
export const STAFF = { 'x-staff': 'yes' };
const isStaff = (header: string | undefined, cookie: string | undefined) =>
  header === 'yes' || /(?:^|;\s*)staff=yes(?:;|$)/.test(cookie ?? '');

/** A cache name with every character the page must escape. */
export const HOSTILE = `<img src=x onerror="alert(1)">&'`;

export interface Served {
  base: string;
  close(): Promise<void>;
}

/** `framework` serving `web.dashboard()` at `/ops` and `web.metrics()` at `/metrics`. */
export async function serveDashboard(
  framework: Framework,
  larder: Larder,
  interval = '200ms',
): Promise<Served> {
  if (framework === 'express') {
    const web = expressAdapter.adapt(larder);
    const app = express();
    app.use(
      '/ops',
      web.dashboard({ interval, authorize: (req) => isStaff(req.get('x-staff'), req.get('cookie')) }),
    );
    app.get('/metrics', web.metrics());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    return {
      base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }
  if (framework === 'fastify') {
    const web = fastifyAdapter.adapt(larder);
    const app = Fastify();
    await app.register(
      web.dashboard({
        interval,
        authorize: (request) => isStaff(request.headers['x-staff'] as string, request.headers.cookie),
      }),
      { prefix: '/ops' },
    );
    app.get('/metrics', web.metrics());
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      base,
      close: async () => {
        app.server.closeAllConnections();
        await app.close();
      },
    };
  }
  const web = honoAdapter.adapt(larder);
  const app = new Hono();
  app.route(
    '/ops',
    web.dashboard({ interval, authorize: (c) => isStaff(c.req.header('x-staff'), c.req.header('cookie')) }),
  );
  app.get('/metrics', web.metrics());
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections(): void }).closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const adapters = { express: expressAdapter, fastify: fastifyAdapter, hono: honoAdapter };

for (const framework of FRAMEWORKS) {
  describe(`dashboard on ${framework}`, () => {
    let larder: Larder;
    let served: Served;
    const prefix = uniquePrefix('dash');
    before(async () => {
      larder = createLarder(
        {
          logger: false,
          redis: redisUrlFor('standalone')!,
          caches: {
            default: { backend: 'redis', keyPrefix: prefix },
            local: { backend: 'memory' },
            [HOSTILE]: { backend: 'memory' },
          },
        },
        {},
      );
      served = await serveDashboard(framework, larder);
    });
    after(async () => {
      await served.close();
      await larder.close();
    });

    test('dashboard() without authorize is a ConfigError naming the option', () => {
      const web = adapters[framework].adapt(larder);
      assert.throws(
        () => (web.dashboard as (o: unknown) => unknown)({ interval: 1 }),
        (error: unknown) => error instanceof ConfigError && error.path === 'dashboard.authorize',
      );
      assert.throws(() => (web.dashboard as (o: unknown) => unknown)(undefined), ConfigError);
    });

    test('every route answers 403 problem+json without authorization, with no figure in it', async () => {
      await larder.cache().set('secret-key-name', 'v');
      const asset = (await (await fetch(`${served.base}/ops`, { headers: STAFF })).text()).match(
        /assets\/(uplot\.[0-9a-f]+\.js)/,
      )?.[1];
      assert.ok(asset, 'the page links uPlot by a hashed name');
      for (const path of [
        '/ops',
        '/ops/stream',
        '/ops/info',
        '/ops/keys?cache=default',
        `/ops/assets/${asset}`,
      ]) {
        const res = await fetch(`${served.base}${path}`, { headers: { 'x-staff': 'no' } });
        assert.equal(res.status, 403, path);
        assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, path);
        const body = await res.text();
        assert.equal(JSON.parse(body).status, 403);
        assert.doesNotMatch(body, /secret-key-name|redis_version|uplot|default/i, path);
      }
    });

    test('the page renders the figures, escapes cache names, and serves its assets from the package', async () => {
      const res = await fetch(`${served.base}/ops`, { headers: STAFF });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      const html = await res.text();
      assert.ok(!html.includes(HOSTILE), 'the hostile cache name is never written raw');
      assert.ok(html.includes('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;'));
      assert.doesNotMatch(html, /<script>|<script(?![^>]*\bsrc=)/, 'no inline script');
      assert.match(html, /id="cache-rows"/);
      assert.match(html, /id="chart-hit-ratio"/);
      const files = [...html.matchAll(/\/ops\/assets\/([\w.]+)/g)].map((m) => m[1]);
      assert.deepEqual(files.map((f) => f.replace(/\.[0-9a-f]{10}\./, '.')).sort(), [
        'dashboard.css',
        'dashboard.js',
        'uplot.css',
        'uplot.js',
      ]);
      for (const file of files) {
        const asset = await fetch(`${served.base}/ops/assets/${file}`, { headers: STAFF });
        assert.equal(asset.status, 200, file);
        assert.match(asset.headers.get('cache-control') ?? '', /max-age=31536000, immutable/);
        assert.ok((await asset.text()).length > 100, file);
      }
      const uplot = await (
        await fetch(
          `${served.base}/ops/assets/${files.find((f) => f.startsWith('uplot.') && f.endsWith('.js'))}`,
          { headers: STAFF },
        )
      ).text();
      assert.match(uplot, /uPlot/);
      const head = await fetch(`${served.base}/ops/stream`, { method: 'HEAD', headers: STAFF });
      assert.equal(head.status, 200);
      assert.match(head.headers.get('content-type') ?? '', /^text\/event-stream/);
      const missing = await fetch(`${served.base}/ops/assets/nope.js`, { headers: STAFF });
      assert.equal(missing.status, 404);
    });

    test('/stream sends a frame per interval, and a frame after cache traffic counts it', async () => {
      const client = await openSse(`${served.base}/ops/stream`, { headers: STAFF });
      try {
        assert.equal(client.status, 200);
        assert.match(String(client.headers['content-type']), /^text\/event-stream/);
        await client.waitFor(1, 10_000);
        const first = JSON.parse(client.events[0].data) as DashboardFrame;
        assert.equal(first.dashboardClients, 1);
        assert.equal(typeof first.sessions.count, 'number', 'larder.sessions.count() is shown');
        // Frames from now on: the traffic below lands in one of them.
        const seen = client.events.length;
        const cache = larder.cache();
        for (let i = 0; i < 30; i++) await cache.set(`k${i}`, i);
        for (let i = 0; i < 40; i++) await cache.get(`k${i}`);
        const limiter = larder.rateLimiter({ name: `dash-${framework}`, limit: 2, window: '1m' });
        for (let i = 0; i < 5; i++) await limiter.consume('someone');
        for (let i = 0; i < 4; i++) await larder.pubsub.publish(uniquePrefix('dash-news'), { i });
        const frames = () => client.events.slice(seen).map((e) => JSON.parse(e.data) as DashboardFrame);
        // Ticks may fall anywhere in the traffic: read the frames together, not one of them.
        const counted = (f: DashboardFrame) => f.caches.default?.hits >= 30 && f.caches.default.misses >= 10;
        await client.waitFor(() => frames().some(counted), 10_000);
        assert.ok(frames().some((f) => f.caches.default?.opsPerSec > 0));
        assert.ok(frames().some((f) => (f.caches.default?.hitRatio ?? 0) > 0));
        assert.ok(frames().some((f) => (f.caches.default?.p50Ms ?? 0) > 0));
        // Rates × interval, summed over the frames, give back the counts.
        const name = `dash-${framework}`;
        const total = (rate: (f: DashboardFrame) => number | undefined) =>
          Math.round(frames().reduce((n, f) => n + ((rate(f) ?? 0) * f.intervalMs) / 1000, 0));
        await client.waitFor(() => total((f) => f.rateLimits[name]?.deniedPerSec) === 3, 10_000);
        assert.equal(
          total((f) => f.rateLimits[name]?.allowedPerSec),
          2,
        );
        await client.waitFor(() => total((f) => f.pubsub.publishedPerSec) === 4, 10_000);
      } finally {
        client.close();
      }
    });

    test('web.metrics() answers the Prometheus text exposition', async () => {
      await larder.cache().get('counted');
      const res = await fetch(`${served.base}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      assert.match(text, /^# (HELP|TYPE) larder_/m);
      assert.match(text, /cache="default"/);
    });
  });
}

describe('dashboard rates', () => {
  const op = (count: number, bucket: number): OpStats => {
    const buckets = new Array(LATENCY_BUCKETS_MS.length + 1).fill(0);
    buckets[bucket] = count;
    return { count, errors: 0, sumMs: 0, buckets };
  };
  const snapshot = (at: number, gets: number, hits: number, misses: number): MetricsSnapshot => ({
    at,
    since: 0,
    caches: {
      c: {
        hits,
        misses,
        localHits: 0,
        staleHits: 0,
        errors: 0,
        decodeErrors: 0,
        hitRatio: null,
        ops: { get: op(gets, 4) },
      },
    },
    sessions: { created: 0, loads: 0, writes: 0, deleted: 0, errors: 0, ops: {} },
    rateLimits: { api: { allowed: 10, denied: gets, degraded: 0, ops: {} } },
    tasks: {},
    pubsub: { published: 0, delivered: 0, events: 0, sseClients: 2 },
  });

  test('quantiles interpolate inside the bucket that holds them; +Inf is the last bound; empty is null', () => {
    const buckets = new Array(LATENCY_BUCKETS_MS.length + 1).fill(0);
    assert.equal(quantile(buckets, 0.5), null);
    buckets[4] = 10; // (0.5, 1] ms
    assert.equal(quantile(buckets, 0.5), 0.75);
    assert.equal(quantile(buckets, 1), 1);
    buckets[LATENCY_BUCKETS_MS.length] = 90; // +Inf
    assert.equal(quantile(buckets, 0.99), 5000);
    assert.equal(quantile(buckets, 0.05), 0.75);
  });

  test('a frame is the difference of two snapshots per second; a counter that went down counts from zero', () => {
    const frame = frameBetween(snapshot(1000, 100, 60, 40), snapshot(3000, 300, 210, 90));
    assert.equal(frame.intervalMs, 2000);
    assert.equal(frame.caches.c.opsPerSec, 100);
    assert.equal(frame.caches.c.hitRatio, 0.75);
    assert.equal(frame.caches.c.p50Ms, 0.75);
    assert.equal(frame.rateLimits.api.deniedPerSec, 100);
    assert.equal(frame.rateLimits.api.allowedPerSec, 0);
    assert.equal(frame.pubsub.sseClients, 2);
    const restarted = frameBetween(snapshot(1000, 300, 210, 90), snapshot(2000, 50, 10, 0));
    assert.equal(restarted.caches.c.opsPerSec, 50);
    assert.equal(restarted.caches.c.hitRatio, 1);
    const sinceStart = frameBetween(undefined, snapshot(4000, 400, 0, 0));
    assert.equal(sinceStart.caches.c.opsPerSec, 100);
    assert.equal(sinceStart.caches.c.hitRatio, null);
  });
});

describe('dashboard /info and /keys on Redis', () => {
  let standalone: Larder;
  let cluster: Larder;
  let embedded: Larder;
  const served: Served[] = [];
  const prefix = uniquePrefix('keys');
  before(async () => {
    standalone = createLarder(
      {
        logger: false,
        redis: redisUrlFor('standalone')!,
        caches: { default: { backend: 'redis', keyPrefix: prefix }, local: { backend: 'memory' } },
      },
      {},
    );
    cluster = createLarder(
      {
        logger: false,
        redis: redisUrlFor('cluster')!,
        caches: { default: { backend: 'redis', keyPrefix: uniquePrefix('keys-cluster') } },
      },
      {},
    );
    embedded = createLarder({ logger: false }, {});
  });
  after(async () => {
    for (const s of served) await s.close();
    await Promise.all([standalone.close(), cluster.close(), embedded.close()]);
  });
  const json = async (base: string, path: string) => {
    const res = await fetch(`${base}${path}`, { headers: STAFF });
    return { status: res.status, body: (await res.json()) as any };
  };

  test('/info on standalone: the server with its version, memory, clients and keyspace', async () => {
    const s = await serveDashboard('fastify', standalone);
    served.push(s);
    await standalone.cache().set('one', 1);
    const { status, body } = await json(s.base, '/ops/info');
    assert.equal(status, 200);
    assert.equal(body.embedded, false);
    assert.equal(body.connections.length, 1);
    const [node] = body.connections[0].nodes;
    const port = new URL(redisUrlFor('standalone')!).port;
    assert.equal(node.address, `127.0.0.1:${port}`);
    assert.match(node.version, /^\d+\.\d+/);
    assert.match(node.usedMemory, /^[\d.]+[BKMG]$/);
    assert.ok(node.connectedClients >= 1);
    assert.ok(Object.values(node.keyspace as Record<string, { keys: number }>).some((db) => db.keys >= 1));
  });

  test('/info on Cluster lists every node, primaries and replicas; the page shows each', async () => {
    const s = await serveDashboard('hono', cluster);
    served.push(s);
    const { status, body } = await json(s.base, '/ops/info');
    assert.equal(status, 200);
    assert.equal(body.connections.length, 1);
    assert.equal(body.connections[0].topology, 'cluster');
    const everyNode = redisUrlFor('cluster')!
      .replace(/^redis\+cluster:\/\//, '')
      .split(',')
      .map((n) => n.replace(/\/.*$/, ''));
    assert.equal(everyNode.length, 6);
    const nodes = body.connections[0].nodes as Array<{ address: string; role: string; error?: string }>;
    assert.deepEqual(nodes.map((n) => n.address).sort(), [...everyNode].sort());
    assert.ok(nodes.every((n) => n.error === undefined));
    assert.equal(nodes.filter((n) => n.role === 'master').length, 3);
    assert.equal(nodes.filter((n) => n.role === 'slave').length, 3);
    const html = await (await fetch(`${s.base}/ops`, { headers: STAFF })).text();
    for (const address of everyNode) assert.ok(html.includes(`<th>${address}</th>`), address);
  });

  test('/keys on Cluster: keys from every primary, measured on the node that holds each', async () => {
    const s = await serveDashboard('fastify', cluster);
    served.push(s);
    const sizes = [10, 3_000, 300, 30_000, 30];
    // Keys spread over the slots, so over the three primaries.
    for (const [i, size] of sizes.entries()) await cluster.cache().set(`key-${i}`, 'v'.repeat(size));
    const { status, body } = await json(s.base, '/ops/keys?cache=default&sample=50');
    assert.equal(status, 200);
    assert.equal(body.measure, 'MEMORY USAGE');
    assert.equal(body.sampled, sizes.length);
    assert.deepEqual(
      body.keys.map((k: { key: string }) => k.key.replace(/^.*:/, '')),
      ['key-3', 'key-1', 'key-2', 'key-4', 'key-0'],
    );
  });

  test('/info on the embedded default says it runs in memory', async () => {
    const s = await serveDashboard('express', embedded);
    served.push(s);
    const { body } = await json(s.base, '/ops/info');
    assert.equal(body.embedded, true);
    assert.deepEqual(body.connections, []);
    assert.match(body.message, /in-memory/);
  });

  test('/keys lists the biggest key first (MEMORY USAGE on Redis, payload bytes in memory), bounded by sample', async () => {
    const s = await serveDashboard('express', standalone);
    served.push(s);
    await standalone.cache().clear();
    for (const cache of [standalone.cache('default'), standalone.cache('local')]) {
      await cache.set('small', 'x');
      await cache.set('huge', 'y'.repeat(20_000), { timeout: 600 });
      await cache.set('medium', 'z'.repeat(2_000), { timeout: null });
    }
    for (const [name, measure] of [
      ['default', 'MEMORY USAGE'],
      ['local', 'payload bytes'],
    ]) {
      const { status, body } = await json(s.base, `/ops/keys?cache=${name}&sample=100`);
      assert.equal(status, 200, name);
      assert.equal(body.measure, measure);
      assert.equal(body.sampled, 3);
      assert.deepEqual(
        body.keys.map((k: { key: string }) => k.key.replace(/^.*:/, '')),
        ['huge', 'medium', 'small'],
      );
      assert.ok(body.keys[0].bytes > 20_000);
      assert.ok(body.keys[0].ttlSeconds > 590 && body.keys[0].ttlSeconds <= 600);
      assert.equal(body.keys[1].ttlSeconds, null);
    }
    const bounded = await json(s.base, '/ops/keys?cache=default&sample=2');
    assert.equal(bounded.body.sampled, 2);
    assert.equal((await json(s.base, '/ops/keys?cache=nope')).status, 404);
    for (const sample of ['0', '-1', '1.5', 'lots', '10001']) {
      const bad = await json(s.base, `/ops/keys?cache=default&sample=${sample}`);
      assert.equal(bad.status, 400, sample);
      assert.match(bad.body.detail, /sample must be a whole number from 1 to 10000/);
    }
  });
});
