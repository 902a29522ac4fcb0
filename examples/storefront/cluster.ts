/**
 * `npm run start:cluster`: several storefront processes behind `node:cluster`, sharing one
 * port (the primary hands connections out in turn) and, through Redis, everything else:
 * sessions, the cache, rate limits, tasks and live events. STOREFRONT_WORKERS sets how
 * many (default 2). The primary seeds the SQLite file before forking, prints the banner
 * once, restarts a worker that dies, and on SIGTERM or SIGINT stops every worker
 * gracefully (each closes its server, task worker and connections) before it exits.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 npm run start:cluster
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { databasePath, openDatabase } from './database.js';

const WORKERS = process.env.STOREFRONT_WORKERS ?? '2';
/** A worker that dies this soon after starting, this many times in a row, is not restarted again. */
const CRASH_WINDOW_MS = 5_000;
const MAX_QUICK_CRASHES = 5;
/** How long a worker gets to shut down before it is killed. */
const STOP_GRACE_MS = 10_000;

function fail(message: string): never {
  console.error(`storefront cluster: ${message}`);
  process.exit(1);
}

const count = Number(WORKERS);
if (!/^\d+$/.test(WORKERS) || count < 1 || count > 64) {
  fail(`STOREFRONT_WORKERS is ${JSON.stringify(WORKERS)}; use a whole number of processes from 1 to 64.`);
}
if (!process.env.REDIS_URL && !process.env.LARDER_REDIS_URL) {
  fail(
    'REDIS_URL is not set. Several processes cannot share the in-memory drivers: each would keep ' +
      'its own sessions, cache, rate limits and live events, so a visitor signed in on one process ' +
      'would be a stranger on the next and a notification would reach only the pages of one process. ' +
      'Start Redis and run REDIS_URL=redis://127.0.0.1:6379 npm run start:cluster — or run one ' +
      'process with npm start.',
  );
}
const file = databasePath();
if (file === ':memory:') {
  fail('STOREFRONT_DB is :memory:, which would give each process a catalog of its own; name a file.');
}
// Create and seed the database once, here, before the workers open it.
openDatabase(file).close();

cluster.setupPrimary({ exec: fileURLToPath(new URL('./server.ts', import.meta.url)) });

let stopping = false;
let bannerShown = false;
let quickCrashes = 0;
const started = new Map<Worker, number>();

function fork(): void {
  const worker = cluster.fork();
  started.set(worker, Date.now());
  worker.on('message', (message: { storefront?: string; url?: string; backends?: string[] }) => {
    if (message?.storefront !== 'ready') return;
    quickCrashes = 0;
    if (!bannerShown) {
      bannerShown = true;
      console.log(`storefront: ${message.url} (Redis, ${count} processes behind node:cluster)`);
      console.log((message.backends ?? []).join('\n'));
    }
    console.log(`storefront: worker ${worker.process.pid} ready`);
  });
}

cluster.on('exit', (worker, code, signal) => {
  const lived = Date.now() - (started.get(worker) ?? 0);
  started.delete(worker);
  if (stopping) {
    if (started.size === 0) process.exit();
    return;
  }
  const how = signal ? `signal ${signal}` : `code ${code}`;
  quickCrashes = lived < CRASH_WINDOW_MS ? quickCrashes + 1 : 0;
  if (quickCrashes >= MAX_QUICK_CRASHES) {
    console.error(
      `storefront cluster: workers keep dying at start (${quickCrashes} in a row, last with ${how}); ` +
        'giving up — see the errors above.',
    );
    stop('giving up', 1);
    return;
  }
  console.error(`storefront cluster: worker ${worker.process.pid} exited with ${how}; starting another`);
  fork();
});

/**
 * Asks every worker to stop with SIGTERM (each closes gracefully), then exits once they are
 * gone. (On Ctrl-C the terminal has sent the workers SIGINT too; either starts the same close.)
 */
function stop(reason: string, exitCode = 0): void {
  if (stopping) return;
  stopping = true;
  process.exitCode = exitCode;
  console.log(`storefront cluster: ${reason}, stopping ${started.size} workers`);
  if (started.size === 0) process.exit();
  for (const worker of started.keys()) worker.process.kill('SIGTERM');
  setTimeout(() => {
    for (const worker of started.keys()) worker.process.kill('SIGKILL');
    process.exit(1);
  }, STOP_GRACE_MS).unref();
}

process.once('SIGINT', () => stop('SIGINT'));
process.once('SIGTERM', () => stop('SIGTERM'));

for (let i = 0; i < count; i++) fork();
