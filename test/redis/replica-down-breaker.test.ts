/**
 * Regression: with a primary and read replicas, a replica that stalled (SIGSTOP: reads miss
 * their deadline) or died with reads in flight counted its failures against the one circuit
 * breaker of the connection, so a few reads opened it and every write to the healthy
 * primary failed fast with "the server is not answering" — while health said the primary
 * was up. Reads fall back to the primary once the replica's socket is gone or replaced.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseLocation } from '../../src/config/location.js';
import { RedisConnection } from '../../src/redis/connection.js';
import { type ReplicatedRedis, startReplicated } from '../support/redis-server.js';

let servers: ReplicatedRedis;
let stalling: RedisConnection;
let dying: RedisConnection;
before(async () => {
  servers = await startReplicated({ replicas: 1 });
  stalling = new RedisConnection(parseLocation(servers.urls, 'redis', { commandTimeout: 200 }));
  dying = new RedisConnection(parseLocation(servers.urls, 'redis', { commandTimeout: 5000 }));
  for (const conn of [stalling, dying]) {
    // Set-up is not what is tested: generous deadlines on a loaded machine.
    await conn.run((c) => c.set('replica-down:k', 'v'), false, 5000);
    assert.equal(await conn.send(['WAIT', '1', '5000'], { timeout: 6000 }), 1);
    // The replica's socket is connected (reads go there) before it fails.
    for (let i = 0; i < 100 && conn.reader === conn.client; i++) await sleep(20);
    assert.notEqual(conn.reader, conn.client);
  }
});
after(async () => {
  servers?.replicas[0]?.resume();
  await stalling?.close();
  await dying?.close();
  await servers?.stop();
});

test('reads that miss their deadline on a stalled replica leave writes to the primary working', async () => {
  servers.replicas[0]!.pause();
  const reads = await Promise.allSettled(
    Array.from({ length: 5 }, () => stalling.run((c) => c.get('replica-down:k'), true)),
  );
  assert.ok(
    reads.some((r) => r.status === 'rejected'),
    'reads in flight on the replica failed',
  );
  assert.equal(stalling.breaker.state, 'closed');
  // A generous deadline for the primary: only an open breaker (failing at once) fails these.
  assert.equal(await stalling.run((c) => c.set('replica-down:k', 'w1'), false, 5000), 'OK');
  assert.equal(
    await stalling.run((c) => c.get('replica-down:k'), true, 5000),
    'w1',
    'reads fall back to the primary',
  );
});

test('reads failed by a replica dying under them leave writes to the primary working', async () => {
  // The replica is paused (previous test): these reads are in flight until it is killed.
  const reads = Promise.allSettled(
    Array.from({ length: 5 }, () => dying.run((c) => c.get('replica-down:k'), true)),
  );
  await sleep(50);
  await servers.replicas[0]!.kill();
  const settled = await reads;
  assert.ok(
    settled.every((r) => r.status === 'rejected'),
    'reads in flight on the replica failed',
  );
  assert.equal(dying.breaker.state, 'closed');
  assert.equal(await dying.run((c) => c.set('replica-down:k', 'w2')), 'OK');
  assert.equal(await dying.run((c) => c.get('replica-down:k'), true), 'w2', 'reads fall back to the primary');
});

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
