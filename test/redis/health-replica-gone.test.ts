/**
 * Regression: health() (and servers(), larder info) waited the whole connectTimeout (5 s by
 * default) on its first look at a read replica that had been up and then died or stalled,
 * taking it for one still making its first connection — long enough for a load balancer's
 * health probe to time out and take a process with a healthy primary out of service.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseLocation } from '../../src/config/location.js';
import { RedisConnection } from '../../src/redis/connection.js';
import { within } from '../../src/within.js';
import { type ReplicatedRedis, startReplicated } from '../support/redis-server.js';

let servers: ReplicatedRedis;
let conn: RedisConnection;
before(async () => {
  servers = await startReplicated({ replicas: 1 });
  conn = new RedisConnection(parseLocation(servers.urls, 'redis', { connectTimeout: 60_000 }));
});
after(async () => {
  await conn?.close();
  await servers?.stop();
});

test('the first health check after a replica that was up died answers without waiting connectTimeout', async () => {
  await conn.run((c) => c.set('health-replica:k', 'v'), false, 10_000);
  for (let i = 0; i < 250 && conn.reader === conn.client; i++) await new Promise((r) => setTimeout(r, 20));
  assert.notEqual(conn.reader, conn.client, 'the replica was up');
  await servers.replicas[0]!.kill();
  // connectTimeout is 60 s: a health check still waiting after 20 s is waiting for it.
  const health = await within(conn.health(), 20_000, () => {
    throw new Error('health() was still waiting for the dead replica after 20 s');
  });
  assert.equal(health.status, 'up', 'the primary answers');
  const replica = health.servers?.find((s) => s.role === 'replica');
  assert.equal(replica?.status, 'down');
});
