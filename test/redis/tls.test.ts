/**
 * TLS (`rediss://`) against a real redis-server on a TLS port, with the certificates in
 * test/fixtures/tls (a test CA and a server certificate for 127.0.0.1, valid for a century;
 * the CA's key was thrown away). With the CA in `tls: { ca }` commands go through; without
 * it the error says the certificate was refused and what to give, not "is redis-server
 * running?" (found by the deployment guide's TLS run).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BackendUnavailableError } from '../../src/errors.js';
import { createLarder } from '../../src/larder.js';
import { freePort } from '../support/redis-server.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/tls');
const ca = readFileSync(path.join(FIXTURES, 'ca.crt'));

describe('TLS (rediss://)', () => {
  let server: ChildProcess;
  let url: string;

  before(async () => {
    const port = await freePort();
    url = `rediss://127.0.0.1:${port}/0`;
    server = spawn(
      'redis-server',
      [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--save',
        '',
        '--appendonly',
        'no',
        '--tls-cert-file',
        path.join(FIXTURES, 'server.crt'),
        '--tls-key-file',
        path.join(FIXTURES, 'server.key'),
        '--tls-ca-cert-file',
        path.join(FIXTURES, 'ca.crt'),
        '--tls-auth-clients',
        'no',
      ],
      { stdio: 'ignore' },
    );
    // Ready when a TLS client gets a PONG.
    for (let attempt = 0; ; attempt++) {
      const larder = createLarder(
        { logger: false, redis: { url, tls: { ca }, connectTimeout: '500ms' } },
        {},
      );
      try {
        if ((await larder.health()).status === 'ok') break;
      } finally {
        await larder.close();
      }
      if (attempt > 40) throw new Error('the TLS redis-server did not start');
      await sleep(100);
    }
  });
  after(() => {
    server?.kill('SIGKILL');
  });

  it('with the CA, commands go through', async () => {
    const larder = createLarder({ logger: false, redis: { url, tls: { ca } } }, {});
    try {
      await larder.cache().set('tls:k', 'v');
      assert.equal(await larder.cache().get('tls:k'), 'v');
    } finally {
      await larder.close();
    }
  });

  it('without the CA, the error says the certificate was refused and what to give', async () => {
    const larder = createLarder({ logger: false, redis: { url, connectTimeout: '1s' } }, {});
    try {
      await assert.rejects(larder.cache().get('tls:k'), (error: unknown) => {
        assert.ok(error instanceof BackendUnavailableError, String(error));
        assert.match(error.message, /certificate/);
        assert.match(error.message, /tls: \{ ca \}/);
        return true;
      });
      const health = await larder.health();
      assert.equal(health.status, 'down');
      const reported = health.connections.map((c) => c.error ?? '').join(' ');
      assert.match(reported, /TLS certificate was refused/);
      assert.doesNotMatch(reported, /Check that redis-server is running/);
    } finally {
      await larder.close();
    }
  });
});
