/**
 * The `larder` command line as a commander program, without running it: index.ts parses
 * `process.argv` with the real runner; tests parse arguments in-process.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { benchCommand, PACKAGE_ROOT } from './bench.js';
import { clearCommand } from './clear.js';
import { infoCommand } from './info.js';
import { keysCommand } from './keys.js';
import type { Runner } from './run.js';
import { sessionsCommand } from './sessions.js';
import { workerCommand } from './worker.js';

const { version } = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
  version: string;
};

/**
 * Every command, wired to `run` (what a command does with its Larder); `onWorkerStart` is
 * told when `worker` starts, which keeps the process alive. Usage errors throw a
 * `CommanderError` (`exitOverride`) instead of exiting.
 *
 * @example await createProgram(run, () => {}).parseAsync(['keys', 'user:*', '--limit', '10'], { from: 'user' });
 */
export function createProgram(run: Runner, onWorkerStart: () => void): Command {
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
  infoCommand(program, run);
  keysCommand(program, run);
  clearCommand(program, run);
  sessionsCommand(program, run);
  workerCommand(program, onWorkerStart);
  benchCommand(program);
  return program;
}
