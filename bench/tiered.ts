/**
 * @module bench/tiered — the tiered cache's in-process hit against a Redis-backend hit and
 * Bentocache's memory-tier hit, on one redis-server, in one run (targets: tiered hit >= 15x
 * the Redis backend's, >= 1x Bentocache's L1).
 *
 * Contenders, each doing what its users write:
 * - `tiered`: `createLarder({ caches: { default: { backend: 'tiered', location } } }).cache().get(key)`,
 *   every key already held in the in-process tier (decoded once, frozen, kept coherent by
 *   Redis client tracking);
 * - `redis`: the same call on `backend: 'redis'` (one round trip and a JSON parse per hit);
 * - `bentocache`: Bentocache with a memory L1 (`serialize: true`, its default) over its Redis
 *   L2, every key already in L1.
 *
 * Scenario: `get` hit of a ~100-byte JSON object, 100 in flight and sequentially. Contenders
 * are interleaved run by run; each figure is the median of `runs`.
 *
 * Run alone: `node --import tsx bench/tiered.ts`, or through `npm run bench -- tiered`.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { createLarder } from 'larder';
import type { LocalTier } from '../dist/cache/local-tier.js';
import {
  type BenchOptions,
  type BenchResult,
  CATALOG_ROW,
  formatTable,
  invocation,
  logRunHeader,
  machineInfo,
  measure,
  median,
  pairedRatio,
  startBenchRedis,
  type TableRow,
} from './support.js';

/** Defaults of `run`: 2 scenarios × 3 contenders × 7 runs of 0.7 s ≈ 40 s with warm-ups. */
const DEFAULTS = { runs: 7, durationMs: 700, warmupMs: 500 };

/** The value every contender stores: a small catalog row, 102 bytes as JSON. */
const VALUE = CATALOG_ROW;
const TIMEOUT_SECONDS = 300;
const KEY_COUNT = 1_000;
const IN_FLIGHT = [100, 1] as const;
const TARGETS = { 'tiered/redis': 15, 'tiered/bentocache': 1 } as const;

interface Contender {
  name: string;
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<unknown>;
  /** After the keys are stored: whatever makes every later get a hit of the tier measured. */
  warm?(keys: string[]): Promise<void>;
  close(): Promise<void>;
}

function larderOn(url: string, backend: 'tiered' | 'redis'): Contender {
  const instance = createLarder({
    redis: url,
    caches: { default: { backend, ...(backend === 'tiered' ? { l1: { maxEntries: 10_000 } } : {}) } },
    logger: false,
  });
  const cache = instance.cache();
  return {
    name: backend,
    get: (key) => cache.get(key),
    set: (key, value) => cache.set(key, value, { timeout: TIMEOUT_SECONDS }),
    warm:
      backend === 'tiered'
        ? async (keys) => {
            const tier = cache.backend.local as LocalTier;
            const started = Date.now();
            while (!tier.isTracking) {
              if (Date.now() - started > 10_000) throw new Error('tiered: tracking did not come up');
              await cache.get(keys[0]!);
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
            for (const key of keys) await cache.get(key);
            const entry = await cache.getEntry(keys[7]!);
            if (entry.status !== 'hit-local')
              throw new Error(`tiered: a warmed key reads as '${entry.status}', not 'hit-local'`);
          }
        : undefined,
    close: () => instance.close(),
  };
}

function bentocache(port: number): Contender {
  const bento = new BentoCache({
    default: 'tiered',
    stores: {
      tiered: bentostore()
        .useL1Layer(memoryDriver({ maxItems: 10_000, serialize: true }))
        .useL2Layer(redisDriver({ connection: { host: '127.0.0.1', port } })),
    },
  });
  return {
    name: 'bentocache',
    get: (key) => bento.get({ key }),
    set: (key, value) => bento.set({ key, value, ttl: `${TIMEOUT_SECONDS}s` }),
    warm: async (keys) => {
      for (const key of keys) await bento.get({ key });
    },
    close: () => bento.disconnectAll(),
  };
}

const keysOf = (c: Contender) => Array.from({ length: KEY_COUNT }, (_, i) => `bench:${c.name}:${i}`);

async function prepare(contender: Contender): Promise<void> {
  const keys = keysOf(contender);
  await Promise.all(keys.map((key) => contender.set(key, VALUE)));
  await contender.warm?.(keys);
  const value = await contender.get(keys[7]!);
  if (!isDeepStrictEqual(value, VALUE))
    throw new Error(`${contender.name}: get returned ${JSON.stringify(value)}, not the stored value`);
}

interface ScenarioResult {
  inFlight: number;
  contenders: Record<string, { runs: number[]; median: number }>;
  ratios: Record<string, number>;
}

const label = (inFlight: number) => `get (hit), ${inFlight === 1 ? 'sequential' : `${inFlight} in flight`}`;

/**
 * Runs the tiered benchmark on a redis-server of its own and prints the table.
 *
 * @example const result = await run({ runs: 3 }); // result.scenarios[0].ratios['tiered/redis']
 */
export async function run(options: BenchOptions = {}): Promise<BenchResult> {
  const runs = options.runs ?? DEFAULTS.runs;
  const durationMs = options.durationMs ?? DEFAULTS.durationMs;
  const warmupMs = options.warmupMs ?? DEFAULTS.warmupMs;
  const log = options.log ?? ((line: string) => console.log(line));
  const command = invocation();
  const redis = await startBenchRedis();
  const machine = machineInfo(redis.version);
  const contenders: Contender[] = [];
  try {
    logRunHeader(log, 'tiered', command, redis, machine, { runs, durationMs, warmupMs });
    contenders.push(larderOn(redis.url, 'tiered'), larderOn(redis.url, 'redis'), bentocache(redis.port));
    for (const contender of contenders) await prepare(contender);

    const scenarios: ScenarioResult[] = [];
    for (const inFlight of IN_FLIGHT) {
      log(`  ${label(inFlight)} …`);
      const ops = contenders.map((c) => {
        const keys = keysOf(c);
        return (i: number) => c.get(keys[i % KEY_COUNT]!);
      });
      const figures = contenders.map(() => [] as number[]);
      for (let i = 0; i < contenders.length; i++)
        await measure(contenders[i]!.name, ops[i]!, { inFlight, durationMs: warmupMs });
      for (let r = 0; r < runs; r++) {
        for (let k = 0; k < contenders.length; k++) {
          const i = (k + r) % contenders.length;
          figures[i]!.push(await measure(contenders[i]!.name, ops[i]!, { inFlight, durationMs }));
        }
      }
      const result: ScenarioResult = { inFlight, contenders: {}, ratios: {} };
      contenders.forEach((c, i) => {
        result.contenders[c.name] = { runs: figures[i]!, median: median(figures[i]!) };
      });
      for (const pair of Object.keys(TARGETS)) {
        const [a, b] = pair.split('/') as [string, string];
        result.ratios[pair] = pairedRatio(result.contenders[a]!.runs, result.contenders[b]!.runs);
      }
      scenarios.push(result);
    }

    const rows: TableRow[] = scenarios.map((s) => ({
      scenario: label(s.inFlight),
      values: Object.fromEntries(Object.entries(s.contenders).map(([n, f]) => [n, f.median])),
      runs: Object.fromEntries(Object.entries(s.contenders).map(([n, f]) => [n, f.runs])),
    }));
    log('');
    log('Median ops/s; ratios = median of the run-by-run ratios:');
    log(
      formatTable(rows, {
        columns: ['tiered', 'redis', 'bentocache'],
        subject: 'tiered',
        baselines: ['redis', 'bentocache'],
      }),
    );
    log('');
    for (const s of scenarios) {
      for (const [pair, target] of Object.entries(TARGETS)) {
        const ratio = s.ratios[pair]!;
        log(
          `${label(s.inFlight)}: ${pair} = ${ratio.toFixed(2)}x (target >= ${target}x: ${ratio >= target ? 'met' : 'NOT met'})`,
        );
      }
    }
    return {
      name: 'tiered',
      command,
      machine,
      settings: { runs, durationMs, warmupMs, keyCount: KEY_COUNT },
      targets: TARGETS,
      value: VALUE,
      scenarios,
    };
  } finally {
    await Promise.allSettled(contenders.map((c) => c.close()));
    await redis.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  run().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
