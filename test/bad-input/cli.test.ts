/**
 * Bad input to the `larder` command (issue 12): arbitrary arguments — unknown commands and
 * flags, flags without their values, hostile strings, `--config` modules that are missing,
 * throw, export nonsense or an invalid config — and environments (no Redis, a malformed
 * `REDIS_URL`), spawning the built `node dist/cli/index.js`. Every run exits 0, 1 or 2 with
 * a message when it fails, and never prints a stack trace. It runs against a Redis server of
 * its own (`clear --yes` may run), and a key outside every cache survives it all.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { type CliRun, larder } from '../cli/support.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';
import { hostileString } from './support.js';

/**
 * Runs of the property; each spawns PARALLEL processes at once: 80 invocations, about 0.5 s
 * of CPU each on this shared machine (node start-up and the CLI's imports dominate).
 */
const RUNS = 20;
const PARALLEL = 4;

/** A stack trace line (`    at fn (file:1:2)`), or Node's report of an uncaught error. */
const STACK = /^\s+at .+:\d+:\d+\)?$|node:internal|Uncaught|triggerUncaughtException/m;

function assertClean(ran: CliRun): void {
  const shown = `larder ${JSON.stringify(ran.args)} → ${ran.code ?? ran.signal}\nstderr: ${ran.stderr.slice(0, 1500)}`;
  assert.equal(ran.signal, null, `killed: ${shown}`);
  assert.ok(ran.code === 0 || ran.code === 1 || ran.code === 2, `exit code: ${shown}`);
  assert.doesNotMatch(ran.stderr, STACK, `a stack trace: ${shown}`);
  assert.doesNotMatch(ran.stdout, STACK, `a stack trace on stdout: ${shown}`);
  if (ran.code !== 0) assert.match(ran.stderr, /\S/, `a failure says why: ${shown}`);
}

describe('bad input: larder CLI arguments', () => {
  let redis: RedisServerHandle;
  let dir: string;
  const configs: Record<string, string> = {};

  before(async () => {
    redis = await startStandalone();
    // A key no cache owns: nothing the CLI is asked may delete it.
    await redis.command('SET', 'outside:known', 'kept');
    dir = mkdtempSync(path.join(os.tmpdir(), 'larder-bad-cli-'));
    const write = (name: string, text: string) => {
      writeFileSync(path.join(dir, name), text);
      configs[name] = path.join(dir, name);
    };
    write('good.mjs', `export default { redis: ${JSON.stringify(redis.url)}, logger: false };`);
    write('bad-config.mjs', 'export default { caches: 5, redis: 7 };');
    write('number.mjs', 'export default 5;');
    write('nothing.mjs', 'export const other = 1;');
    write('throws.mjs', "throw new Error('boom at import');");
    write('syntax.mjs', 'export default {');
    write('config.ts', 'export default { logger: false } as const;');
    write('data.json', '{"redis": 5}');
    mkdirSync(path.join(dir, 'a-dir.mjs'));
    configs['a-dir.mjs'] = path.join(dir, 'a-dir.mjs');
    configs.missing = path.join(dir, 'missing.mjs');
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await redis.stop();
  });

  it('any arguments and environment: exit 0, 1 or 2, a message on failure, never a stack trace', async () => {
    const command = fc.constantFrom(
      [],
      ['info'],
      ['keys'],
      ['keys', '*'],
      ['clear'],
      ['clear', '--yes'],
      ['sessions'],
      ['sessions', 'count'],
      ['sessions', 'list'],
      ['sessions', 'revoke'],
      ['worker'],
      ['bench', '--list'],
      ['help'],
      ['--help'],
      ['-V'],
      ['nope'],
    );
    const flag = fc.oneof(
      fc.constantFrom(
        '--json',
        '--progress',
        '--no-progress',
        '--limit',
        '--count',
        '--cache',
        '--user',
        '--yes',
      ),
      fc.constantFrom(
        '-c',
        '--config',
        '--concurrency',
        '--queues',
        '--',
        '-',
        '--=',
        '---x',
        '-zz',
        '--json=yes',
      ),
      fc.constantFrom('-1', '0', '1e9', 'NaN', '99999999999999999999', '*', '{a}', 'default', 'sessions'),
      fc.constant(null).map(() => '--config'),
      // Spawned arguments are C strings: no NUL.
      hostileString(60).map((s) => s.replaceAll('\u0000', '')),
    );
    const configArg = fc.constantFrom(...Object.keys(configs)).map((name) => ['--config', configs[name]!]);
    const argv = fc
      .tuple(
        command,
        fc.array(
          fc.oneof({ weight: 4, arbitrary: flag.map((f) => [f]) }, { weight: 2, arbitrary: configArg }),
          { maxLength: 4 },
        ),
      )
      .map(([cmd, rest]) => [...cmd, ...rest.flat()]);
    const environment = fc.oneof(
      { weight: 4, arbitrary: fc.constant({ REDIS_URL: redis.url }) },
      { weight: 2, arbitrary: fc.constant({}) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          { REDIS_URL: 'notaurl' },
          { LARDER_REDIS_URL: 'redis://:99999' },
          { REDIS_URL: 'redis+cluster://' },
        ),
      },
    );
    const codes = new Map<number | null, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(argv, environment), { minLength: PARALLEL, maxLength: PARALLEL }),
        async (batch) => {
          const runs = await Promise.all(
            batch.map(([args, env]) => larder(args, env as Record<string, string>, dir)),
          );
          for (const ran of runs) {
            codes.set(ran.code, (codes.get(ran.code) ?? 0) + 1);
            assertClean(ran);
          }
        },
      ),
      // No shrinking: each step spawns processes, and the first counterexample already names the arguments.
      { numRuns: RUNS, endOnFailure: true },
    );
    for (const code of [0, 2])
      assert.ok((codes.get(code) ?? 0) > 5, `few exits with ${code}: ${JSON.stringify([...codes])}`);
  });

  it('healthy afterwards: info answers, and the key outside every cache is still there', async () => {
    const ran = await larder(['info', '--json'], { REDIS_URL: redis.url }, dir);
    assertClean(ran);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(JSON.parse(ran.stdout).status, 'ok');
    assert.equal(await redis.command('GET', 'outside:known'), 'kept');
  });
});
