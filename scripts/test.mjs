#!/usr/bin/env node
// `npm test`: make sure the system tools exist, build, start the shared Redis servers, run every
// test/**/*.test.ts with node:test, stop the servers, exit with the runner's code.
// Usage: npm test [-- <file filter>... [--node-test-flag...]]  (filters match any part of the path)
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runId = randomBytes(6).toString('hex');

const systemTools = [
  { name: 'redis-server', pkg: 'redis-server' },
  { name: 'redis-sentinel', pkg: 'redis-sentinel' },
  { name: 'redis-cli', pkg: 'redis-tools' },
  { name: 'chromium', pkg: 'chromium', at: '/usr/bin/chromium' },
];

function onPath(name) {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .some((dir) => dir && existsSync(path.join(dir, name)));
}

function missingTools() {
  return systemTools.filter((tool) => !(tool.at ? existsSync(tool.at) : onPath(tool.name)));
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, ...options });
  return result.status ?? 1;
}

/** Like `run`, without blocking: the build and the server start-up overlap. */
function runAsync(command, args, track) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', cwd: root });
    track(child);
    child.once('error', (error) => {
      console.error(`could not run ${command}: ${error.message}`);
      resolve(1);
    });
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

function ensureSystemTools() {
  const missing = missingTools();
  if (!missing.length) return;
  const packages = missing.map((tool) => tool.pkg);
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !onPath('apt-get')) {
    console.error(
      `npm test needs ${missing.map((t) => t.name).join(', ')}, which ${missing.length > 1 ? 'are' : 'is'} not installed.\n` +
        `On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y ${packages.join(' ')}\n` +
        'On macOS: brew install redis (and a Chromium build at /usr/bin/chromium for the browser tests).',
    );
    process.exit(1);
  }
  console.log(`Installing ${packages.join(' ')} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (
    run('apt-get', ['update'], { env }) !== 0 ||
    run('apt-get', ['install', '-y', ...packages], { env }) !== 0
  ) {
    console.error(
      `apt-get could not install ${packages.join(' ')}; install them by hand and run npm test again.`,
    );
    process.exit(1);
  }
  const stillMissing = missingTools();
  if (stillMissing.length) {
    console.error(`still missing after apt-get: ${stillMissing.map((t) => t.name).join(', ')}`);
    process.exit(1);
  }
}

function findTestFiles(filters) {
  const testDir = path.join(root, 'test');
  if (!existsSync(testDir)) return [];
  return readdirSync(testDir, { recursive: true })
    .map((entry) => path.join('test', String(entry)))
    .filter((file) => file.endsWith('.test.ts') && !file.split(path.sep).includes('node_modules'))
    .filter((file) => !filters.length || filters.some((filter) => file.includes(filter)))
    .sort();
}

/** redis-* processes (not zombies) whose environment carries this run's id, i.e. started by this run. */
function processesOfThisRun() {
  const marker = `LARDER_TEST_RUN_ID=${runId}`;
  const found = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('redis-')) continue;
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(marker)) found.push(Number(pid));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

async function reportLeftovers() {
  if (!existsSync('/proc')) {
    console.log('leftover redis-server processes from this run: not counted (no /proc on this system)');
    return;
  }
  let leftovers = processesOfThisRun();
  // Test processes that died kill their servers through a watchdog; give it a moment.
  for (let waited = 0; leftovers.length && waited < 3_000; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    leftovers = processesOfThisRun();
  }
  for (const pid of leftovers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  const detail = leftovers.length ? ` (killed now: ${leftovers.join(', ')} — a test leaked them)` : '';
  console.log(`leftover redis-server processes from this run: ${leftovers.length}${detail}`);
}

async function startSharedServers(harness) {
  const started = Date.now();
  const [standalone, cluster] = await Promise.all([harness.startStandalone(), harness.startCluster()]);
  console.log(`shared Redis: ${standalone.url} and ${cluster.url} (ready in ${Date.now() - started} ms)`);
  return { LARDER_TEST_REDIS_URL: standalone.url, LARDER_TEST_CLUSTER_URL: cluster.url };
}

function runTests(files, testFlags, env, track) {
  const concurrency = process.env.LARDER_TEST_CONCURRENCY ?? '2';
  const args = ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`];
  return new Promise((resolve) => {
    const runner = spawn(process.execPath, [...args, ...testFlags, ...files], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, ...env },
    });
    track(runner);
    runner.once('error', (error) => {
      console.error(`could not start the test runner: ${error.message}`);
      resolve(1);
    });
    runner.once('exit', (code) => resolve(code ?? 1));
  });
}

async function main() {
  const cliArgs = process.argv.slice(2);
  // `npm test -- config --test-name-pattern=incr`: words filter files, flags go to node --test.
  const filters = cliArgs.filter((arg) => !arg.startsWith('-'));
  const testFlags = cliArgs.filter((arg) => arg.startsWith('-'));

  const files = findTestFiles(filters);
  if (!files.length) {
    console.error(
      filters.length ? `no test file matches ${filters.join(', ')}` : 'no test files under test/',
    );
    process.exit(1);
  }
  ensureSystemTools();

  // Every redis-server started from here on (here or in a test process) inherits the run id.
  process.env.LARDER_TEST_RUN_ID = runId;
  const { tsImport } = await import('tsx/esm/api');
  const harness = await tsImport('../test/support/redis-server.ts', import.meta.url);

  let child;
  let interrupted;
  const track = (spawned) => {
    child = spawned;
  };
  const onSignal = (signal) => {
    interrupted ??= signal;
    child?.kill(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let exitCode = 1;
  try {
    const [build, servers] = await Promise.allSettled([
      runAsync('npm', ['run', 'build'], track),
      startSharedServers(harness),
    ]);
    if (build.status === 'rejected' || build.value !== 0) {
      exitCode = build.status === 'fulfilled' ? build.value : 1;
      console.error('npm run build failed; no tests were run.');
    } else if (servers.status === 'rejected') {
      console.error(
        `could not start the shared Redis servers:\n${servers.reason?.message ?? servers.reason}`,
      );
    } else if (!interrupted) {
      exitCode = await runTests(files, testFlags, servers.value, track);
    }
  } finally {
    await harness.stopAll();
    await reportLeftovers();
  }
  if (interrupted) exitCode = interrupted === 'SIGINT' ? 130 : 143;
  process.exit(exitCode);
}

await main();
