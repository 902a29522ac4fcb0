/**
 * `larder bench [filters…]`: runs the benchmark suite (bench/run.ts, through tsx) from the
 * package root, passing filters and options through. Benchmarks ship with the source
 * checkout, not the installed package: there the command says so.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CliError } from './context.js';
import { positiveInt } from './run.js';

/** The package root: dist/cli/ (or src/cli/) is two levels below it. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface BenchOptions {
  list?: boolean;
  runs?: number;
  duration?: number;
  warmup?: number;
}

/** bench/run.ts's arguments for the CLI's filters and options. */
export function benchArgs(filters: string[], opts: BenchOptions): string[] {
  return [
    ...filters,
    ...(opts.list ? ['--list'] : []),
    ...(opts.runs !== undefined ? [`--runs=${opts.runs}`] : []),
    ...(opts.duration !== undefined ? [`--duration=${opts.duration}`] : []),
    ...(opts.warmup !== undefined ? [`--warmup=${opts.warmup}`] : []),
  ];
}

async function runBench(filters: string[], opts: BenchOptions, root = PACKAGE_ROOT): Promise<number> {
  const script = path.join(root, 'bench', 'run.ts');
  if (!existsSync(script)) {
    throw new CliError(
      `larder bench runs the benchmark suite of a source checkout, and there is none at ${path.join(root, 'bench')} ` +
        '(an installed package ships without it). Clone the repository, npm ci, then run npx larder bench (or npm run bench).',
    );
  }
  try {
    createRequire(path.join(root, 'package.json')).resolve('tsx');
  } catch {
    throw new CliError(`larder bench needs tsx (a dev dependency) in ${root}: run npm ci there first.`);
  }
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...benchArgs(filters, opts)], {
    cwd: root,
    stdio: 'inherit',
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve, reject) => {
    child.once('error', (error) =>
      reject(new CliError(`could not start the benchmarks: ${error.message}`, 1)),
    );
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** Registers `larder bench`. */
export function benchCommand(program: Command): void {
  program
    .command('bench')
    .description(
      'run the benchmark suite (a source checkout): every benchmark, or those whose name contains a filter',
    )
    .argument('[filters...]', 'benchmark names or parts of them (cache, session, page-cache, …)')
    .option('--list', 'list the benchmarks a filter selects, without running them')
    .option('--runs <n>', 'runs per contender', positiveInt())
    .option('--duration <ms>', 'measured time per run, in ms', positiveInt())
    .option('--warmup <ms>', 'warm-up time per run, in ms', positiveInt(0))
    .action(async (filters: string[], opts: BenchOptions) => {
      process.exitCode = await runBench(filters, opts);
    });
}
