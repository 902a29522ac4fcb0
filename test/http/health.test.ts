/**
 * The health route (`web.health()`, Express here; all adapters render `healthResponse`)
 * over real HTTP against real servers that are then stopped: 200 while every required
 * connection answers, still 200 (`degraded`) when only a cache with `ignoreErrors` has lost
 * its server, 503 (`down`) once a required one has.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import express from 'express';
import { adapt } from '../../src/adapters/express.js';
import { createLarder } from '../../src/larder.js';
import { startStandalone } from '../support/redis-server.js';

test('health route: 200 ok, 200 degraded (optional cache down), 503 down (required server down)', async () => {
  const [main, spare] = await Promise.all([startStandalone(), startStandalone()]);
  const larder = createLarder(
    {
      logger: false,
      redis: { url: main.url, connectTimeout: '2s' },
      caches: {
        default: { backend: 'redis' },
        spare: {
          backend: 'redis',
          location: { url: spare.url, connectTimeout: '2s' },
          ignoreErrors: true,
        },
      },
    },
    {},
  );
  const app = express();
  app.get('/health', adapt(larder).health());
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
  const check = async () => {
    const res = await fetch(url);
    return { status: res.status, body: (await res.json()) as any };
  };
  const connectionTo = (body: any, port: number) =>
    body.connections.find((c: any) => c.role === 'commands' && c.name.includes(`:${port}/`));
  try {
    const up = await check();
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.equal(up.body.status, 'ok');
    const optional = connectionTo(up.body, spare.port);
    assert.equal(optional.required, false);
    assert.deepEqual(optional.usedBy, ['cache:spare']);
    assert.equal(connectionTo(up.body, main.port).required, true);
    assert.ok(connectionTo(up.body, main.port).latencyMs >= 0);

    await spare.stop();
    const degraded = await check();
    assert.equal(degraded.status, 200, JSON.stringify(degraded.body));
    assert.equal(degraded.body.status, 'degraded');
    assert.equal(connectionTo(degraded.body, spare.port).status, 'down');
    assert.equal(connectionTo(degraded.body, main.port).status, 'up');

    await main.stop();
    const down = await check();
    assert.equal(down.status, 503);
    assert.equal(down.body.status, 'down');
    assert.equal(connectionTo(down.body, main.port).status, 'down');
    assert.ok(connectionTo(down.body, main.port).error);
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await larder.close();
    await Promise.all([main.stop(), spare.stop()]);
  }
});

test('the report names every server of a primary with read replicas; a replica down is not an outage', async () => {
  const { startReplicated } = await import('../support/redis-server.js');
  const redis = await startReplicated({ replicas: 1 });
  const larder = createLarder({ logger: false, redis: redis.urls }, {});
  try {
    const report = await larder.health();
    const conn = report.connections.find((c) => c.role === 'commands')!;
    assert.equal(conn.topology, 'replicas');
    assert.deepEqual(
      conn.servers?.map((s) => [s.role, s.status]),
      [
        ['primary', 'up'],
        ['replica', 'up'],
      ],
    );
    await redis.replicas[0]!.stop();
    const after = await larder.health();
    assert.equal(after.status, 'ok', 'reads fall back to the primary');
    const servers = after.connections.find((c) => c.role === 'commands')!.servers!;
    assert.equal(servers[1]!.status, 'down');
  } finally {
    await larder.close();
    await redis.primary.stop();
    await Promise.all(redis.replicas.map((r) => r.stop()));
  }
});
