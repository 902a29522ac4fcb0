/**
 * @module bench/page-cache — page-cache hits against the same framework's hello world and the
 * uncached route with a 20 ms origin, for Express, Fastify and Hono, with autocannon over
 * loopback (50 connections, bounded in time). The server runs in a child process
 * (`bench/page-cache-server.ts`) so the load generator does not share its event loop; both
 * still share this machine's 2 cores with redis-server.
 *
 * Target (issue 4): a cache hit >= 0.8x the framework's hello world.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import {
  type BenchOptions,
  type BenchResult,
  formatOps,
  formatRatio,
  invocation,
  machineInfo,
  median,
  startBenchRedis,
} from './support.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FRAMEWORKS = ['express', 'fastify', 'hono'] as const;
const ROUTES = ['hello', 'cached', 'cached-local', 'origin'] as const;
const CONNECTIONS = 50;

async function startServer(
  framework: string,
  redisUrl: string,
): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(HERE, 'page-cache-server.ts'), framework],
    {
      env: { ...process.env, BENCH_REDIS_URL: redisUrl },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /PORT (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`${framework} server exited with ${code}`)));
  });
  return { port, child };
}

async function load(url: string, durationMs: number): Promise<number> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: durationMs / 1000 });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx responses and ${result.errors} errors`);
  }
  return result.requests.average;
}

/** Runs the page-cache benchmark; `runs` medians per route and framework. */
export async function run(options: BenchOptions = {}): Promise<BenchResult> {
  const runs = options.runs ?? 3;
  const durationMs = options.durationMs ?? 4000;
  const warmupMs = options.warmupMs ?? 1000;
  const log = options.log ?? console.log;
  const redis = await startBenchRedis();
  const results: Record<string, Record<string, { runs: number[]; median: number }>> = {};
  try {
    for (const framework of FRAMEWORKS) {
      const { port, child } = await startServer(framework, redis.url);
      try {
        const base = `http://127.0.0.1:${port}`;
        const perRoute: Record<string, number[]> = Object.fromEntries(ROUTES.map((r) => [r, []]));
        for (const route of ROUTES) await load(`${base}/${route}`, warmupMs);
        // Interleaved so drift on a shared machine hits every route alike.
        for (let r = 0; r < runs; r++)
          for (const route of ROUTES) perRoute[route]!.push(await load(`${base}/${route}`, durationMs));
        results[framework] = Object.fromEntries(
          ROUTES.map((route) => [route, { runs: perRoute[route]!, median: median(perRoute[route]!) }]),
        );
        const m = results[framework]!;
        log(
          `${framework.padEnd(8)} hello ${formatOps(m.hello!.median)} req/s · cached on Redis ${formatOps(m.cached!.median)} ` +
            `(${formatRatio(m.cached!.median, m.hello!.median)} hello) · cached in memory ${formatOps(m['cached-local']!.median)} ` +
            `(${formatRatio(m['cached-local']!.median, m.hello!.median)} hello) · uncached 20 ms origin ${formatOps(m.origin!.median)} ` +
            `(Redis hit = ${formatRatio(m.cached!.median, m.origin!.median)} origin)`,
        );
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    }
  } finally {
    await redis.stop();
  }
  return {
    name: 'page-cache',
    command: invocation(),
    machine: machineInfo(redis.version),
    settings: { runs, durationMs, warmupMs, connections: CONNECTIONS, originMs: 20 },
    results,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await run();
}
