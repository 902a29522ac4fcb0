/**
 * `larder.pubsub` on Redis beyond the shared suite: one subscriber connection per process,
 * subscriptions restored after the connection drops (and the events published meanwhile
 * delivered to event-stream clients once, in order), sharded channels on Cluster, and
 * messages from other programs (the seed's `redis_client.publish('my_channel', …)`).
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import { adapt } from '../../src/adapters/express.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { until } from '../conformance/pubsub.suite.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';
import { openSse } from './sse-client.js';

/** Publishes `message` every 20 ms until `got()` holds (the subscription is back). */
async function publishUntil(larder: Larder, channel: string, got: () => boolean): Promise<void> {
  const started = Date.now();
  while (!got()) {
    if (Date.now() - started > 20_000) assert.fail('the subscription did not come back within 20 s');
    await larder.pubsub.publish(channel, 'ping').catch(() => {});
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('pubsub on a dedicated Redis server', () => {
  let server: RedisServerHandle;
  let larder: Larder;
  before(async () => {
    server = await startStandalone();
    larder = createLarder({ logger: false, redis: server.url }, {});
  });
  after(async () => {
    await larder.close();
    await server.stop();
  });

  test('one subscriber connection per process, however many subscriptions and streams', async () => {
    const stops = [];
    for (let i = 0; i < 10; i++) stops.push(await larder.pubsub.subscribe(`ch-${i}`, () => {}));
    stops.push(await larder.pubsub.subscribe('orders.*', () => {}));
    stops.push(await larder.pubsub.subscribe('ch-1', () => {})); // shares ch-1's SUBSCRIBE
    // An event stream's live channel: one more SUBSCRIBE on the same connection.
    const follower = await larder.pubsub.feeds.follow(
      'stream-1',
      { event() {}, gap() {}, end() {} },
      1 << 20,
    );
    const list = String(await server.command('CLIENT', 'LIST', 'TYPE', 'pubsub'))
      .trim()
      .split('\n');
    assert.equal(list.length, 1, list.join('\n'));
    assert.match(list[0]!, /sub=11 psub=1/);
    follower.stop();
    for (const stop of stops) await stop();
    // The stream's feed unsubscribes in the background once its last follower left.
    // A connection with no subscription left is no longer listed as pub/sub.
    let after = 'not read yet';
    const started = Date.now();
    while (after.trim() !== '' && Date.now() - started < 10_000) {
      after = String(await server.command('CLIENT', 'LIST', 'TYPE', 'pubsub'));
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(after.trim(), '');
  });

  test('subscriptions come back after the connection is killed', async () => {
    const got: unknown[] = [];
    const stop = await larder.pubsub.subscribe('resub', (m) => {
      got.push(m);
    });
    const pattern: unknown[] = [];
    const stopPattern = await larder.pubsub.subscribe('resub*', (m) => {
      pattern.push(m);
    });
    await server.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await publishUntil(larder, 'resub', () => got.length > 0 && pattern.length > 0);
    await stop();
    await stopPattern();
  });

  test('events sent while the subscriber was away reach stream clients once, in order', async () => {
    const web = adapt(larder);
    const app = express();
    app.get('/events', web.events(['outage']));
    const http = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => http.once('listening', resolve));
    try {
      const client = await openSse(`http://127.0.0.1:${(http.address() as AddressInfo).port}/events`);
      await client.waitFor((c) => c.lastEventId !== '');
      const sent = [await larder.pubsub.sendEvent('outage', 0)];
      await client.waitFor(1);
      for (let round = 0; round < 3; round++) {
        await server.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
        // Sent at once, while node-redis is still reconnecting (its first retry waits 50 ms).
        for (let i = 0; i < 5; i++) sent.push(await larder.pubsub.sendEvent('outage', sent.length));
        await client.waitFor(sent.length, 20_000);
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(
        client.events.map((e) => e.id),
        sent,
      );
      client.close();
    } finally {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    }
  });

  test("another program's messages: JSON is decoded, other text arrives as a string", async () => {
    const got: unknown[] = [];
    const stop = await larder.pubsub.subscribe('my_channel', (m) => {
      got.push(m);
    });
    // What redis-py's redis_client.publish('my_channel', …) sends.
    await server.command('PUBLISH', 'my_channel', 'hello');
    await server.command('PUBLISH', 'my_channel', '{"order": 7}');
    await until(() => got.length === 2, 'both messages');
    assert.deepEqual(got, ['hello', { order: 7 }]);
    await stop();
  });
});

describe('pubsub on Redis Cluster', () => {
  let larder: Larder;
  before(() => {
    larder = createLarder({ logger: false, redis: redisUrlFor('cluster')! }, {});
  });
  after(() => larder.close());

  test('plain channels use sharded pub/sub on the channel’s shard', async () => {
    const channel = uniquePrefix('sharded');
    const got: unknown[] = [];
    const stop = await larder.pubsub.subscribe(channel, (m) => {
      got.push(m);
    });
    const conn = larder.connection();
    // Each primary lists the shard channels it serves: exactly one holds ours.
    const holders: string[][] = [];
    for (const node of await conn.nodes()) {
      const listed = ((await node.sendCommand(['PUBSUB', 'SHARDCHANNELS', channel])) as unknown[]).map(
        String,
      );
      if (listed.length) holders.push(listed);
    }
    assert.deepEqual(holders, [[channel]]);
    await conn.send(['SPUBLISH', channel, '"raw"'], { key: channel });
    await larder.pubsub.publish(channel, 'via larder');
    await until(() => got.length === 2, 'both messages');
    assert.deepEqual(got, ['raw', 'via larder']);
    await stop();
  });

  test('sharded subscriptions come back after their connections are killed', async () => {
    const channel = uniquePrefix('sharded-resub');
    const got: unknown[] = [];
    const stop = await larder.pubsub.subscribe(channel, (m) => {
      got.push(m);
    });
    for (const node of await larder.connection().nodes()) {
      await node.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    }
    await publishUntil(larder, channel, () => got.length > 0);
    await stop();
  });
});
