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

// setTimeout fires a delay over 2^31-1 ms (~24.8 days) after 1 ms: each of these ran at once.
test("a countdown past setTimeout's 24.8-day limit ('30d') stays pending", async () => {
  const larder = eager();
  const remind = larder.tasks.define('remind', () => 'sent');
  const far = remind.applyAsync(undefined, { countdown: '30d' });
  await remind.applyAsync(undefined, { countdown: '20ms' }).get({ timeout: '10s' });
  assert.equal(await far.status(), 'pending');
});

test("an every: '30d' schedule fires once at start, and a yearly cron not at all, until they are due", async () => {
  const larder = eager();
  let monthly = 0;
  let yearly = 0;
  const m = larder.tasks.define('monthly', () => ++monthly);
  const y = larder.tasks.define('yearly', () => ++yearly);
  const marker = larder.tasks.define('marker', () => 'ok');
  await larder.tasks.schedule('every-30d', { every: '30d' }, m, undefined);
  await larder.tasks.schedule('new-year', '0 0 1 1 *', y, undefined);
  await marker.applyAsync(undefined, { countdown: '50ms' }).get({ timeout: '10s' });
  assert.equal(monthly, 1);
  assert.equal(yearly, 0);
});

test("a timeLimit past setTimeout's 24.8-day limit does not stop the run at once", async () => {
  const larder = eager();
  const patient = larder.tasks.define(
    'patient',
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return 'finished';
    },
    { timeLimit: '30d' },
  );
  assert.equal(await patient.delay().get({ timeout: '10s' }), 'finished');
});

test("a retry backoff past setTimeout's 24.8-day limit leaves the job waiting in 'retry'", async () => {
  const larder = eager();
  let runs = 0;
  const flaky = larder.tasks.define(
    'flaky',
    () => {
      runs++;
      throw new Error('try again later');
    },
    { retries: 1, backoff: '30d' },
  );
  const marker = larder.tasks.define('marker', () => 'ok');
  const result = flaky.delay();
  await marker.applyAsync(undefined, { countdown: '50ms' }).get({ timeout: '10s' });
  assert.equal(await result.status(), 'retry');
  assert.equal(runs, 1);
});
