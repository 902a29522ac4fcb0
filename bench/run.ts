/**
 * @module bench/run — `npm run bench [-- <filter>...] [--runs=N] [--duration=MS] [--warmup=MS] [--list]`:
 * runs every registered benchmark named by a filter (exactly, else whose name contains it; all of them without
 * a filter), prints its tables, and writes its raw results to `.bench-results/<name>.json`. `--list` prints
 * the names a filter selects and runs nothing.
 *
 * larder is measured as it ships: the benches import the built package (`larder`, `larder/express`,
 * …), and `npm run bench` builds it first. (Run from its TypeScript sources through tsx, every
 * function larder makes per request also went through esbuild's `__name` helper.)
 *
 * To add a benchmark: a `bench/<name>.ts` exporting `run(options): Promise<BenchResult>`
 * (see `bench/support.ts`), and one line in `BENCHMARKS`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchModule, BenchOptions } from './support.js';

/** Every benchmark `npm run bench` knows, imported only when selected. */
const BENCHMARKS: Array<{ name: string; module: () => Promise<BenchModule> }> = [
  { name: 'cache', module: () => import('./cache.js') },
  { name: 'page-cache', module: () => import('./page-cache.js') },
  { name: 'session', module: () => import('./session.js') },
  { name: 'ratelimit', module: () => import('./ratelimit.js') },
  { name: 'tiered', module: () => import('./tiered.js') },
  { name: 'events', module: () => import('./events.js') },
  { name: 'leaderboard', module: () => import('./leaderboard.js') },
];

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = path.join(ROOT, '.bench-results');

const USAGE = 'usage: npm run bench [-- <name filter>... [--runs=N] [--duration=MS] [--warmup=MS] [--list]]';

/** A bad command line: printed without a stack trace. */
class UsageError extends Error {}

function parseArgs(argv: string[]): { filters: string[]; options: BenchOptions; list: boolean } {
  const filters: string[] = [];
  const options: BenchOptions = {};
  let list = false;
  const flags = { runs: 'runs', duration: 'durationMs', warmup: 'warmupMs' } as const;
  for (const arg of argv) {
    const flag = /^--(\w+)=(\d+)$/.exec(arg);
    if (flag && flag[1]! in flags) {
      options[flags[flag[1] as keyof typeof flags]] = Number(flag[2]);
    } else if (arg === '--list') {
      list = true;
    } else if (arg.startsWith('-')) {
      throw new UsageError(`unknown option ${arg}\n${USAGE}`);
    } else {
      filters.push(arg);
    }
  }
  return { filters, options, list };
}

async function main(): Promise<void> {
  const { filters, options, list } = parseArgs(process.argv.slice(2));
  // A filter that names a benchmark exactly selects only it ('cache' is not 'page-cache').
  const matches = (name: string, f: string) =>
    BENCHMARKS.some((b) => b.name === f) ? name === f : name.includes(f);
  const selected = BENCHMARKS.filter((b) => !filters.length || filters.some((f) => matches(b.name, f)));
  if (!selected.length) {
    throw new UsageError(
      `no benchmark matches ${filters.map((f) => `'${f}'`).join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}\n${USAGE}`,
    );
  }
  if (list) {
    for (const bench of selected) console.log(bench.name);
    return;
  }
  await mkdir(RESULTS_DIR, { recursive: true });
  for (const bench of selected) {
    const { run } = await bench.module();
    const result = await run(options);
    const file = path.join(RESULTS_DIR, `${bench.name}.json`);
    await writeFile(file, `${JSON.stringify({ ...result, date: new Date().toISOString() }, null, 2)}\n`);
    console.log(`\nraw results: ${path.relative(process.cwd(), file)}\n`);
  }
}

main().catch((error) => {
  console.error(error instanceof UsageError ? error.message : error);
  process.exitCode = 1;
});
