/**
 * The BullMQ driver with its broker down (DESIGN §1.5: fail fast with a typed error): a port
 * nobody listens on (connections refused; node-redis reconnects for ever and BullMQ waits for
 * it), and a server frozen with SIGSTOP after the driver connected (the socket stays open,
 * nothing answers). Before, `applyAsync` / `enqueued()` / `status()` waited for ever and
 * `get({ timeout })` ignored its timeout while the enqueue was pending. The `timeout` option
 * on each test only keeps a regression from hanging the run; nothing here measures time.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BackendUnavailableError, TaskTimeoutError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { uniquePrefix } from '../support/conformance.js';
import { freePort, startStandalone } from '../support/redis-server.js';

const GUARD = { timeout: 30_000 };
/** Short connect and command timeouts: the budget of one broker call is their sum (400 ms). */
const FAST = 'connectTimeout=200ms&commandTimeout=200ms';

function open(url: string): Larder {
  const larder = createLarder(
    { redis: false, logger: false, tasks: { broker: `${url}?${FAST}`, prefix: uniquePrefix('down') } },
    {},
  );
  assert.equal(larder.tasks.driverKind, 'bullmq');
  return larder;
}

describe('tasks on BullMQ, broker refusing connections', () => {
  const broker = async () => `redis://127.0.0.1:${await freePort()}/0`;

  test('applyAsync: enqueued(), status() and get() reject with BackendUnavailableError', GUARD, async () => {
    const larder = open(await broker());
    try {
      const t = larder.tasks.define('t', () => 1);
      const result = t.delay();
      await assert.rejects(result.enqueued(), BackendUnavailableError);
      await assert.rejects(result.status(), BackendUnavailableError);
      await assert.rejects(result.get(), BackendUnavailableError);
      const elsewhere = larder.tasks.result('elsewhere', { task: 't' });
      await assert.rejects(elsewhere.status(), BackendUnavailableError);
      await assert.rejects(elsewhere.get({ timeout: '30s' }), BackendUnavailableError);
      await assert.rejects(elsewhere.revoke(), BackendUnavailableError);
    } finally {
      await larder.close();
    }
  });

  test('get({ timeout }) keeps its timeout while the enqueue is pending', GUARD, async () => {
    const larder = open(await broker());
    try {
      const result = larder.tasks.define('t', () => 1).delay();
      // The enqueue is still trying (for 400 ms) when this timeout passes.
      await assert.rejects(result.get({ timeout: '50ms' }), TaskTimeoutError);
      await assert.rejects(result.enqueued(), BackendUnavailableError);
    } finally {
      await larder.close();
    }
  });

  test('a chain and a schedule reject with BackendUnavailableError', GUARD, async () => {
    const larder = open(await broker());
    try {
      const t = larder.tasks.define('t', (n: number) => n);
      await assert.rejects(
        larder.tasks.chain(t.s(1), t.s()).applyAsync().enqueued(),
        BackendUnavailableError,
      );
      await assert.rejects(larder.tasks.schedule('tick', { every: '1m' }, t, 1), BackendUnavailableError);
    } finally {
      await larder.close();
    }
  });
});

describe('tasks on BullMQ, broker frozen (SIGSTOP) after it answered', () => {
  test(
    'applyAsync and status() reject with BackendUnavailableError; get({ timeout }) keeps its timeout',
    GUARD,
    async () => {
      const server = await startStandalone();
      const larder = open(server.url);
      try {
        const t = larder.tasks.define('t', () => 1);
        const before = t.delay();
        await before.enqueued();
        assert.equal(await before.status(), 'pending');
        server.pause();
        await assert.rejects(t.delay().enqueued(), BackendUnavailableError);
        await assert.rejects(before.status(), BackendUnavailableError);
        await assert.rejects(t.delay().get({ timeout: '50ms' }), TaskTimeoutError);
      } finally {
        server.resume();
        await larder.close();
        await server.stop();
      }
    },
  );
});
