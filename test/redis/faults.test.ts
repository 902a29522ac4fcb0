/**
 * What a connection does when the server misbehaves: paused (deadline + breaker),
 * killed and restarted, wrong password, and what close() leaves behind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseLocation } from '../../src/config/location.js';
import { BackendUnavailableError } from '../../src/errors.js';
import { createLarder } from '../../src/larder.js';
import { RedisConnection } from '../../src/redis/connection.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';

describe('a paused server (SIGSTOP)', () => {
  let server: RedisServerHandle;
  let conn: RedisConnection;
  before(async () => {
    server = await startStandalone();
    conn = new RedisConnection(parseLocation({ url: server.url, commandTimeout: '200ms' }, 'redis'));
    await conn.run((c) => c.set('k', 'v'));
  });
  after(async () => {
    await server?.resume();
    await conn?.close();
    await server?.stop();
  });

  test('commands fail with BackendUnavailableError at the deadline, then fast while the breaker is open', async () => {
    await server.pause();
    const started = performance.now();
    await assert.rejects(
      conn.run((c) => c.get('k')),
      BackendUnavailableError,
    );
    const firstFailureMs = performance.now() - started;
    // Three timeouts open the breaker; after that calls fail without waiting.
    await Promise.allSettled([conn.run((c) => c.get('k')), conn.run((c) => c.get('k'))]);
    assert.equal(conn.breaker.state, 'open');
    const fastStarted = performance.now();
    await assert.rejects(
      conn.run((c) => c.get('k')),
      /not answering/,
    );
    const fastFailureMs = performance.now() - fastStarted;
    console.log(
      `paused server: first failure after ${firstFailureMs.toFixed(0)} ms, open-breaker failure after ${fastFailureMs.toFixed(2)} ms`,
    );
    assert.ok(fastFailureMs < firstFailureMs, 'an open breaker fails without waiting for the deadline');
  });

  test('after resume, commands succeed again once the breaker lets a probe through', async () => {
    await server.resume();
    let value: unknown;
    for (let i = 0; i < 100 && value === undefined; i++) {
      try {
        value = await conn.run((c) => c.get('k'));
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.equal(value, 'v');
    assert.equal(conn.breaker.state, 'closed');
  });
});

describe('a killed and restarted server', () => {
  test('fails fast while down and reconnects by itself after restart', async () => {
    const server = await startStandalone();
    const conn = new RedisConnection(parseLocation({ url: server.url, commandTimeout: '300ms' }, 'redis'));
    try {
      await conn.run((c) => c.set('k', '1'));
      await server.kill();
      await assert.rejects(
        conn.run((c) => c.get('k')),
        BackendUnavailableError,
      );
      await server.restart();
      let ok = false;
      for (let i = 0; i < 100 && !ok; i++) {
        try {
          await conn.run((c) => c.set('k', '2'));
          ok = true;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      assert.ok(ok, 'writes resume after the restart');
      assert.equal(await conn.run((c) => c.get('k')), '2');
    } finally {
      await conn.close();
      await server.stop();
    }
  });
});

describe('authentication', () => {
  let server: RedisServerHandle;
  before(async () => {
    server = await startStandalone({ password: 's3cret' });
  });
  after(() => server?.stop());

  test('the right password connects', async () => {
    const conn = new RedisConnection(parseLocation(server.url, 'redis'));
    try {
      assert.equal(await conn.run((c) => c.ping()), 'PONG');
    } finally {
      await conn.close();
    }
  });

  test('a wrong password → BackendUnavailableError that says to check the credentials', async () => {
    const url = server.url.replace('s3cret', 'wrong');
    const conn = new RedisConnection(parseLocation({ url, connectTimeout: '2s' }, 'redis'));
    try {
      await assert.rejects(
        conn.run((c) => c.ping()),
        (error: unknown) => {
          assert.ok(error instanceof BackendUnavailableError, String(error));
          assert.match(error.message, /authentication failed|WRONGPASS/i);
          assert.match(error.message, /password/);
          return true;
        },
      );
      // And it stays failed without hammering the server.
      await assert.rejects(
        conn.run((c) => c.ping()),
        /authentication failed/i,
      );
    } finally {
      await conn.close();
    }
  });
});

describe('Larder health and close', () => {
  test('health reports each connection; close leaves no socket or timer open', async () => {
    const server = await startStandalone();
    const clients = async () => (await server.cli('CLIENT', 'LIST')).trim().split('\n').length;
    const ours = () =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout');
    const baselineHandles = ours().length;
    const baselineClients = await clients();
    const larder = createLarder({ redis: server.url, logger: false });
    try {
      const report = await larder.health();
      assert.equal(report.status, 'ok');
      assert.equal(report.embedded, false);
      assert.equal(report.connections.length, 1);
      assert.equal(report.connections[0]!.status, 'up');
      assert.ok(report.connections[0]!.latencyMs! >= 0);
      assert.equal(await clients(), baselineClients + 1, 'one connection for the whole Larder');
    } finally {
      await larder.close();
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await clients(), baselineClients, 'the server sees the connection gone');
    const left = ours();
    assert.ok(left.length <= baselineHandles, `no handle of larder is left open: ${left.join(', ')}`);
    await server.stop();
  });

  test('health says down (not a throw) when the server is unreachable', async () => {
    const larder = createLarder({
      redis: { url: 'redis://127.0.0.1:1', connectTimeout: '200ms' },
      logger: false,
    });
    try {
      const report = await larder.health();
      assert.equal(report.status, 'down');
      assert.equal(report.connections[0]!.status, 'down');
      assert.match(report.connections[0]!.error!, /could not connect|ECONNREFUSED/);
    } finally {
      await larder.close();
    }
  });

  test('the embedded default has no connections and says so', async () => {
    const larder = createLarder({ logger: false }, {});
    try {
      const report = await larder.health();
      assert.equal(report.embedded, true);
      assert.equal(report.status, 'ok');
      assert.deepEqual(report.connections, []);
      assert.equal(report.backends['cache:default'], 'memory');
    } finally {
      await larder.close();
    }
  });
});
