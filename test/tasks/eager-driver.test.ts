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

// Results are kept for the last 10 000 jobs to finish: it used to be the 10 000 last enqueued,
// so a long job enqueued early was forgotten the moment it finished.
const PAST_KEEP = 10_050;

test('a job enqueued before 10 000 others but finished after them keeps its result', async () => {
  const larder = eager();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const slow = larder.tasks.define('slow', async () => {
    await gate;
    return 'done';
  });
  const noise = larder.tasks.define('noise', (i: number) => i);
  const early = slow.delay();
  await early.enqueued();
  const others = Array.from({ length: PAST_KEEP }, (_, i) => noise.delay(i));
  await Promise.all(others.map((o) => o.get({ timeout: '60s' })));
  const first = others[0];
  const last = others.at(-1);
  assert.ok(first && last);
  release();
  assert.equal(await early.get({ timeout: '10s' }), 'done');
  assert.equal(await early.status(), 'success');
  // The oldest finished go first: the first noise job is forgotten (an unknown id reads 'pending').
  assert.equal(await first.status(), 'pending');
  assert.equal(await last.status(), 'success');
});

test('a chord member that finished early keeps its result for the callback past 10 000 other jobs', async () => {
  const larder = eager();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const fast = larder.tasks.define('fast', (n: number) => n);
  const slow = larder.tasks.define('slow', async (n: number) => {
    await gate;
    return n;
  });
  const collect = larder.tasks.define('collect', (xs: number[]) => xs);
  const noise = larder.tasks.define('noise', (i: number) => i);
  const chord = larder.tasks.chord([fast.s(1), slow.s(2)], collect.s()).applyAsync();
  await chord.enqueued();
  await Promise.all(Array.from({ length: PAST_KEEP }, (_, i) => noise.delay(i).get({ timeout: '60s' })));
  release();
  assert.deepEqual(await chord.get({ timeout: '10s' }), [1, 2]);
});
