/**
 * Regressions found by review: with the task broker down, BullMQ's job counts never settle,
 * and the dashboard page and its stream waited on them forever; and a dashboard stream kept
 * ticking after `larder.close()`, so a graceful `server.close()` waited on it.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import { adapt } from '../../src/adapters/express.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { openSse } from '../realtime/sse-client.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { freePort } from '../support/redis-server.js';

describe('dashboard with the task broker down', () => {
  let larder: Larder;
  let base: string;
  let close: () => Promise<void>;

  before(async () => {
    const deadBroker = `redis://127.0.0.1:${await freePort()}/0`;
    larder = createLarder(
      {
        logger: false,
        redis: redisUrlFor('standalone') as string,
        caches: { default: { keyPrefix: uniquePrefix('dash-outage') } },
        tasks: { broker: { url: deadBroker, connectTimeout: '200ms' }, prefix: uniquePrefix('dash-outage') },
      },
      {},
    );
    larder.tasks.define('dash-outage-task', async () => 1);
    const app = express();
    app.use('/ops', adapt(larder).dashboard({ authorize: () => true, interval: '100ms' }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  });
  after(async () => {
    await close?.();
    await larder?.close();
  });

  test('metrics.gauges() gives up on a broker that does not answer', async () => {
    assert.deepEqual(await larder.metrics.gauges(300), { queues: {} });
  });

  test('the page answers and the stream keeps sending frames', async () => {
    const page = await fetch(`${base}/ops`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    const client = await openSse(`${base}/ops/stream`);
    try {
      // At 100 ms per frame, five frames prove the hanging broker holds nothing up.
      await client.waitFor(5, 10_000);
      assert.deepEqual(JSON.parse(client.events.at(-1)!.data).queues, {});
    } finally {
      client.close();
    }
  });

  test('larder.close() ends the open streams', async () => {
    const client = await openSse(`${base}/ops/stream`);
    await client.waitFor(1, 10_000);
    await larder.close();
    await client.ended;
    assert.ok(client.events.length >= 1);
  });
});
