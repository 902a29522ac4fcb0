/**
 * `larder worker --app <module>`: runs task workers (Celery's `celery worker`) for the
 * tasks an app module defines; SIGTERM lets running jobs finish, then exits.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import type { LarderConfig } from '../config/index.js';
import type { Duration } from '../config/types.js';
import { LarderError } from '../errors.js';
import { createLarder, type Larder } from '../larder.js';
import { CliError } from './context.js';
import { positiveInt } from './run.js';

/** What `--app` may export: a Larder (default or `larder`), or a config (default or `config`) and `register(larder)`. */
interface AppModule {
  default?: unknown;
  larder?: unknown;
  config?: unknown;
  register?: (larder: Larder) => unknown;
}

const isLarder = (value: unknown): value is Larder =>
  typeof (value as Larder | undefined)?.tasks?.startWorker === 'function';

/** Loads the worker's app module: its tasks get defined as it is imported (or by its `register`). */
async function loadApp(appPath: string): Promise<Larder> {
  // As --config: a missing or broken module is bad usage (exit 2) with what to do, not a raw import error.
  const file = resolve(appPath);
  if (!existsSync(file)) {
    throw new CliError(`--app ${appPath}: no such file (resolved to ${file}).`);
  }
  let mod: AppModule;
  try {
    mod = (await import(pathToFileURL(file).href)) as AppModule;
  } catch (error) {
    const hint = /\.[mc]?ts$/.test(file)
      ? ' Compile it to JavaScript first, or run the CLI with node --import tsx.'
      : '';
    throw new CliError(
      `--app ${appPath} could not be loaded: ${(error as Error)?.message ?? String(error)}.${hint}`,
    );
  }
  const found = [mod.default, mod.larder].find(isLarder);
  if (found) return found;
  const config = mod.default ?? mod.config;
  if (config !== undefined && typeof config !== 'object') {
    throw new LarderError(
      `--app ${appPath} exports neither a Larder nor a config; export the Larder that defines your tasks ` +
        '(export const larder = createLarder(); larder.tasks.define(...)).',
    );
  }
  const larder = createLarder(config as LarderConfig | undefined);
  await mod.register?.(larder);
  return larder;
}

const collectQueues = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((q) => q.trim())
    .filter(Boolean),
];

interface WorkerOptions {
  app: string;
  concurrency: number;
  queues?: string[];
  lockDuration?: string;
  stalledInterval?: string;
}

async function startWorker(opts: WorkerOptions): Promise<void> {
  const larder = await loadApp(opts.app);
  if (larder.tasks.driverKind !== 'bullmq') {
    await larder.close();
    throw new LarderError(
      'larder worker needs a broker: with no Redis configured, tasks run in the process that applies them (the eager driver). ' +
        "Set REDIS_URL (or tasks.broker in the app's config) in both the app and the worker.",
    );
  }
  const seconds = (v: string | undefined) =>
    v === undefined ? undefined : /^\d+(\.\d+)?$/.test(v) ? Number(v) : (v as Duration);
  const worker = await larder.tasks.startWorker({
    concurrency: opts.concurrency,
    ...(opts.queues ? { queues: opts.queues } : {}),
    ...(opts.lockDuration ? { lockDuration: seconds(opts.lockDuration) as Duration } : {}),
    ...(opts.stalledInterval ? { stalledInterval: seconds(opts.stalledInterval) as Duration } : {}),
  });
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second signal: leave the running jobs to another worker (they are retried once their lock lapses).
      process.stdout.write(`larder worker: ${signal} again, stopping now\n`);
      await worker.close(true);
      process.exit(1);
    }
    stopping = true;
    process.stdout.write(
      `larder worker: ${signal}, finishing running jobs (send it again to stop at once)\n`,
    );
    await worker.close();
    await larder.close();
    process.stdout.write('larder worker: stopped\n');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(
    `larder worker ready: pid ${process.pid}, queues ${worker.queues.join(',')}, concurrency ${worker.concurrency}, ` +
      `tasks ${larder.tasks.names().join(',') || '(none)'}, broker ${larder.backends().tasks}\n`,
  );
}

/** Registers `larder worker`; `onStart` is told the process must stay up after the action returns. */
export function workerCommand(program: Command, onStart: () => void): void {
  program
    .command('worker')
    .description("run task workers (Celery's `celery worker`); SIGTERM finishes the running jobs, then exits")
    .requiredOption(
      '-A, --app <module>',
      'module that defines the tasks and exports its Larder (or a config and register(larder))',
    )
    .option('--concurrency <n>', 'jobs run at once per queue', positiveInt(), 1)
    .option(
      '-Q, --queues <names>',
      'comma-separated queues to take jobs from (default: tasks.defaultQueue)',
      collectQueues,
    )
    .option(
      '--lock-duration <duration>',
      "how long a job stays locked to a worker that stops answering (e.g. '30s')",
    )
    .option('--stalled-interval <duration>', "how often to look for jobs whose worker died (e.g. '30s')")
    .action(async (opts: WorkerOptions) => {
      onStart();
      await startWorker(opts);
    });
}
