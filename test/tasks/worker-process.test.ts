/**
 * BullMQ workers as separate processes, started through the CLI (`larder worker --app`):
 * the readiness line, graceful shutdown on SIGTERM (the running job finishes, the process
 * exits 0), and at-least-once delivery — a worker killed with SIGKILL mid-job leaves the
 * job to another worker, which runs it to completion once the dead worker's lock lapses
 * (short lock and stalled-check intervals here; 30 s each by default).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLarder, type Larder } from '../../src/larder.js';
import type { Task } from '../../src/tasks/index.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { defineSlow } from './fixtures/worker-app.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const prefix = uniquePrefix('tasks-proc');
const GET = { timeout: '30s' } as const;

interface WorkerProcess {
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the first line matching `pattern` (rejects after `ms`). */
  line(pattern: RegExp, ms?: number): Promise<string>;
  exited: Promise<number | null>;
}

function startWorker(extra: string[] = []): WorkerProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/index.ts', 'worker', '--app', 'test/tasks/fixtures/worker-app.ts', ...extra],
    { cwd: root, env: { ...process.env, TASKS_TEST_PREFIX: prefix }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const l of listeners) l();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    line: (pattern, ms = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = out.split('\n').find((l) => pattern.test(l));
          if (found === undefined) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no line matching ${pattern} within ${ms} ms; output so far:\n${out}`));
        }, ms);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      }),
  };
}

const started: WorkerProcess[] = [];
let larder: Larder;
let slow: Task<{ ms: number }, { pid: number }>;

before(() => {
  larder = createLarder({ redis: redisUrlFor('standalone'), logger: false, tasks: { prefix } }, {});
  slow = defineSlow(larder);
});

after(async () => {
  for (const w of started) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  await larder.close();
});

function run(extra: string[] = []): WorkerProcess {
  const w = startWorker(extra);
  started.push(w);
  return w;
}

test('larder worker prints its readiness line once it takes jobs', async () => {
  const w = run(['--concurrency', '3', '--queues', 'default,reports']);
  const ready = await w.line(/^larder worker ready/);
  assert.match(
    ready,
    new RegExp(`pid ${w.child.pid}, queues default,reports, concurrency 3, tasks slow, broker bullmq`),
  );
  const result = slow.delay({ ms: 10 });
  assert.equal((await result.get(GET)).pid, w.child.pid);
  w.child.kill('SIGTERM');
  assert.equal(await w.exited, 0);
});

test('SIGTERM lets the running job finish, then the worker exits 0', async () => {
  const w = run();
  await w.line(/^larder worker ready/);
  const result = slow.delay({ ms: 1_500 });
  await w.line(new RegExp(`^started ${result.id}`));
  w.child.kill('SIGTERM');
  assert.equal(await w.exited, 0, w.output());
  assert.match(w.output(), /SIGTERM, finishing running jobs/);
  assert.match(w.output(), /stopped/);
  assert.equal(await result.status(), 'success');
  assert.equal((await result.get(GET)).pid, w.child.pid);
});

test('a worker killed mid-job (SIGKILL): another worker completes the job (at-least-once)', async () => {
  // Two workers from the start (each takes seconds to boot); the one that takes the job dies.
  const fast = ['--lock-duration', '1s', '--stalled-interval', '300ms'];
  const pair = [run(fast), run(fast)];
  await Promise.all(pair.map((w) => w.line(/^larder worker ready/)));
  const result = slow.delay({ ms: 1_000 });
  const taker = await Promise.race(
    pair.map((w) => w.line(new RegExp(`^started ${result.id}`)).then(() => w)),
  );
  const rescuer = pair.find((w) => w !== taker) as WorkerProcess;
  taker.child.kill('SIGKILL');
  await taker.exited;
  assert.equal(await result.status(), 'started', 'the job is still locked to the dead worker');

  const { pid } = await result.get(GET);
  assert.equal(pid, rescuer.child.pid, 'the other worker ran it to completion');
  assert.match(rescuer.output(), new RegExp(`started ${result.id}`));
  rescuer.child.kill('SIGTERM');
  assert.equal(await rescuer.exited, 0);
});

test('larder worker refuses to start without a broker, saying what to set', async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/index.ts', 'worker', '--app', 'test/tasks/fixtures/worker-app.ts'],
    {
      cwd: root,
      env: { ...process.env, LARDER_TEST_REDIS_URL: '', REDIS_URL: '', LARDER_REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 2);
  assert.match(err, /needs a broker.*REDIS_URL/s);
});
