#!/usr/bin/env node
import { resolve } from 'node:path';
/**
 * @module larder/cli — the `larder` command.
 *
 * Config comes from `--config <module>` (a module whose default export is a Larder config
 * or a Larder) or from `LARDER_REDIS_URL` / `REDIS_URL`. More commands arrive with the
 * operations issue; `info` and `worker` (`larder worker --app ./tasks.js --concurrency 4`) work today.
 */
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import type { LarderConfig } from '../config/index.js';
import type { Duration } from '../config/types.js';
import { LarderError } from '../errors.js';
import { createLarder, Larder } from '../larder.js';

async function loadLarder(configPath: string | undefined): Promise<Larder> {
  if (!configPath) return createLarder({ logger: false });
  const mod = await import(pathToFileURL(resolve(configPath)).href);
  const exported = mod.default ?? mod.larder ?? mod.config;
  if (exported instanceof Larder) return exported;
  return createLarder({ logger: false, ...exported });
}

const program = new Command('larder')
  .description('Inspect and operate a larder deployment.')
  .option('-c, --config <module>', 'module exporting a Larder config (default: REDIS_URL)')
  .option('--json', 'print JSON instead of text');

program
  .command('info')
  .description('connections, their topology and round-trip time')
  .action(async () => {
    const { config, json } = program.opts<{ config?: string; json?: boolean }>();
    const larder = await loadLarder(config);
    try {
      const report = await larder.health();
      if (json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        process.stdout.write(
          `status: ${report.status}${report.embedded ? ' (embedded: in-memory drivers)' : ''}\n`,
        );
        for (const [capability, backend] of Object.entries(report.backends)) {
          process.stdout.write(`  ${capability.padEnd(16)} ${backend}\n`);
        }
        for (const c of report.connections) {
          const rtt = c.latencyMs === undefined ? '' : ` ${c.latencyMs} ms`;
          process.stdout.write(
            `  ${c.status.padEnd(4)} ${c.topology.padEnd(10)} ${c.name}${rtt}${c.error ? ` — ${c.error}` : ''}\n`,
          );
        }
      }
      process.exitCode = report.status === 'ok' ? 0 : 1;
    } finally {
      await larder.close();
    }
  });

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
  const mod = (await import(pathToFileURL(resolve(appPath)).href)) as AppModule;
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

program
  .command('worker')
  .description("run task workers (Celery's `celery worker`); SIGTERM finishes the running jobs, then exits")
  .requiredOption(
    '-A, --app <module>',
    'module that defines the tasks and exports its Larder (or a config and register(larder))',
  )
  .option('--concurrency <n>', 'jobs run at once per queue', (v) => Number.parseInt(v, 10), 1)
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
  .action(
    async (opts: {
      app: string;
      concurrency: number;
      queues?: string[];
      lockDuration?: string;
      stalledInterval?: string;
    }) => {
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
    },
  );

program.parseAsync().catch((error: unknown) => {
  const message =
    error instanceof LarderError
      ? `${error.code}: ${error.message}`
      : String((error as Error)?.stack ?? error);
  process.stderr.write(`larder: ${message}\n`);
  process.exit(2);
});
