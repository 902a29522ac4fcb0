/**
 * Regression (code review, session 1): with a read replica down when the connection is
 * first used, writes and reads failed for good — the first connect waited for every
 * replica. Replicas now join in the background; reads fall back to the primary.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLocation } from '../../src/config/location.js';
import { RedisConnection } from '../../src/redis/connection.js';
import { startReplicated } from '../support/redis-server.js';

test('a replica that is down at start does not block the primary', async () => {
  const servers = await startReplicated({ replicas: 1 });
  await servers.replicas[0]!.kill();
  const conn = new RedisConnection(parseLocation(servers.urls, 'redis', { commandTimeout: 1000 }));
  try {
    await conn.run((c) => c.set('k', 'v'));
    assert.equal(await conn.run((c) => c.get('k'), true), 'v', 'reads fall back to the primary');
    // And the replica takes reads once it is back.
    await servers.replicas[0]!.restart();
    let fromReplica = false;
    for (let i = 0; i < 100 && !fromReplica; i++) {
      fromReplica = conn.reader !== conn.client;
      if (!fromReplica) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(fromReplica, 'the replica joined after it came back');
  } finally {
    await conn.close();
    await servers.stop();
  }
});
