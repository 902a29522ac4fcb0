/**
 * @module bench/soak — the storefront on Redis at a fixed request rate for a bounded time
 * (issue 12): is it stable? Every `--sample` seconds it records the window's latency p50/p99,
 * the server process's RSS and Redis' `CLIENT LIST` count, prints them as a table, then a
 * verdict. Exits 1 when the connection count grew, RSS grew by more than `--rss-bound` MB,
 * or any request failed (5xx or socket error); 429s from the rate-limited API are expected.
 *
 * The server (`createApp` from examples/storefront/app.ts on a Larder with `REDIS_URL`) runs in
 * a child process — this same file with `--serve` — so its RSS is its own; autocannon drives
 * it over loopback, each connection cycling through the mix: the cached catalog
 * (`/products`), a signed-in page (`/account/devices`, with a session cookie) and the
 * rate-limited API (`/api/products`).
 *
 * Usage: npm run soak [-- --duration 180 --rate 300 --sample 10 --connections 20 --rss-bound 64]
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { invocation, machineInfo, startBenchRedis, startBenchServer } from './support.js';

const OPTIONS = { duration: 180, rate: 300, sample: 10, connections: 20, 'rss-bound': 64 };
type Options = typeof OPTIONS;

function parseArgs(argv: string[]): Options {
  const options = { ...OPTIONS };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=');
    const name = flag!.replace(/^--/, '') as keyof Options;
    if (!(name in OPTIONS))
      throw new Error(
        `unknown option ${flag}; known: ${Object.keys(OPTIONS)
          .map((o) => `--${o}`)
          .join(' ')}`,
      );
    const value = Number(inline ?? argv[++i]);
    if (!(value > 0)) throw new Error(`${flag} needs a number greater than 0`);
    options[name] = value;
  }
  return options;
}

// ---- the server (child) ----------------------------------------------------------------------

async function serve(): Promise<void> {
  const { createApp } = await import('../examples/storefront/app.js');
  const { createLarder } = await import('../src/larder.js');
  const larder = createLarder(
    {
      logger: false,
      // Half the API traffic is refused, so both sides of the limiter stay exercised.
      rateLimits: { api: { limit: 3_000, window: 60 } },
      tasks: { prefix: 'soak' },
    },
    { REDIS_URL: process.env.REDIS_URL },
  );
  const server = createApp(larder as never).listen(0, '127.0.0.1');
  server.once('listening', () => {
    const address = server.address();
    process.stdout.write(`PORT ${typeof address === 'object' && address ? address.port : 0}\n`);
  });
  process.once('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => void larder.close().then(() => process.exit(0)));
  });
}

// ---- the driver (parent) ---------------------------------------------------------------------

interface Sample {
  at: number;
  requests: number;
  p50: number;
  p99: number;
  limited: number;
  failed: number;
  rssMb: number;
  clients: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Resident set size of `pid` in MB, from /proc (Linux). */
function rssOf(pid: number): number {
  const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return line ? Number(line[1]) / 1024 : Number.NaN;
}

function startServer(redisUrl: string): Promise<{ child: ChildProcess; port: number }> {
  return startBenchServer(
    fileURLToPath(import.meta.url),
    ['--serve'],
    { REDIS_URL: redisUrl },
    'the storefront',
  );
}

/** Signs in as the demo's alice (password: the name backwards) and returns the session cookie. */
async function signIn(base: string): Promise<string> {
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    body: new URLSearchParams({ username: 'alice', password: 'ecila' }),
    redirect: 'manual',
  });
  const cookie = res.headers.getSetCookie().find((line) => line.startsWith('sessionid='));
  if (res.status !== 303 || !cookie) throw new Error(`sign-in failed: ${res.status}`);
  return cookie.split(';')[0]!;
}

function table(samples: Sample[]): string {
  const head = ['t (s)', 'req/s', 'p50 ms', 'p99 ms', '429s', 'failed', 'RSS MB', 'clients'];
  const rows = samples.map((s, i) => [
    String(s.at),
    (s.requests / (i === 0 ? s.at : s.at - samples[i - 1]!.at)).toFixed(0),
    s.p50.toFixed(2),
    s.p99.toFixed(2),
    String(s.limited),
    String(s.failed),
    s.rssMb.toFixed(1),
    String(s.clients),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, c) => cell.padStart(widths[c]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

async function drive(options: Options): Promise<number> {
  const redis = await startBenchRedis();
  const { child, port } = await startServer(redis.url);
  const base = `http://127.0.0.1:${port}`;
  try {
    const machine = machineInfo(redis.version);
    const args = process.argv.slice(2);
    const command =
      process.env.npm_lifecycle_event === 'soak'
        ? ['npm run soak', ...(args.length ? ['--', ...args] : [])].join(' ')
        : invocation();
    console.log(`soak — command: ${command}`);
    console.log(
      `redis-server ${redis.version} on 127.0.0.1:${redis.port}; node ${process.version}; ${machine.cpus} × ${machine.cpuModel}; ` +
        `load average ${machine.loadAverage}; larder ${machine.revision ?? '(no git)'}`,
    );
    console.log(
      `${options.rate} req/s for ${options.duration} s over ${options.connections} connections, sampled every ${options.sample} s; ` +
        'mix: /products (cached), /account/devices (signed in), /api/products (rate-limited)',
    );
    const cookie = await signIn(base);
    const clientCount = async () =>
      String(await redis.server.command('CLIENT', 'LIST'))
        .trim()
        .split('\n').length;

    let window: number[] = [];
    let limited = 0;
    let failed = 0;
    const samples: Sample[] = [];
    const started = Date.now();
    let finish!: (error: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = (error) => (error ? reject(error) : resolve());
    });
    // The callback form returns the instance, whose events give each response's latency.
    const instance = autocannon(
      {
        url: base,
        connections: options.connections,
        overallRate: options.rate,
        duration: options.duration,
        requests: [
          { method: 'GET', path: '/products' },
          { method: 'GET', path: '/account/devices', headers: { cookie } },
          { method: 'GET', path: '/api/products' },
        ],
      },
      (error) => finish(error),
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
      window.push(responseTime);
      if (status === 429) limited++;
      else if (status >= 400) failed++;
    });
    instance.on('reqError', () => {
      failed++;
    });
    const take = async () => {
      const latencies = window.sort((a, b) => a - b);
      const sample: Sample = {
        at: Math.round((Date.now() - started) / 1000),
        requests: latencies.length,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        limited,
        failed,
        rssMb: rssOf(child.pid!),
        clients: await clientCount(),
      };
      window = [];
      limited = 0;
      failed = 0;
      samples.push(sample);
      console.log(
        `  ${String(sample.at).padStart(4)} s: ${sample.requests} requests, p50 ${sample.p50.toFixed(2)} ms, ` +
          `p99 ${sample.p99.toFixed(2)} ms, RSS ${sample.rssMb.toFixed(1)} MB, ${sample.clients} Redis clients`,
      );
    };
    const timer = setInterval(() => void take(), options.sample * 1000);
    await done;
    clearInterval(timer);
    if (window.length > options.rate) await take();

    console.log(`\n${table(samples)}\n`);
    // The first window is the warm-up (JIT, first connections, the first catalog load): the
    // verdict compares the rest with the second window.
    const base0 = samples[1] ?? samples[0]!;
    const last = samples.at(-1)!;
    const steady = samples.slice(1);
    const p99s = steady.map((s) => s.p99);
    // RSS saws up and down with each GC (±25 MB here): compare the median of the first three
    // steady windows with that of the last three, not two single points.
    const medianOf = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const rssStart = medianOf(steady.slice(0, 3).map((s) => s.rssMb));
    const rssEnd = medianOf(steady.slice(-3).map((s) => s.rssMb));
    const rssGrowth = rssEnd - rssStart;
    const clientsChange = last.clients - base0.clients;
    const totalFailed = samples.reduce((sum, s) => sum + s.failed, 0);
    const verdicts = [
      {
        ok: true,
        text: `p99 drift: ${base0.p99.toFixed(2)} → ${last.p99.toFixed(2)} ms (×${(last.p99 / base0.p99).toFixed(2)}; steady windows ${Math.min(...p99s).toFixed(2)}–${Math.max(...p99s).toFixed(2)} ms) — reported, not a gate on a shared machine`,
      },
      {
        ok: rssGrowth <= options['rss-bound'],
        text: `RSS growth after warm-up: ${rssGrowth >= 0 ? '+' : ''}${rssGrowth.toFixed(1)} MB (median of the first three steady windows ${rssStart.toFixed(1)} → of the last three ${rssEnd.toFixed(1)}; bound ${options['rss-bound']} MB)`,
      },
      {
        ok: clientsChange <= 0 && Math.max(...steady.map((s) => s.clients)) <= base0.clients,
        text: `Redis connections: ${base0.clients} → ${last.clients} (steady windows ${Math.min(...steady.map((s) => s.clients))}–${Math.max(...steady.map((s) => s.clients))}; must not grow)`,
      },
      {
        ok: totalFailed === 0,
        text: `failed requests (5xx, 4xx other than 429, socket errors): ${totalFailed}`,
      },
    ];
    for (const v of verdicts) console.log(`${v.ok ? 'ok  ' : 'FAIL'} ${v.text}`);
    const pass = verdicts.every((v) => v.ok);
    console.log(pass ? 'verdict: stable' : 'verdict: NOT stable');
    return pass ? 0 : 1;
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) =>
      child.exitCode === null ? child.once('exit', resolve) : resolve(undefined),
    );
    await redis.stop();
  }
}

if (process.argv.includes('--serve')) await serve();
else process.exitCode = await drive(parseArgs(process.argv.slice(2)));
