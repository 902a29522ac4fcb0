/**
 * Regressions where the eager driver and BullMQ disagreed: each case runs on both (BullMQ
 * on the shared Redis standalone server, a worker in this process), named after what it
 * guards. The conformance suite (`test/conformance/tasks.suite.ts`) holds the rest.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TaskRevokedError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import type { TaskWorker } from '../../src/tasks/index.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

const GET = { timeout: '15s' } as const;
const QUEUES = ['default', 'io', 'db'];

for (const driver of ['eager', 'bullmq'] as const) {
  describe(`tasks on ${driver}`, () => {
    let larder: Larder;
    let worker: TaskWorker;
    let n = 0;
    const name = (label: string) => `${label}-${++n}`;

    before(async () => {
      const redis = driver === 'bullmq' ? redisUrlFor('standalone') : false;
      larder = createLarder({ redis, logger: false, tasks: { prefix: uniquePrefix('parity') } }, {});
      assert.equal(larder.tasks.driverKind, driver);
      worker = await larder.tasks.startWorker({ queues: QUEUES, concurrency: 4 });
    });

    after(async () => {
      await worker.close();
      await larder.close();
    });

    test('a chain and a chord whose steps are on different queues settle with their results', async () => {
      const fetchIt = larder.tasks.define(name('fetch'), (n: number) => n * 2, { queue: 'io' });
      const store = larder.tasks.define(name('store'), (v: number) => v + 1, { queue: 'db' });
      const sum = larder.tasks.define(name('sum'), (xs: number[]) => xs.reduce((a, b) => a + b, 0), {
        queue: 'db',
      });
      assert.equal(await larder.tasks.chain(fetchIt.s(20), store.s()).applyAsync().get(GET), 41);
      const chord = larder.tasks.chord([fetchIt.s(1), fetchIt.s(2), store.s(10)], sum.s()).applyAsync();
      assert.equal(await chord.get(GET), 2 + 4 + 11);
    });

    // BullMQ's job.remove() on a flow child drops the parent's dependency: the next step ran on undefined.
    test('revoking a pending chain link fails the chain with TaskRevokedError; the next step never runs', async () => {
      const ran: unknown[] = [];
      const first = larder.tasks.define(name('first'), (n: number) => n + 1);
      const second = larder.tasks.define(name('second'), (v: unknown) => {
        ran.push(v);
        return `got ${v}`;
      });
      const linkId = name('link');
      const chained = larder.tasks
        .chain(first.s(1, { jobId: linkId, countdown: '10s' }), second.s())
        .applyAsync();
      await chained.enqueued();
      const link = larder.tasks.result(linkId, { task: first.name });
      assert.equal(await link.revoke(), true);
      await assert.rejects(chained.get(GET), TaskRevokedError);
      assert.equal(await chained.status(), 'revoked');
      assert.equal(await link.status(), 'revoked');
      assert.deepEqual(ran, []);
    });

    test('revoking a pending chord member fails the chord with TaskRevokedError; the callback never runs', async () => {
      const ran: unknown[] = [];
      const part = larder.tasks.define(name('part'), (n: number) => n);
      const sum = larder.tasks.define(name('sum'), (xs: number[]) => {
        ran.push(xs);
        return xs.reduce((a, b) => a + b, 0);
      });
      const memberId = name('member');
      const chord = larder.tasks
        .chord([part.s(1), part.s(2, { jobId: memberId, countdown: '10s' })], sum.s())
        .applyAsync();
      await chord.enqueued();
      assert.equal(await larder.tasks.result(memberId, { task: part.name }).revoke(), true);
      await assert.rejects(chord.get(GET), TaskRevokedError);
      assert.deepEqual(ran, []);
    });

    // Eager read 'revoked' at once but settled get() only when the countdown ended.
    test('a job past its expires inside its countdown: get() throws TaskRevokedError', async () => {
      const quick = larder.tasks.define(name('quick'), () => 'ran');
      const result = quick.applyAsync(undefined, { countdown: '1h', expires: '100ms' });
      await assert.rejects(result.get(GET), TaskRevokedError);
      assert.equal(await result.status(), 'revoked');
    });

    // Eager ended such a job 'failure' (TaskFailedError), BullMQ 'revoked': the rule is BullMQ's.
    test('a job revoked while it runs, whose run then fails with retries left, ends revoked', async () => {
      let started = 0;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let running!: () => void;
      const isRunning = new Promise<void>((resolve) => {
        running = resolve;
      });
      const flaky = larder.tasks.define(
        name('flaky'),
        async () => {
          started++;
          running();
          await gate;
          throw new Error('boom');
        },
        { retries: 2, backoff: '50ms' },
      );
      const result = flaky.delay();
      await isRunning;
      assert.equal(await result.revoke(), false);
      release();
      await assert.rejects(result.get(GET), TaskRevokedError);
      assert.equal(await result.status(), 'revoked');
      assert.equal(started, 1);
    });
  });
}
