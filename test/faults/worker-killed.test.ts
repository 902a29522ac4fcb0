/**
 * Fault: the worker process running the storefront's `confirm-order` task killed (SIGKILL)
 * mid-task while the shop serves pages. The job was taken (status `started`) by the only
 * worker; once that process is gone, a second worker started after the kill completes the
 * order — at-least-once delivery, through BullMQ's lock expiry and stalled-job check (short
 * intervals here; 30 s each by default). The mechanism on a bare task is in
 * test/tasks/worker-process.test.ts; this is the same fault end to end, through checkout.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLarder } from '../../src/larder.js';
import { startStandalone } from '../support/redis-server.js';
import {
  CACHED_ROUTES,
  load,
  percentile,
  recordFigures,
  round,
  serveStorefront,
  timeUntil,
} from './support.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** `larder worker --app examples/storefront/worker.ts`, as a child process with fast stall detection. */
function startWorker(env: NodeJS.ProcessEnv) {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/index.ts',
      'worker',
      '--app',
      'examples/storefront/worker.ts',
      '--concurrency',
      '1',
      '--lock-duration',
      '1s',
      '--stalled-interval',
      '300ms',
    ],
    { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  const ready = () =>
    timeUntil(async () => /^larder worker ready/m.test(output), 'the worker readiness line', 60_000);
  return { child, exited, ready, output: () => output };
}

test('a worker killed mid-task (SIGKILL): the order is confirmed by another worker', async (t) => {
  const server = await startStandalone();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'larder-faults-worker-'));
  const env = {
    ...process.env,
    REDIS_URL: server.url,
    LARDER_REDIS_URL: '',
    STOREFRONT_DB: path.join(dir, 'storefront.db'),
  };
  const larder = createLarder(
    { logger: false, rateLimits: { api: { limit: 1_000_000, window: 60 } } },
    { REDIS_URL: server.url },
  );
  const shop = await serveStorefront(larder);
  const workers: Array<ReturnType<typeof startWorker>> = [];
  try {
    const first = startWorker(env);
    workers.push(first);
    await first.ready();

    // A cart and a checkout, as a visitor does.
    const added = await fetch(`${shop.base}/cart/add`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ sku: 'grinder' }),
    });
    assert.equal(added.status, 303);
    const cookie = added.headers
      .getSetCookie()
      .map((line) => line.split(';')[0])
      .join('; ');

    let done = false;
    const traffic = load({
      concurrency: 4,
      count: 20_000,
      maxMs: 90_000,
      stop: () => done,
      next: (i) => ({ route: 'cached', url: `${shop.base}${CACHED_ROUTES[i % CACHED_ROUTES.length]}` }),
    });
    let killedAt = 0;
    let completedMs = Number.NaN;
    let statusWhenKilled = '';
    let info: Awaited<ReturnType<ReturnType<typeof larder.tasks.result>['info']>>;
    try {
      const checkout = await fetch(`${shop.base}/checkout`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie },
      });
      assert.equal(checkout.status, 303, await checkout.text());
      const orderPath = checkout.headers.get('location') ?? '';
      const orderId = /^\/orders\/(.+)$/.exec(orderPath)?.[1];
      assert.ok(orderId, `checkout redirects to the order page, got ${orderPath}`);
      const result = larder.tasks.result(`confirm-${orderId}`, { task: 'confirm-order' });

      // Mid-task: the only worker has taken the job.
      await timeUntil(async () => (await result.status()) === 'started', 'the worker to start the task');
      first.child.kill('SIGKILL');
      assert.equal(await first.exited, 'SIGKILL');
      killedAt = performance.now();
      statusWhenKilled = await result.status();

      const second = startWorker(env);
      workers.push(second);
      await second.ready();
      await result.get({ timeout: '60s' });
      completedMs = performance.now() - killedAt;
      info = await result.info();
      const page = await fetch(`${shop.base}${orderPath}`, { headers: { cookie } });
      assert.equal(page.status, 200);
    } finally {
      done = true;
    }
    const samples = await traffic;
    const errors = samples.filter((s) => s.status !== 200);
    const figures = {
      statusWhenKilled,
      finalStatus: info.status,
      attempts: info.attempts,
      completedMsAfterKill: round(completedMs),
      pageRequestsDuring: samples.length,
      pageErrors: errors.length,
      pageP99Ms: round(
        percentile(
          samples.map((s) => s.ms),
          99,
        ),
      ),
    };
    t.diagnostic(
      `faults: worker killed mid-task — job ${figures.statusWhenKilled} when its worker was SIGKILLed, ` +
        `${figures.finalStatus} after ${figures.attempts} attempts in another worker, ` +
        `${figures.completedMsAfterKill} ms after the kill (second worker's start-up included); ` +
        `${figures.pageErrors} of ${figures.pageRequestsDuring} page requests failed meanwhile`,
    );
    await recordFigures('worker-killed', figures);

    assert.equal(info.status, 'success', 'the order was confirmed');
    assert.equal(errors.length, 0, `page requests failed: ${JSON.stringify(errors[0])}`);
  } finally {
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await shop.close();
    await larder.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
