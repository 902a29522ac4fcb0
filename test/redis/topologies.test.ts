/**
 * Connections on every topology, against real redis-server processes: standalone,
 * primary + replica (reads on the replica), Sentinel (failover), Cluster (MOVED/ASK during
 * a slot migration, scripts on keys in different slots).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseLocation } from '../../src/config/location.js';
import { BackendUnavailableError } from '../../src/errors.js';
import { RedisConnection } from '../../src/redis/connection.js';
import { defineScript } from '../../src/redis/script.js';
import { redisUrlFor } from '../support/conformance.js';
import { startCluster, startReplicated, startSentinel } from '../support/redis-server.js';

const connect = (url: string | string[], commandTimeout = 2000) =>
  new RedisConnection(parseLocation(url, 'redis', { commandTimeout }));

describe('standalone', () => {
  const conn = connect(redisUrlFor('standalone')!);
  after(() => conn.close());

  test('connects lazily on the first command and round-trips a value', async () => {
    assert.equal(conn.isReady, false);
    await conn.run((c) => c.set('topo:standalone', 'v1'));
    assert.equal(conn.isReady, true);
    assert.equal(await conn.run((c) => c.get('topo:standalone'), true), 'v1');
  });

  test('raw commands go through send()', async () => {
    assert.equal(await conn.send(['SET', 'topo:raw', '7']), 'OK');
    assert.equal(await conn.send(['INCRBY', 'topo:raw', '3'], { key: 'topo:raw' }), 10);
  });

  test('health reports up with a measured round trip', async () => {
    const health = await conn.health();
    assert.equal(health.status, 'up');
    assert.equal(health.topology, 'standalone');
    assert.ok(typeof health.latencyMs === 'number' && health.latencyMs >= 0);
  });
});

describe('primary + replica', () => {
  let servers: Awaited<ReturnType<typeof startReplicated>>;
  let conn: RedisConnection;
  before(async () => {
    servers = await startReplicated({ replicas: 1 });
    conn = connect(servers.urls);
  });
  after(async () => {
    await conn?.close();
    await servers?.stop();
  });

  const getCalls = async (cli: (...args: string[]) => Promise<string>) => {
    const stats = await cli('INFO', 'commandstats');
    return Number(/cmdstat_get:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  };

  test('writes go to the primary, reads to the replica', async () => {
    await conn.run((c) => c.set('topo:replicated', 'hello'));
    // Replication is asynchronous: wait until the replica has the write. WAIT counts the
    // writes of the connection it is sent on, so it goes through the same connection.
    assert.equal(await conn.send(['WAIT', '1', '5000']), 1);
    const replica = servers.replicas[0]!;
    const before = await getCalls(replica.cli);
    const primaryBefore = await getCalls(servers.primary.cli);
    for (let i = 0; i < 10; i++) assert.equal(await conn.run((c) => c.get('topo:replicated'), true), 'hello');
    assert.equal((await getCalls(replica.cli)) - before, 10);
    assert.equal((await getCalls(servers.primary.cli)) - primaryBefore, 0);
  });

  test('reads fall back to the primary while the replica is down', async () => {
    await servers.replicas[0]!.kill();
    // node-redis notices the closed socket asynchronously.
    for (let i = 0; i < 50 && (await isReplicaUp(conn)); i++) await sleep(20);
    assert.equal(await conn.run((c) => c.get('topo:replicated'), true), 'hello');
  });
});

async function isReplicaUp(conn: RedisConnection) {
  return conn.reader !== conn.client;
}

describe('sentinel', () => {
  let servers: Awaited<ReturnType<typeof startSentinel>>;
  let conn: RedisConnection;
  before(async () => {
    servers = await startSentinel();
    conn = connect(servers.url, 1000);
  });
  after(async () => {
    await conn?.close();
    await servers?.stop();
  });

  test('finds the primary through Sentinel and writes to it', async () => {
    await conn.run((c) => c.set('topo:sentinel', 'before'));
    assert.equal(await servers.primary.cli('GET', 'topo:sentinel'), 'before');
  });

  test('after the primary dies, writes resume on the promoted replica', async () => {
    const oldPrimary = await servers.currentPrimary();
    assert.equal(
      await conn.send(['WAIT', '1', '5000']),
      1,
      'the replica has the write before the primary dies',
    );
    const killedAt = performance.now();
    await servers.primary.kill();
    let resumedAt = 0;
    let lastError: unknown;
    const giveUpAt = killedAt + 60_000;
    while (performance.now() < giveUpAt) {
      try {
        await conn.run((c) => c.set('topo:sentinel', 'after'));
        resumedAt = performance.now();
        break;
      } catch (error) {
        lastError = error;
        await sleep(100);
      }
    }
    assert.ok(resumedAt > 0, `writes never resumed: ${String(lastError)}`);
    const newPrimary = await servers.currentPrimary();
    assert.notDeepEqual(newPrimary, oldPrimary);
    assert.equal(await conn.run((c) => c.get('topo:sentinel')), 'after');
    // Measured, not asserted: failover time depends on down-after-milliseconds.
    console.log(
      `sentinel failover: writes resumed ${Math.round(resumedAt - killedAt)} ms after the primary was killed`,
    );
  });
});

describe('cluster', () => {
  const conn = connect(redisUrlFor('cluster')!);
  after(() => conn.close());

  test('routes keys to their slots', async () => {
    for (let i = 0; i < 50; i++) await conn.run((c) => c.set(`topo:cluster:${i}`, String(i)));
    for (let i = 0; i < 50; i++)
      assert.equal(await conn.run((c) => c.get(`topo:cluster:${i}`), true), String(i));
    assert.ok((await conn.nodes()).length >= 3);
  });

  test('health lists the primaries', async () => {
    const health = await conn.health();
    assert.equal(health.status, 'up');
    assert.ok((health.nodes ?? []).length >= 3);
  });

  test('a script runs on the node that owns its key, for keys in different slots', async () => {
    const script = defineScript(1, "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])");
    // Keys chosen to land on different slots (and so, with 3 primaries, on different nodes).
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((k) => `topo:script:${k}`);
    for (const key of keys) assert.equal(await script.run(conn, [key], [`v-${key}`]), `v-${key}`);
    for (const key of keys) assert.equal(await conn.run((c) => c.get(key)), `v-${key}`);
  });

  test('NOSCRIPT falls back to EVAL (script cache flushed on every node)', async () => {
    const script = defineScript(1, "return redis.call('INCR', KEYS[1])");
    await script.run(conn, ['topo:noscript']);
    for (const node of await conn.nodes()) await node.sendCommand(['SCRIPT', 'FLUSH']);
    assert.equal(await script.run(conn, ['topo:noscript']), 2);
  });
});

describe('cluster slot migration (MOVED / ASK)', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let conn: RedisConnection;
  before(async () => {
    cluster = await startCluster({ primaries: 3, replicasPerPrimary: 0 });
    conn = connect(cluster.url);
  });
  after(async () => {
    await conn?.close();
    await cluster?.stop();
  });

  test('reads and writes keep working while a slot moves between nodes', async () => {
    // Keys with one hash tag share a slot; find that slot's owner and another primary.
    const keys = Array.from({ length: 200 }, (_, i) => `{moving}:${i}`);
    for (const key of keys) await conn.run((c) => c.set(key, key));
    const slot = Number(await cluster.nodes[0]!.cli('CLUSTER', 'KEYSLOT', '{moving}'));
    const from = await cluster.nodeForSlot(slot);
    const to = cluster.primaries().find((n) => n.port !== from.port)!;

    let failures = 0;
    let running = true;
    const traffic = (async () => {
      let i = 0;
      while (running) {
        const key = keys[i++ % keys.length]!;
        try {
          assert.equal(await conn.run((c) => c.get(key)), key);
          await conn.run((c) => c.set(key, key));
        } catch {
          failures++;
        }
      }
    })();
    await cluster.migrateSlot(slot, from, to);
    await sleep(200);
    running = false;
    await traffic;

    assert.equal(failures, 0);
    assert.equal((await cluster.nodeForSlot(slot)).port, to.port);
    for (const key of keys) assert.equal(await conn.run((c) => c.get(key)), key);
  });
});

describe('failures are typed and say what to do', () => {
  test('an unreachable server → BackendUnavailableError naming it, within connectTimeout', async () => {
    const conn = new RedisConnection(
      parseLocation({ url: 'redis://127.0.0.1:1', connectTimeout: '300ms' }, 'redis'),
    );
    try {
      await assert.rejects(
        conn.run((c) => c.ping()),
        (error: unknown) => {
          assert.ok(error instanceof BackendUnavailableError);
          assert.equal(error.status, 503);
          assert.match(error.message, /127\.0\.0\.1:1/);
          assert.match(error.message, /redis-server is running|Check that/);
          return true;
        },
      );
    } finally {
      await conn.close();
    }
  });
});

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
