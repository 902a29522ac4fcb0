/**
 * @module bench/support — the shared pieces of `npm run bench`: a real redis-server for the run,
 * a fixed-time throughput loop with N operations in flight, medians, a ratio table, and the
 * shape every registered benchmark module has (`run(options) → BenchResult`).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { type RedisServerHandle, startStandalone } from '../test/support/redis-server.js';

/** Options every benchmark module's `run` accepts; each module documents its defaults. */
export interface BenchOptions {
  /** Timed runs per contender and scenario; the median is reported. */
  runs?: number;
  /** Length of one timed run, in ms. */
  durationMs?: number;
  /** Untimed warm-up before the first run of each contender in each scenario, in ms. */
  warmupMs?: number;
  /** Where progress and tables go. @default console.log */
  log?: (line: string) => void;
}

/** What a benchmark module's `run` resolves: plain JSON, written to `.bench-results/<name>.json`. */
export interface BenchResult {
  name: string;
  /** The command line that produced these figures. */
  command: string;
  machine: MachineInfo;
  [field: string]: unknown;
}

/** A registered benchmark: `bench/run.ts` imports `module` only when `name` is selected. */
export interface BenchModule {
  run(options?: BenchOptions): Promise<BenchResult>;
}

/** The machine a result was measured on. */
export interface MachineInfo {
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  /** 1-minute load average when the result was taken: other work on the machine skews figures. */
  loadAverage: number;
  redis?: string;
  /** The commit measured, with `+dirty` when `src/` had uncommitted changes (absent outside git). */
  revision?: string;
}

/** Node, OS, CPU and current load of this machine (and the Redis version when given). */
export function machineInfo(redisVersion?: string): MachineInfo {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: os.availableParallelism?.() ?? cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    loadAverage: Math.round(os.loadavg()[0]! * 100) / 100,
    ...(redisVersion ? { redis: redisVersion } : {}),
    ...(revision() ? { revision: revision() } : {}),
  };
}

let cachedRevision: string | undefined | null = null;

function revision(): string | undefined {
  if (cachedRevision !== null) return cachedRevision;
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: path.dirname(fileURLToPath(import.meta.url)),
        encoding: 'utf8',
      }).trim();
    cachedRevision =
      git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--', '../src') ? '+dirty' : '');
  } catch {
    cachedRevision = undefined;
  }
  return cachedRevision;
}

/**
 * The command line this process was started with, as a user would type it: `npm run bench --
 * <args>` under npm, else `node <flags> <script> <args>` relative to the working directory.
 * @example log(`command: ${invocation()}`);
 */
export function invocation(): string {
  const args = process.argv.slice(2);
  if (process.env.npm_lifecycle_event === 'bench')
    return ['npm run bench', ...(args.length ? ['--', ...args] : [])].join(' ');
  const script = path.relative(process.cwd(), process.argv[1] ?? '') || process.argv[1];
  return ['node', ...process.execArgv, script, ...args].join(' ');
}

// ---------------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------------

/** The redis-server a benchmark talks to, with its version. */
export interface BenchRedis {
  server: RedisServerHandle;
  url: string;
  port: number;
  version: string;
  stop(): Promise<void>;
}

/**
 * Starts one redis-server on a free loopback port (no persistence; killed by the test
 * harness's watchdog even if this process dies).
 * @example const redis = await startBenchRedis(); try { … } finally { await redis.stop(); }
 */
export async function startBenchRedis(): Promise<BenchRedis> {
  const server = await startStandalone();
  const info = String(await server.command('INFO', 'server'));
  const version = /^redis_version:(.*?)\r?$/m.exec(info)?.[1] ?? 'unknown';
  return { server, url: server.url, port: server.port, version, stop: () => server.stop() };
}

/** One `redis-benchmark` figure. */
export interface RedisBenchmarkFigure {
  command: string;
  runs: number[];
  median: number;
}

/**
 * Runs `redis-benchmark` `runs` times with `args` against `port` and returns the median
 * requests per second of its single test (e.g. `['-t', 'get', '-n', '200000', '-c', '50']`).
 * @example await redisBenchmark(redis.port, ['-t', 'get', '-n', '200000', '-c', '50', '-P', '16'], 3)
 */
export async function redisBenchmark(
  port: number,
  args: string[],
  runs: number,
): Promise<RedisBenchmarkFigure> {
  const full = ['-h', '127.0.0.1', '-p', String(port), ...args, '-q'];
  const figures: number[] = [];
  for (let r = 0; r < runs; r++) {
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('redis-benchmark', full, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.once('error', reject);
      child.once('close', (code) =>
        code === 0 ? resolve(out) : reject(new Error(`redis-benchmark exited with ${code}: ${out}`)),
      );
    });
    // -q prints progress lines ending in \r, then "GET: 137362.64 requests per second, p50=…".
    const match = /([\d.]+) requests per second/.exec(output.split('\r').pop() ?? '');
    if (!match) throw new Error(`could not read redis-benchmark's output: ${output.slice(-300)}`);
    figures.push(Number(match[1]));
  }
  return { command: ['redis-benchmark', ...full].join(' '), runs: figures, median: median(figures) };
}

// ---------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------

/** Options of `measure`. */
export interface MeasureOptions {
  /** Operations in flight: a fixed pool of this many async workers, each awaiting its op in a loop; 1 = sequential. */
  inFlight: number;
  /** Timed window, in ms. */
  durationMs: number;
  /** Untimed run before the window, in ms. @default 0 */
  warmupMs?: number;
}

/**
 * Ops/s of `op` with `inFlight` calls outstanding at all times, over `durationMs` (after an
 * optional warm-up). `op(i)` gets a running counter so callers can cycle through keys. Only
 * calls that complete inside the window count; the window's length is the divisor.
 *
 * @example const opsPerSec = await measure('get', (i) => cache.get(keys[i % keys.length]), { inFlight: 100, durationMs: 1000 });
 */
export async function measure(
  name: string,
  op: (i: number) => Promise<unknown>,
  options: MeasureOptions,
): Promise<number> {
  if (options.warmupMs) await window(name, op, options.inFlight, options.warmupMs);
  return window(name, op, options.inFlight, options.durationMs);
}

async function window(
  name: string,
  op: (i: number) => Promise<unknown>,
  inFlight: number,
  durationMs: number,
): Promise<number> {
  let next = 0;
  let completed = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  // Reading the clock after each op (~40 ns) instead of a timer flag: a loop whose ops resolve
  // without I/O would never let a timer fire.
  const worker = async () => {
    for (;;) {
      await op(next++);
      if (performance.now() > deadline) return;
      completed++;
    }
  };
  try {
    await Promise.all(Array.from({ length: inFlight }, worker));
  } catch (error) {
    throw new Error(`benchmark '${name}' failed: ${(error as Error)?.message ?? error}`, { cause: error });
  }
  return completed / (durationMs / 1000);
}

/** The median of `values` (the mean of the middle two for an even count). @example median([3, 1, 2]) // 2 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

// ---------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------

/**
 * The median of the run-by-run ratios `subject[r] / baseline[r]`: runs of one round are
 * taken back to back, so pairing them cancels most of the drift a busy machine adds (more
 * robust than the ratio of two medians).
 * @example pairedRatio([110, 90, 100], [100, 100, 125]) // 0.9
 */
export function pairedRatio(subject: readonly number[], baseline: readonly number[]): number {
  const n = Math.min(subject.length, baseline.length);
  return median(Array.from({ length: n }, (_, r) => subject[r]! / baseline[r]!));
}

/** One row of a results table: a scenario and the median ops/s of each contender in it. */
export interface TableRow {
  scenario: string;
  /** Contender name → median ops/s (`undefined`: not measured). */
  values: Record<string, number | undefined>;
  /** Contender name → ops/s of each run, in round order: ratios are then paired (`pairedRatio`). */
  runs?: Record<string, readonly number[] | undefined>;
  /** Appended after the row, e.g. why a contender ran a different operation. */
  note?: string;
}

/** What `formatTable` prints. */
export interface TableLayout {
  /** Contender columns, in order. */
  columns: string[];
  /** The contender whose ratio to each baseline is shown. */
  subject: string;
  /** Columns the subject is divided by: one `subject/baseline` column each. */
  baselines: string[];
}

/** `1234567.8` → `1,234,568`. */
export function formatOps(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? '—' : Math.round(value).toLocaleString('en-US');
}

/** `subject / baseline` as `1.23x` (`digits` decimals), or `—` when either is missing or the ratio is not finite. */
export function formatRatio(subject: number | undefined, baseline: number | undefined, digits = 2): string {
  const ratio = subject === undefined || baseline === undefined ? Number.NaN : subject / baseline;
  return Number.isFinite(ratio) ? `${ratio.toFixed(digits)}x` : '—';
}

/** The subject/baseline ratio of a row: paired run by run when the row has runs, else of the medians. */
export function rowRatio(row: TableRow, subject: string, baseline: string): number | undefined {
  const a = row.runs?.[subject];
  const b = row.runs?.[baseline];
  if (a?.length && b?.length) return pairedRatio(a, b);
  const x = row.values[subject];
  const y = row.values[baseline];
  return x === undefined || y === undefined || !y ? undefined : x / y;
}

/**
 * A Markdown table: one ops/s column per contender (medians), then one `subject/baseline`
 * ratio column per baseline (`rowRatio`); notes go below it, numbered.
 *
 * @example log(formatTable(rows, { columns: ['raw', 'larder'], subject: 'larder', baselines: ['raw'] }));
 */
export function formatTable(rows: readonly TableRow[], layout: TableLayout): string {
  const header = [
    'scenario',
    ...layout.columns.map((c) => `${c} ops/s`),
    ...layout.baselines.map((b) => `${layout.subject}/${b}`),
  ];
  const notes: string[] = [];
  const body = rows.map((row) => {
    let scenario = row.scenario;
    if (row.note) {
      if (!notes.includes(row.note)) notes.push(row.note);
      scenario += ` [${notes.indexOf(row.note) + 1}]`;
    }
    return [
      scenario,
      ...layout.columns.map((c) => formatOps(row.values[c])),
      ...layout.baselines.map((b) => formatRatio(rowRatio(row, layout.subject, b), 1)),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line), ...notes.map((note, i) => `[${i + 1}] ${note}`)].join('\n');
}

/** The value the cache benchmarks store: a small catalog row, 102 bytes as JSON. */
export const CATALOG_ROW = {
  id: 1042,
  sku: 'SKU-1042',
  name: 'Stainless kettle',
  price: 24.99,
  inStock: true,
  tags: ['kitchen'],
};

/**
 * The two lines every Redis benchmark starts with: the command, then the server, the machine
 * (load average included), the revision and the timing settings — plus a note when the machine
 * is busy, since figures taken under load are not comparable.
 *
 * @example logRunHeader(log, 'cache', command, redis, machine, { runs, durationMs, warmupMs });
 */
export function logRunHeader(
  log: (line: string) => void,
  name: string,
  command: string,
  redis: { version: string; port: number },
  machine: MachineInfo,
  timing: { runs: number; durationMs: number; warmupMs: number },
): void {
  log(`${name} benchmark — command: ${command}`);
  log(
    `redis-server ${redis.version} on 127.0.0.1:${redis.port}; node ${process.version}; ` +
      `${machine.cpus} × ${machine.cpuModel}; load average ${machine.loadAverage}; ` +
      `larder ${machine.revision ?? '(no git)'}; ` +
      `${timing.runs} runs × ${timing.durationMs} ms per figure (median), ${timing.warmupMs} ms warm-up`,
  );
  if (machine.loadAverage > 0.5)
    log(
      '  note: the machine is busy (load average > 0.5); figures will be lower and noisier than on an idle one',
    );
}

/**
 * Starts `node --import tsx <script> ...args` with `env` added, and resolves once it prints
 * `PORT <n>` on stdout (every bench server does when it listens); rejects if it exits first.
 * `ipc: true` opens an IPC channel (the page-cache server answers CPU-time questions on it).
 *
 * @example const { child, port } = await startBenchServer('bench/session-server.ts', [], { BENCH_REDIS_URL: url }, 'session server');
 */
export async function startBenchServer(
  script: string,
  args: string[],
  env: Record<string, string>,
  what: string,
  { ipc = false }: { ipc?: boolean } = {},
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    env: { ...process.env, ...env },
    stdio: ipc ? ['ignore', 'pipe', 'inherit', 'ipc'] : ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /PORT (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code} before listening`)));
  });
  return { child, port };
}
