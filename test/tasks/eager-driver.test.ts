/**
 * Regressions of the eager driver (in-process, no Redis): each test is named after the
 * bug it guards. Behaviour both drivers share is in the conformance suite and in
 * `driver-parity.test.ts`; these are the eager driver's own timers and bookkeeping.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { TaskTimeoutError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';

const opened: Larder[] = [];

function eager(): Larder {
  const larder = createLarder({ redis: false, logger: false }, {});
  assert.equal(larder.tasks.driverKind, 'eager');
  opened.push(larder);
  return larder;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()));
});

test('get() on an id never enqueued waits on timers, not on microtasks (the event loop keeps turning)', async () => {
  const larder = eager();
  const t = larder.tasks.define('noop', () => 1);
  t.delay(); // makes the driver
  let ticks = 0;
  const interval = setInterval(() => ticks++, 5);
  try {
    await assert.rejects(
      larder.tasks.result('never-enqueued', { task: 'noop' }).get({ timeout: '300ms' }),
      TaskTimeoutError,
    );
  } finally {
    clearInterval(interval);
  }
  assert.ok(ticks > 0, 'an interval timer fired while get() waited');
});

test('get() on an id enqueued later resolves once that job finishes', async () => {
  const larder = eager();
  const t = larder.tasks.define('double', (n: number) => n * 2);
  const later = larder.tasks.result<number>('applied-later', { task: 'double' }).get({ timeout: '10s' });
  setTimeout(() => t.applyAsync(21, { jobId: 'applied-later' }), 20);
  assert.equal(await later, 42);
});
