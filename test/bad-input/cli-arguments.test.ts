/**
 * Bad input to the `larder` command's argument layer, in-process (issue 12): thousands of
 * arbitrary argument lists — commands, subcommands, flags with and without their values,
 * numbers that are not whole, hostile strings — parsed by the real commander program
 * (`createProgram`) with a runner that records the command instead of opening a Larder. Each
 * parse ends in a command with well-typed options, or a typed refusal: commander's usage error
 * (exit 2 in index.ts) or a LarderError. Never another exception. `worker` and `bench` start
 * processes and are left out here; cli.test.ts spawns the real binary with arbitrary arguments.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Command, CommanderError } from 'commander';
import fc from 'fast-check';
import { createProgram } from '../../src/cli/program.js';
import type { Runner } from '../../src/cli/run.js';
import { LarderError } from '../../src/errors.js';
import { hostileString } from './support.js';

const RUNS = 3_000;

const COMMANDS = ['info', 'keys', 'clear', 'sessions', 'count', 'list', 'revoke', 'help', 'nope', ''];
const FLAGS = [
  '--json',
  '--config',
  '-c',
  '--progress',
  '--no-progress',
  '--limit',
  '--count',
  '--cache',
  '--yes',
  '-y',
  '--user',
  '--session',
  '--except',
  '--metrics-url',
  '-V',
  '--version',
  '--help',
  '-h',
  '--',
  '--xyz',
  '-',
  '--limit=3',
  '--count=-1',
  '--json=false',
];
const VALUES = [
  '0',
  '1',
  '-1',
  '1.5',
  '1e9',
  'NaN',
  'Infinity',
  '9007199254740993',
  '',
  ' ',
  'user:*',
  'default',
];
const SPAWNS = new Set(['worker', 'bench']);

const token = fc
  .oneof(
    { weight: 4, arbitrary: fc.constantFrom(...COMMANDS) },
    { weight: 4, arbitrary: fc.constantFrom(...FLAGS) },
    { weight: 3, arbitrary: fc.constantFrom(...VALUES) },
    { weight: 2, arbitrary: hostileString(200) },
  )
  .filter((t) => !SPAWNS.has(t.trim()));

/** Half the lists start with a real command (so options reach it), half are anything. */
const argvArb = fc.oneof(
  fc.array(token, { maxLength: 8 }),
  fc
    .tuple(
      fc.constantFrom(
        ['info'],
        ['keys'],
        ['clear'],
        ['sessions', 'count'],
        ['sessions', 'list'],
        ['sessions', 'revoke'],
      ),
      fc.array(token, { maxLength: 6 }),
    )
    .map(([command, rest]) => [...command, ...rest]),
);

/** What one parse ended in. */
type Ended = { ran: string; opts: Record<string, unknown> } | { refused: Error } | { help: true };

async function parse(argv: string[]): Promise<Ended> {
  let ran: { ran: string; opts: Record<string, unknown> } | undefined;
  // Records the command and its options; opens no Larder (the Redis side is tested in test/cli/).
  const runner: Runner = async (cmd: Command) => {
    ran = { ran: cmd.name(), opts: cmd.optsWithGlobals() };
  };
  const program = createProgram(runner, () => {
    throw new Error('worker started');
  });
  const silence = (cmd: Command) => {
    cmd.configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
    for (const sub of cmd.commands) silence(sub);
  };
  silence(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) return { help: true };
    return { refused: error as Error };
  }
  return ran ?? { help: true };
}

const wholeAtLeast = (value: unknown, min: number) =>
  value === undefined || (typeof value === 'number' && Number.isSafeInteger(value) && value >= min);

describe('larder CLI arguments (in-process, fast-check)', () => {
  it('every argument list runs a command with well-typed options or is refused with a typed error', async () => {
    const seen = { ran: 0, refused: 0, help: 0 };
    await fc.assert(
      fc.asyncProperty(argvArb, async (argv) => {
        const ended = await parse(argv);
        if ('help' in ended) {
          seen.help++;
          return;
        }
        if ('refused' in ended) {
          seen.refused++;
          const error = ended.refused;
          assert.ok(
            error instanceof CommanderError || error instanceof LarderError,
            `untyped refusal of ${JSON.stringify(argv)}: ${String(error?.stack ?? error)}`,
          );
          assert.ok(error.message.length > 0, 'the refusal says why');
          return;
        }
        seen.ran++;
        const { opts } = ended;
        assert.ok(wholeAtLeast(opts.limit, 1), `--limit reached the command as ${String(opts.limit)}`);
        assert.ok(wholeAtLeast(opts.count, 1), `--count reached the command as ${String(opts.count)}`);
        for (const name of ['config', 'cache', 'user', 'session', 'except', 'metricsUrl'])
          assert.ok(opts[name] === undefined || typeof opts[name] === 'string', `--${name} is a string`);
      }),
      { numRuns: RUNS },
    );
    // The generator reaches every outcome, so each branch above was exercised.
    assert.ok(seen.ran > 50, `only ${seen.ran} argument lists ran a command`);
    assert.ok(seen.refused > 50, `only ${seen.refused} were refused`);
    assert.ok(seen.help > 0, 'help or version was shown');
  });
});
