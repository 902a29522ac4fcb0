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
import { CommanderError } from 'commander';
import { LarderError } from '../errors.js';
import { CliError } from './context.js';
import { createProgram } from './program.js';
import { run } from './run.js';

let longRunning = false;
const program = createProgram(run, () => {
  longRunning = true;
});

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
