#!/usr/bin/env node
import { resolve } from 'node:path';
/**
 * @module larder/cli — the `larder` command.
 *
 * Config comes from `--config <module>` (a module whose default export is a Larder config
 * or a Larder) or from `LARDER_REDIS_URL` / `REDIS_URL`. More commands arrive with the
 * operations issue; `info` works today.
 */
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
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

program.parseAsync().catch((error: unknown) => {
  const message =
    error instanceof LarderError
      ? `${error.code}: ${error.message}`
      : String((error as Error)?.stack ?? error);
  process.stderr.write(`larder: ${message}\n`);
  process.exit(2);
});
