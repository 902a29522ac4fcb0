#!/usr/bin/env node
/**
 * @module larder/cli — the `larder` command: `info`, `keys`, `clear`, `sessions`, `worker`, `bench`.
 *
 * Config comes from `--config <module>` (its default export: a Larder or a Larder config) or
 * from `LARDER_REDIS_URL` / `REDIS_URL`. `--json` prints JSON on stdout; messages and
 * progress bars go to stderr. Exit codes: 0 done; 1 it ran and found a problem (a required
 * backend down, a session that was not the user's, a benchmark that failed); 2 it could not
 * run as asked (bad usage or config, no Redis configured, a server out of reach).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { LarderError } from '../errors.js';
import { benchCommand, PACKAGE_ROOT } from './bench.js';
import { clearCommand } from './clear.js';
import { CliError } from './context.js';
import { infoCommand } from './info.js';
import { keysCommand } from './keys.js';
import { run } from './run.js';
import { sessionsCommand } from './sessions.js';
import { workerCommand } from './worker.js';

const { version } = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
  version: string;
};

const program = new Command('larder')
  .description('Inspect and operate a larder deployment.')
  .version(version, '-V, --version')
  .option(
    '-c, --config <module>',
    'module whose default export is a Larder or a Larder config (default: REDIS_URL)',
  )
  .option('--json', 'print JSON on stdout instead of text')
  .option('--progress', 'show progress bars on stderr even when it is not a terminal')
  .option('--no-progress', 'never show progress bars')
  // Usage errors exit 2, as every other "could not run as asked".
  .exitOverride()
  .showHelpAfterError('(add --help for usage)');

let longRunning = false;
infoCommand(program, run);
keysCommand(program, run);
clearCommand(program, run);
sessionsCommand(program, run);
workerCommand(program, () => {
  longRunning = true;
});
benchCommand(program);

// A reader that stops early (`larder keys | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

function fail(error: unknown): never {
  if (error instanceof CommanderError) {
    // Help and --version print and exit 0; commander already printed its message.
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  let code = 1;
  let message: string;
  if (error instanceof CliError) {
    code = error.exitCode;
    message = error.message;
  } else if (error instanceof LarderError) {
    code = 2;
    message = `${error.code}: ${error.message}`;
  } else {
    message = (error as Error)?.message ?? String(error);
    if (process.env.LARDER_DEBUG) message = String((error as Error)?.stack ?? message);
  }
  process.stderr.write(`larder: ${message}\n`);
  process.exit(code);
}

try {
  await program.parseAsync();
} catch (error) {
  fail(error);
}
// Every command but `worker` is done: leave now rather than wait on a lingering socket or timer.
if (!longRunning) process.exit(process.exitCode ?? 0);
