/**
 * The frame of every command that works on a Larder: load it from the global options, run
 * the command, close every connection, set the exit code the command returned.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { Larder } from '../larder.js';
import { type GlobalOptions, loadLarder } from './context.js';

/** Runs a command body with its Larder; the body returns the exit code (default 0). */
export type Runner = (
  cmd: Command,
  body: (larder: Larder, global: GlobalOptions) => Promise<number | undefined>,
) => Promise<void>;

/**
 * The standard runner.
 *
 * @example program.command('info').action((opts, cmd) => run(cmd, async (larder) => 0));
 */
export const run: Runner = async (cmd, body) => {
  const global = cmd.optsWithGlobals<GlobalOptions>();
  const larder = await loadLarder(global);
  try {
    process.exitCode = (await body(larder, global)) ?? 0;
  } finally {
    await larder.close();
  }
};

/** Commander parser for a whole number ≥ `min`. @example .option('--limit <n>', 'stop after n', positiveInt()) */
export function positiveInt(min = 1): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected a whole number of at least ${min}, got '${value}'.`);
    }
    return n;
  };
}
