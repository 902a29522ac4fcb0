/**
 * Task metrics on BullMQ: the producing process counts what it enqueued, the worker counts
 * what it ran (succeeded, retried, failed), and queue depths come from the broker at scrape
 * time — two Larders on one Redis, as an app and a worker process would be.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLarder, type Larder } from '../../src/index.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { parseExposition } from './exposition.js';

const GET = { timeout: 30 } as const;

function defineAll(larder: Larder) {
  return {
    ok: larder.tasks.define('metrics-ok', ({ n }: { n: number }) => n * 2),
    flaky: larder.tasks.define(
      'metrics-flaky',
      (_: undefined, ctx) => {
        if (ctx.attempt === 1) throw new Error('first attempt fails');
        return 'second attempt';
      },
      { retries: 1, backoff: { type: 'fixed', delay: '10ms' } },
    ),
    bad: larder.tasks.define('metrics-bad', () => {
      throw new Error('always fails');
    }),
  };
}

describe('task metrics on BullMQ', () => {
  it('counts enqueues in the producer, outcomes in the worker, depths from the broker', async () => {
    const config = {
      redis: redisUrlFor('standalone'),
      tasks: { prefix: uniquePrefix('metrics-tasks') },
      logger: false as const,
    };
    const producer = createLarder(config, {});
    const worker = createLarder(config, {});
    let running: { close(): Promise<void> } | undefined;
    try {
      assert.equal(producer.tasks.driverKind, 'bullmq');
      const tasks = defineAll(producer);
      defineAll(worker);
      const results = [tasks.ok.delay({ n: 21 }), tasks.flaky.delay(), tasks.bad.delay()];
      const later = tasks.ok.applyAsync({ n: 1 }, { countdown: 600 });
      for (const r of [...results, later]) assert.equal(await r.status(), 'pending');

      // Nothing runs yet: three jobs wait, one is delayed.
      const { queues } = await producer.metrics.gauges();
      assert.deepEqual(queues.default, { waiting: 3, active: 0, delayed: 1, failed: 0 });
      const before = parseExposition(await producer.metrics.prometheus());
      assert.equal(before.value('larder_task_queue_depth', { queue: 'default', state: 'waiting' }), 3);
      assert.equal(before.value('larder_task_queue_depth', { queue: 'default', state: 'delayed' }), 1);

      running = await worker.tasks.startWorker({ concurrency: 4 });
      assert.equal(await results[0]!.get(GET), 42);
      assert.equal(await results[1]!.get(GET), 'second attempt');
      await assert.rejects(results[2]!.get(GET), /always fails/);
      assert.equal(await later.revoke(), true);

      const ran = parseExposition(await worker.metrics.prometheus());
      const made = parseExposition(await producer.metrics.prometheus());
      const expected = {
        'metrics-ok': { enqueued: 2, succeeded: 1, retried: 0, failed: 0 },
        'metrics-flaky': { enqueued: 1, succeeded: 1, retried: 1, failed: 0 },
        'metrics-bad': { enqueued: 1, succeeded: 0, retried: 0, failed: 1 },
      };
      for (const [task, counts] of Object.entries(expected)) {
        assert.equal(made.value('larder_task_enqueued_total', { task }), counts.enqueued, `${task} enqueued`);
        assert.equal(
          ran.find('larder_task_enqueued_total', { task })[0]?.value ?? 0,
          0,
          `${task}: the worker enqueued nothing`,
        );
        for (const outcome of ['succeeded', 'retried', 'failed'] as const) {
          assert.equal(
            ran.value(`larder_task_${outcome}_total`, { task }),
            counts[outcome],
            `${task} ${outcome}`,
          );
          assert.equal(
            made.find(`larder_task_${outcome}_total`, { task })[0]?.value ?? 0,
            0,
            `${task}: the producer ran nothing`,
          );
        }
      }
      const after = (await worker.metrics.gauges()).queues.default;
      assert.deepEqual(after, { waiting: 0, active: 0, delayed: 0, failed: 1 });
    } finally {
      await running?.close();
      await Promise.all([worker.close(), producer.close()]);
    }
  });
});
