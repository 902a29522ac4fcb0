import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  type RedisCluster,
  type RedisServerHandle,
  RespError,
  type SentinelRedis,
  sendCommands,
  startCluster,
  startReplicated,
  startSentinel,
  startStandalone,
  stopAll,
  waitFor,
} from './redis-server.js';

after(stopAll);

const ping = (server: RedisServerHandle, timeoutMs = 1_000) =>
  sendCommands({ host: server.host, port: server.port }, [['PING']], timeoutMs);

describe('freePort', () => {
  it('hands out distinct ports, with the cluster bus port free too', async () => {
    const ports = await Promise.all(Array.from({ length: 10 }, () => freePort({ clusterBus: true })));
    assert.equal(new Set(ports).size, ports.length);
    for (const port of ports) assert.ok(port + 10_000 <= 65_535, `bus port of ${port} out of range`);
  });
});

describe('standalone', () => {
  it('answers PING, survives kill() + restart() on the same port, and stop() removes everything', async () => {
    const server = await startStandalone();
    assert.equal(server.url, `redis://127.0.0.1:${server.port}`);
    assert.deepEqual(await ping(server), ['PONG']);
    await server.command('SET', 'k', 'v');

    const { port, pid } = server;
    await server.kill();
    assert.equal(server.running, false);
    await assert.rejects(ping(server), /ECONNREFUSED/);

    await server.restart();
    assert.equal(server.port, port);
    assert.notEqual(server.pid, pid);
    assert.equal(await server.command('GET', 'k'), null, 'no persistence: a restart starts empty');
    const { cli } = server; // methods are bound, so they can be passed around
    assert.equal(await cli('ping'), 'PONG');

    await server.stop();
    assert.equal(existsSync(server.dir), false);
    assert.throws(() => process.kill(server.pid, 0), /ESRCH/);
  });

  it('requires its password, puts it in the url, and listens on a unix socket when asked', async () => {
    const server = await startStandalone({ password: 'p@ss word', unixSocket: true });
    assert.equal(server.url, `redis://:p%40ss%20word@127.0.0.1:${server.port}`);
    const [reply] = await ping(server);
    assert.ok(reply instanceof RespError && reply.message.startsWith('NOAUTH'), String(reply));
    assert.equal(await server.cli('set', 'a', '1'), 'OK');
    assert.equal(await server.command('GET', 'a'), '1');
    await assert.rejects(server.cli('incr', 'nope', 'extra'), /wrong number of arguments/);
    assert.ok(server.unixPath);
    assert.deepEqual(await sendCommands({ path: server.unixPath }, [['AUTH', 'p@ss word'], ['PING']]), [
      'OK',
      'PONG',
    ]);
    await server.stop();
  });

  it('pause() freezes the server and resume() thaws it', async () => {
    const server = await startStandalone();
    server.pause();
    await assert.rejects(ping(server, 300), /no reply within 300 ms/);
    server.resume();
    assert.deepEqual(await ping(server), ['PONG']);
    await server.stop();
  });
});

describe('replicated', () => {
  it('replicates a write on the primary to every replica, which refuse writes', async () => {
    const { primary, replicas, urls, stop } = await startReplicated({ replicas: 2 });
    assert.deepEqual(urls, [primary.url, ...replicas.map((r) => r.url)]);
    await primary.command('SET', 'greeting', 'hello');
    for (const replica of replicas) {
      await waitFor(async () => (await replica.command('GET', 'greeting')) === 'hello', { timeoutMs: 5_000 });
      await assert.rejects(replica.command('SET', 'x', '1'), /READONLY/);
    }
    await stop();
    assert.equal(existsSync(primary.dir), false);
  });
});

describe('sentinel', () => {
  let sentinel: SentinelRedis;
  before(async () => {
    sentinel = await startSentinel();
  });
  after(() => sentinel.stop());

  it('every sentinel reports the primary, and the url lists them all', async () => {
    assert.equal(sentinel.sentinels.length, 3);
    for (const s of sentinel.sentinels) {
      assert.deepEqual(await s.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster'), [
        '127.0.0.1',
        String(sentinel.primary.port),
      ]);
    }
    assert.equal(
      sentinel.url,
      `redis+sentinel://${sentinel.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/mymaster`,
    );
  });

  it('fails over to the replica within a few seconds of the primary dying', async () => {
    const [replica] = sentinel.replicas;
    await sentinel.primary.kill();
    await waitFor(async () => (await sentinel.currentPrimary()).port === replica.port, {
      timeoutMs: 15_000,
      what: 'the sentinels to promote the replica',
    });
    assert.equal(await sentinel.currentPrimaryHandle(), replica);
    assert.equal(await replica.command('SET', 'after-failover', '1'), 'OK');
  });
});

describe('cluster', () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(() => cluster.stop());

  it('every node says cluster_state:ok; 3 primaries, each with a replica', async () => {
    assert.equal(cluster.nodes.length, 6);
    for (const node of cluster.nodes) {
      assert.match(String(await node.command('CLUSTER', 'INFO')), /^cluster_state:ok\r?$/m);
    }
    assert.equal(cluster.primaries().length, 3);
    assert.deepEqual(await cluster.currentPrimaries(), cluster.primaries());
    assert.equal(cluster.url, `redis+cluster://${cluster.seeds.map((s) => `${s.host}:${s.port}`).join(',')}`);
  });

  it('migrateSlot moves a slot with its keys; the old owner then answers MOVED', async () => {
    const slot = await cluster.slotOf('migrating-key');
    const from = await cluster.nodeForSlot(slot);
    await from.command('SET', 'migrating-key', 'payload');
    const to = cluster.primaries().find((p) => p !== from)!;

    await cluster.migrateSlot(slot, from, to);

    assert.equal(await cluster.nodeForSlot(slot), to);
    assert.equal(await to.command('GET', 'migrating-key'), 'payload');
    await assert.rejects(from.command('GET', 'migrating-key'), {
      message: new RegExp(`^MOVED ${slot} 127.0.0.1:${to.port}$`),
    });
  });

  it('a half-done migration answers ASK for a key already moved', async () => {
    const slot = await cluster.slotOf('ask-key');
    const from = await cluster.nodeForSlot(slot);
    await from.command('SET', 'ask-key', 'payload');
    const to = cluster.primaries().find((p) => p !== from)!;

    const migration = await cluster.beginSlotMigration(slot, from, to);
    assert.equal(await migration.moveKeys(['ask-key']), 1);
    await assert.rejects(from.command('GET', 'ask-key'), {
      message: new RegExp(`^ASK ${slot} 127.0.0.1:${to.port}$`),
    });

    await migration.finish();
    assert.equal(await cluster.nodeForSlot(slot), to);
  });
});
