/**
 * @module bench/leaderboard — leaderboard operations per second on a 1M-member board, larder
 * against raw node-redis doing the same command(s), in one run (DESIGN §7: `top(10)` on 1M
 * members is one round trip).
 *
 * One redis-server of its own holds one board of 1,000,000 members (loaded by a Lua loop;
 * member `m<i>` scores `i % 100000`, so ten members share each score). Contenders:
 * - `raw`: node-redis v6, RESP3, its per-command timeout off, sending the commands a user
 *   writes by hand: ZINCRBY; ZREVRANK; ZRANGE 0 9 REV WITHSCORES; and for `around`,
 *   ZREVRANK then ZRANGE around it (two round trips: a hand-written client has no script);
 * - `larder`: `larder.leaderboard(name)` (ordinal ranks, all-time) — `incr`, `rank`,
 *   `top(10)`, `around(member, 5)` (one EVALSHA) — and `rank` and `top(10)` once more with
 *   `ranking: 'competition'` (one EVALSHA each), against the same raw figures.
 *
 * Each op picks members spread over the whole board; 100 operations in flight, then one at a
 * time (sequential: latency, where round trips decide). Figures are
 * medians of `runs` timed runs after a warm-up; contenders alternate run by run (the first
 * rotates), and ratios are medians of run-by-run ratios.
 *
 * Run alone: `node --import tsx bench/leaderboard.ts`, or `npm run bench -- leaderboard`.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLarder } from 'larder';
import { createClient } from 'redis';
import { DISTINCT_SCORES, loadBoard, MILLION } from '../test/support/leaderboard-load.js';
import {
  type BenchOptions,
  type BenchResult,
  formatTable,
  invocation,
  machineInfo,
  measure,
  median,
  pairedRatio,
  startBenchRedis,
  type TableRow,
} from './support.js';

/** 12 scenarios × 2 contenders × (0.3 s + 5 × 0.7 s) ≈ 1.5 minutes, plus ~7 s to load. */
const DEFAULTS = { runs: 5, durationMs: 700, warmupMs: 300 };
const N = MILLION;
const DISTINCT = DISTINCT_SCORES;
/** 100 in flight: a busy process (Redis' CPU decides); 1: latency (round trips decide). */
const IN_FLIGHT = [100, 1];
const NAME = 'bench';
const KEY = `lb:{${NAME}}:all`;

type Op = (i: number) => Promise<unknown>;

/** A cheap, repeatable member picker (no Math.random in the timed loop). */
const member = (i: number) => `m${(i * 7919 + 13) % N}`;

export async function run(options: BenchOptions = {}): Promise<BenchResult> {
  const runs = options.runs ?? DEFAULTS.runs;
  const durationMs = options.durationMs ?? DEFAULTS.durationMs;
  const warmupMs = options.warmupMs ?? DEFAULTS.warmupMs;
  const log = options.log ?? console.log;
  const command = invocation();
  const redis = await startBenchRedis();
  const raw = createClient({ url: redis.url, RESP: 3, commandOptions: { timeout: 0 } });
  const larder = createLarder({ redis: redis.url, logger: false }, {});
  try {
    await raw.connect();
    const started = performance.now();
    const loaded = await loadBoard((args) => raw.sendCommand(args), KEY);
    log(`leaderboard: loaded ${loaded} members in ${Math.round(performance.now() - started)} ms`);
    const machine = machineInfo(redis.version);
    log(`command: ${command}`);
    log(
      `machine: ${machine.cpus} cpus, load average ${machine.loadAverage}, Node ${machine.node}, Redis ${redis.version}`,
    );

    const ordinal = larder.leaderboard(NAME);
    const competition = larder.leaderboard(NAME, { ranking: 'competition' });
    const send = (args: string[]) => raw.sendCommand(args);
    const rawOps: Record<string, Op> = {
      incr: (i) => send(['ZINCRBY', KEY, '1', member(i)]),
      rank: (i) => send(['ZREVRANK', KEY, member(i)]),
      'top(10)': () => send(['ZRANGE', KEY, '0', '9', 'REV', 'WITHSCORES']),
      'around(5)': async (i) => {
        const pos = (await send(['ZREVRANK', KEY, member(i)])) as unknown as number;
        return send(['ZRANGE', KEY, String(Math.max(0, pos - 5)), String(pos + 5), 'REV', 'WITHSCORES']);
      },
    };
    const scenarios: Array<{ name: string; raw: Op; larder: Op; note?: string }> = [
      { name: 'incr', raw: rawOps.incr!, larder: (i) => ordinal.incr(member(i)) },
      { name: 'rank', raw: rawOps.rank!, larder: (i) => ordinal.rank(member(i)) },
      { name: 'top(10)', raw: rawOps['top(10)']!, larder: () => ordinal.top(10) },
      {
        name: 'around(member, 5)',
        raw: rawOps['around(5)']!,
        larder: (i) => ordinal.around(member(i), 5),
        note: 'raw: ZREVRANK then ZRANGE, two round trips; larder: one EVALSHA',
      },
      {
        name: 'rank, competition',
        raw: rawOps.rank!,
        larder: (i) => competition.rank(member(i)),
        note: 'larder: one EVALSHA (ZSCORE + ZCOUNT); raw: the ordinal ZREVRANK, for scale',
      },
      {
        name: 'top(10), competition',
        raw: rawOps['top(10)']!,
        larder: () => competition.top(10),
        note: 'larder: one EVALSHA (ZRANGE + ZCOUNT); raw: the plain ZRANGE, for scale',
      },
    ];

    const rows: TableRow[] = [];
    const results: Record<string, unknown> = {};
    for (const inFlight of IN_FLIGHT) {
      for (const scenario of scenarios) {
        const label = `${scenario.name}, ${inFlight === 1 ? 'sequential' : `${inFlight} in flight`}`;
        const ops = [scenario.raw, scenario.larder];
        const names = ['raw', 'larder'];
        const figures: number[][] = [[], []];
        log(`  ${label} …`);
        for (let k = 0; k < 2; k++) await measure(names[k]!, ops[k]!, { inFlight, durationMs: warmupMs });
        for (let r = 0; r < runs; r++) {
          for (let j = 0; j < 2; j++) {
            const k = (j + r) % 2;
            figures[k]!.push(await measure(`${names[k]} ${label}`, ops[k]!, { inFlight, durationMs }));
          }
        }
        rows.push({
          scenario: label,
          values: { raw: median(figures[0]!), larder: median(figures[1]!) },
          runs: { raw: figures[0]!, larder: figures[1]! },
          note: scenario.note,
        });
        results[label] = {
          raw: { runs: figures[0], median: median(figures[0]!) },
          larder: { runs: figures[1], median: median(figures[1]!) },
          ratio: pairedRatio(figures[1]!, figures[0]!),
        };
      }
    }
    log('');
    log(formatTable(rows, { columns: ['raw', 'larder'], subject: 'larder', baselines: ['raw'] }));
    return {
      name: 'leaderboard',
      command,
      machine,
      settings: { runs, durationMs, warmupMs, members: N, distinctScores: DISTINCT, inFlight: IN_FLIGHT },
      scenarios: results,
    };
  } finally {
    await Promise.allSettled([raw.quit(), larder.close()]);
    await redis.stop();
  }
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  run().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
