/**
 * `npm run start:cluster` (examples/storefront/cluster.ts): refuses to start without Redis
 * (saying why), and with it runs two storefront processes on one port that share the
 * session, restarts a worker that dies, and stops every worker cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startStandalone } from '../support/redis-server.js';
import { client } from './support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const entry = path.join(root, 'examples/storefront/cluster.ts');

/** Runs cluster.ts with `env` (and no Redis URL from this process's environment). */
function runCluster(env: Record<string, string>) {
  const { REDIS_URL: _r, LARDER_REDIS_URL: _l, ...inherited } = process.env;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: root,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const wake of waiters) wake();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  /** Resolves the first match of `pattern` in the output (waiting for it, up to 30 s). */
  const waitFor = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const found = pattern.exec(output);
        if (!found) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no ${pattern} in the output within 30 s:\n${output}`));
      }, 30_000);
      waiters.add(check);
      check();
    });
  return { child, exited, waitFor, output: () => output };
}

/** GETs `url` on a connection of its own (no keep-alive agent), so the cluster picks a worker. */
function onNewConnection(url: string, cookie: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers: { cookie } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('start:cluster without REDIS_URL says why processes cannot share the in-memory drivers, and exits 1', async () => {
  const run = runCluster({});
  assert.equal(await run.exited, 1);
  assert.match(run.output(), /REDIS_URL is not set\. Several processes cannot share the in-memory drivers/);
  assert.match(run.output(), /REDIS_URL=redis:\/\/127\.0\.0\.1:6379 npm run start:cluster/);
  const bad = runCluster({ REDIS_URL: 'redis://127.0.0.1:1', STOREFRONT_WORKERS: 'two' });
  assert.equal(await bad.exited, 1);
  assert.match(bad.output(), /STOREFRONT_WORKERS is "two"; use a whole number of processes from 1 to 64\./);
});

test('start:cluster on Redis: two processes share the session, a dead worker is replaced, SIGTERM stops all', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'storefront-cluster-'));
  const redis = await startStandalone();
  const run = runCluster({ REDIS_URL: redis.url, PORT: '0', STOREFRONT_DB: path.join(dir, 'shop.db') });
  try {
    const [, url] = await run.waitFor(
      /storefront: (http:\/\/localhost:\d+)\/ \(Redis, 2 processes behind node:cluster\)/,
    );
    const [, first, second] = await run.waitFor(/worker (\d+) ready[\s\S]*worker (\d+) ready/);
    const pids = [Number(first), Number(second)];
    assert.match(run.output(), /^ {2}sessions +redis redis:\/\/127\.0\.0\.1:\d+\/0$/m);

    // New connections go to the workers in turn; the session follows on every one of them.
    const base = url.replace('localhost', '127.0.0.1');
    const shopper = client(base);
    assert.equal((await shopper.post('/login', { username: 'zoe', password: 'eoz' })).status, 303);
    const cookie = `sessionid=${shopper.jar.get('sessionid')}`;
    for (let i = 0; i < 4; i++) assert.match(await onNewConnection(`${base}/products`, cookie), /Hi, zoe/);

    process.kill(pids[0], 'SIGKILL');
    await run.waitFor(new RegExp(`worker ${pids[0]} exited with signal SIGKILL; starting another`));
    const [, replacement] = await run.waitFor(/starting another\n[\s\S]*worker (\d+) ready/);
    assert.ok(!pids.includes(Number(replacement)));
    assert.match(await (await shopper.request('/products')).text(), /Hi, zoe/);

    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0, run.output());
    assert.match(run.output(), /SIGTERM, stopping 2 workers/);
    for (const pid of [pids[1], Number(replacement)])
      assert.equal(alive(pid), false, `worker ${pid} is gone`);
  } finally {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
