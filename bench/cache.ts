/**
 * @module bench/cache — the Redis cache backend against the raw client and the peers, on one
 * redis-server, in one run (DESIGN §7: `get` hit >= 0.9x raw node-redis with its per-command
 * timeout off).
 *
 * Contenders, each doing what its users write:
 * - `raw`: node-redis v6, `commandOptions: { timeout: 0 }`, `JSON.stringify`/`JSON.parse` by hand;
 *   once more with node-redis's default per-command timeout (5 s), to show its cost;
 * - `larder`: `createLarder({ redis: url, caches: { default: { backend: 'redis' } } }).cache()`;
 * - `cache-manager`: cache-manager 7 on `@keyv/redis` (`createKeyv(url)`), Keyv's default JSON;
 * - `bentocache`: Bentocache with only its Redis driver as L2 (no memory tier, no bus), on ioredis.
 *
 * Scenarios: `get` hit, `set` (the same ~100-byte JSON object, 300 s timeout) and
 * `getMany(100)` hits, each with 100 operations in flight and sequentially. Contenders are
 * interleaved run by run (so drift hits all alike); each figure is the median of `runs`.
 * `redis-benchmark` on the same server gives the physical limit.
 *
 * Metrics overhead (issue 10: under 5 %): larder's `get` hit with metrics on (the default) and
 * with `metrics: false`, on Redis (100 in flight and sequential) and in-process (memory
 * backend, no I/O: where the timing weighs most). The two alternate in short windows, many
 * times, so a busy machine slows both alike; each window also records this process's CPU
 * time per call, which other processes on the machine do not inflate.
 *
 * Run alone: `node --import tsx bench/cache.ts`, or through `npm run bench -- cache`.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import KeyvRedis from '@keyv/redis';
import { BentoCache, bentostore } from 'bentocache';
import { redisDriver } from 'bentocache/drivers/redis';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { createLarder } from 'larder';
import { createClient } from 'redis';
import {
  type BenchOptions,
  type BenchRedis,
  type BenchResult,
  CATALOG_ROW,
  formatOps,
  formatRatio,
  formatTable,
  invocation,
  logRunHeader,
  machineInfo,
  measure,
  median,
  pairedRatio,
  type RedisBenchmarkFigure,
  redisBenchmark,
  startBenchRedis,
  type TableRow,
} from './support.js';

/** Defaults of `run`: 6 scenarios × 4 contenders × 7 runs of 0.7 s ≈ 2.5 minutes with warm-ups. */
const DEFAULTS = { runs: 7, durationMs: 700, warmupMs: 500 };

/** The value every contender stores: a small catalog row, 102 bytes as JSON. */
const VALUE = CATALOG_ROW;
const TIMEOUT_SECONDS = 300;
const KEY_COUNT = 1_000;
const BATCH = 100;
const IN_FLIGHT = [100, 1] as const;
const OPS = ['get', 'set', 'getMany'] as const;
type Op = (typeof OPS)[number];

const OP_LABEL: Record<Op, string> = {
  get: 'get (hit)',
  set: 'set (~100 B JSON)',
  getMany: `getMany(${BATCH}) (hits)`,
};

/** One library under test: the three operations as its users would call them. */
interface Contender {
  name: string;
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<unknown>;
  /** Resolves how many of `keys` were found (each library answers in its own shape). */
  getMany(keys: string[]): Promise<number>;
  close(): Promise<void>;
  /** Said in the table when a contender runs an operation differently. */
  notes?: Partial<Record<Op, string>>;
}

function rawNodeRedis(url: string, name: string, commandOptions?: { timeout: number }): Contender {
  const client = createClient({ url, RESP: 3, ...(commandOptions ? { commandOptions } : {}) });
  client.on('error', () => {});
  const ready = client.connect();
  const parse = (text: string | null) => (text === null ? undefined : JSON.parse(text));
  return {
    name,
    get: async (key) => parse((await (await ready).get(key)) as string | null),
    set: async (key, value) =>
      (await ready).set(key, JSON.stringify(value), {
        expiration: { type: 'PX', value: TIMEOUT_SECONDS * 1000 },
      }),
    getMany: async (keys) => {
      const texts = (await (await ready).mGet(keys)) as Array<string | null>;
      let found = 0;
      for (const text of texts) if (parse(text) !== undefined) found++;
      return found;
    },
    close: async () => {
      await (await ready).close();
    },
  };
}

function larder(url: string): Contender {
  const instance = createLarder({ redis: url, caches: { default: { backend: 'redis' } }, logger: false });
  const cache = instance.cache();
  return {
    name: 'larder',
    get: (key) => cache.get(key),
    set: (key, value) => cache.set(key, value, { timeout: TIMEOUT_SECONDS }),
    getMany: async (keys) => (await cache.getMany(keys)).size,
    close: () => instance.close(),
  };
}

function cacheManager(url: string): Contender {
  // The README's setup (a Keyv on @keyv/redis, no key prefix from Keyv: keys are `keyv::<key>`),
  // spelled out so that this file type-checks against keyv's own types.
  const keyv = new Keyv({ store: new KeyvRedis(url), useKeyPrefix: false });
  const cache = createCache({ stores: [keyv] });
  return {
    name: 'cache-manager',
    get: (key) => cache.get(key),
    set: (key, value) => cache.set(key, value, TIMEOUT_SECONDS * 1000),
    getMany: async (keys) => (await cache.mget(keys)).filter((v) => v !== undefined).length,
    close: async () => {
      await cache.disconnect();
    },
  };
}

function bentocache(port: number): Contender {
  const bento = new BentoCache({
    default: 'redis',
    stores: {
      redis: bentostore().useL2Layer(redisDriver({ connection: { host: '127.0.0.1', port } })),
    },
  });
  return {
    name: 'bentocache',
    get: (key) => bento.get({ key }),
    set: (key, value) => bento.set({ key, value, ttl: `${TIMEOUT_SECONDS}s` }),
    // Bentocache has no multi-get: its users await one get per key.
    getMany: async (keys) =>
      (await Promise.all(keys.map((key) => bento.get({ key })))).filter((v) => v !== undefined).length,
    close: () => bento.disconnectAll(),
    notes: { getMany: `bentocache has no multi-get; its figure is Promise.all of ${BATCH} gets.` },
  };
}

/** Keys of one contender: `bench:<name>:<i>`, each library adding its own prefix as it does. */
function keysOf(contender: Contender): { get: string[]; set: string[]; batches: string[][] } {
  const get = Array.from({ length: KEY_COUNT }, (_, i) => `bench:${contender.name}:${i}`);
  const set = Array.from({ length: KEY_COUNT }, (_, i) => `bench:${contender.name}:w:${i}`);
  const batches = Array.from({ length: KEY_COUNT / BATCH }, (_, b) => get.slice(b * BATCH, (b + 1) * BATCH));
  return { get, set, batches };
}

function operation(contender: Contender, op: Op): (i: number) => Promise<unknown> {
  const keys = keysOf(contender);
  switch (op) {
    case 'get':
      return (i) => contender.get(keys.get[i % KEY_COUNT]!);
    case 'set':
      return (i) => contender.set(keys.set[i % KEY_COUNT]!, VALUE);
    case 'getMany':
      return (i) => contender.getMany(keys.batches[i % keys.batches.length]!);
  }
}

/** Stores the keys every read scenario hits, then checks each contender reads back what it wrote. */
async function prepare(contender: Contender): Promise<void> {
  const keys = keysOf(contender);
  for (let i = 0; i < KEY_COUNT; i += BATCH)
    await Promise.all(keys.get.slice(i, i + BATCH).map((key) => contender.set(key, VALUE)));
  const value = await contender.get(keys.get[7]!);
  if (!isDeepStrictEqual(value, VALUE))
    throw new Error(`${contender.name}: get returned ${JSON.stringify(value)}, not the stored value`);
  const found = await contender.getMany(keys.batches[1]!);
  if (found !== BATCH) throw new Error(`${contender.name}: getMany found ${found} of ${BATCH} keys`);
}

/** One scenario's figures: contender → ops/s of every run and their median. */
interface ScenarioResult {
  op: Op;
  inFlight: number;
  contenders: Record<string, { runs: number[]; median: number }>;
  /** `a/b` → the median of the run-by-run ratios (`pairedRatio`). */
  ratios: Record<string, number>;
  notes: string[];
}

/** The ratios reported per scenario: larder against each, and what node-redis's timer costs. */
const RATIOS: Array<[string, string]> = [
  ['larder', 'raw'],
  ['larder', 'cache-manager'],
  ['larder', 'bentocache'],
  ['raw (default timeout)', 'raw'],
];

function scenarioName(op: Op, inFlight: number): string {
  return `${OP_LABEL[op]}, ${inFlight === 1 ? 'sequential' : `${inFlight} in flight`}`;
}

/**
 * Runs the cache benchmark on a redis-server of its own and prints the tables.
 *
 * @example const result = await run({ runs: 3 }); // result.scenarios, result.redisBenchmark
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
    logRunHeader(log, 'cache', command, redis, machine, { runs, durationMs, warmupMs });
    const physical = await physicalLimit(redis, Math.max(2, Math.min(runs, 3)), log);

    const raw = rawNodeRedis(redis.url, 'raw', { timeout: 0 });
    const rawDefault = rawNodeRedis(redis.url, 'raw (default timeout)');
    contenders.push(raw, larder(redis.url), cacheManager(redis.url), bentocache(redis.port), rawDefault);
    for (const contender of contenders) await prepare(contender);
    const compared = contenders.filter((c) => c !== rawDefault);

    const scenarios: ScenarioResult[] = [];
    for (const op of OPS) {
      for (const inFlight of IN_FLIGHT) {
        // The default-timeout client: one line (get, 100 in flight) to show what the timer costs.
        const here = op === 'get' && inFlight === IN_FLIGHT[0] ? [...compared, rawDefault] : compared;
        const result: ScenarioResult = { op, inFlight, contenders: {}, ratios: {}, notes: [] };
        const ops = here.map((c) => operation(c, op));
        const figures = here.map(() => [] as number[]);
        const label = scenarioName(op, inFlight);
        log(`  ${label} …`);
        for (let i = 0; i < here.length; i++)
          await measure(here[i]!.name, ops[i]!, { inFlight, durationMs: warmupMs });
        for (let r = 0; r < runs; r++) {
          // Rotate who goes first, so no contender always runs right after the same neighbour.
          for (let k = 0; k < here.length; k++) {
            const i = (k + r) % here.length;
            figures[i]!.push(await measure(`${here[i]!.name} ${label}`, ops[i]!, { inFlight, durationMs }));
          }
        }
        here.forEach((c, i) => {
          result.contenders[c.name] = { runs: figures[i]!, median: median(figures[i]!) };
          const note = c.notes?.[op];
          if (note) result.notes.push(note);
        });
        for (const [a, b] of RATIOS) {
          const x = result.contenders[a];
          const y = result.contenders[b];
          if (x && y) result.ratios[`${a}/${b}`] = pairedRatio(x.runs, y.runs);
        }
        scenarios.push(result);
      }
    }

    const overhead = await metricsOverhead(redis.url, { runs, durationMs, warmupMs }, log);
    report(scenarios, physical, overhead, log);
    return {
      name: 'cache',
      command,
      machine,
      settings: { runs, durationMs, warmupMs, keyCount: KEY_COUNT, batch: BATCH, valueBytes: valueBytes() },
      value: VALUE,
      redisBenchmark: physical,
      scenarios,
      metricsOverhead: overhead,
    };
  } finally {
    await Promise.allSettled(contenders.map((c) => c.close()));
    await redis.stop();
  }
}

/** One metrics-overhead scenario: the same `get` hits with metrics on and off, window by window. */
interface OverheadResult {
  scenario: string;
  inFlight: number;
  /** ops/s of each window, metrics on and off, in window order (paired). */
  opsOn: number[];
  opsOff: number[];
  /** This process's CPU time per call (µs) in each window. */
  cpuOn: number[];
  cpuOff: number[];
  /** Median of the window-by-window throughput ratios on/off. */
  ratio: number;
  /** Median CPU µs per call, on and off. */
  cpuPerCallOn: number;
  cpuPerCallOff: number;
}

/** A larder cache over `url` (Redis) or in memory, with metrics on or off. */
function metricsContender(url: string | undefined, metrics: boolean) {
  const instance = createLarder({
    redis: url ?? false,
    caches: { default: url ? { backend: 'redis' } : { backend: 'memory', maxEntries: 10 * KEY_COUNT } },
    logger: false,
    metrics,
  });
  const cache = instance.cache();
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => `bench:metrics-${metrics ? 'on' : 'off'}:${i}`);
  return {
    get: (i: number) => cache.get(keys[i % KEY_COUNT]!),
    async prepare() {
      for (let i = 0; i < KEY_COUNT; i += BATCH)
        await Promise.all(
          keys.slice(i, i + BATCH).map((key) => cache.set(key, VALUE, { timeout: TIMEOUT_SECONDS })),
        );
      if (!isDeepStrictEqual(await cache.get(keys[KEY_COUNT - 1]!), VALUE))
        throw new Error(`metrics ${metrics ? 'on' : 'off'}: get did not return the stored value`);
    },
    close: () => instance.close(),
  };
}

/** Larder `get` hits with metrics on and off, alternating in short windows (4 × `runs` pairs). */
async function metricsOverhead(
  url: string,
  settings: { runs: number; durationMs: number; warmupMs: number },
  log: (line: string) => void,
): Promise<OverheadResult[]> {
  const windows = settings.runs * 4;
  const windowMs = Math.max(100, Math.round(settings.durationMs / 3));
  const cases = [
    { scenario: `get (hit), Redis, ${IN_FLIGHT[0]} in flight`, url, inFlight: IN_FLIGHT[0] },
    { scenario: 'get (hit), Redis, sequential', url, inFlight: 1 },
    { scenario: 'get (hit), in-process (memory backend), sequential', url: undefined, inFlight: 1 },
  ];
  const out: OverheadResult[] = [];
  for (const c of cases) {
    log(`  metrics overhead: ${c.scenario}, ${windows} × 2 windows of ${windowMs} ms …`);
    const sides = [metricsContender(c.url, true), metricsContender(c.url, false)];
    try {
      for (const side of sides) {
        await side.prepare();
        await measure('warm-up', side.get, { inFlight: c.inFlight, durationMs: settings.warmupMs });
      }
      const ops: [number[], number[]] = [[], []];
      const cpu: [number[], number[]] = [[], []];
      for (let w = 0; w < windows; w++) {
        for (let k = 0; k < 2; k++) {
          const i = (k + w) % 2;
          const before = process.cpuUsage();
          const rate = await measure(`metrics ${i === 0 ? 'on' : 'off'}`, sides[i]!.get, {
            inFlight: c.inFlight,
            durationMs: windowMs,
          });
          const used = process.cpuUsage(before);
          ops[i]!.push(rate);
          cpu[i]!.push((used.user + used.system) / ((rate * windowMs) / 1000));
        }
      }
      out.push({
        scenario: c.scenario,
        inFlight: c.inFlight,
        opsOn: ops[0],
        opsOff: ops[1],
        cpuOn: cpu[0],
        cpuOff: cpu[1],
        ratio: pairedRatio(ops[0], ops[1]),
        cpuPerCallOn: median(cpu[0]),
        cpuPerCallOff: median(cpu[1]),
      });
    } finally {
      await Promise.all(sides.map((side) => side.close()));
    }
  }
  return out;
}

function valueBytes(): number {
  return Buffer.byteLength(JSON.stringify(VALUE));
}

async function physicalLimit(
  redis: BenchRedis,
  runs: number,
  log: (line: string) => void,
): Promise<{ unpipelined: RedisBenchmarkFigure; pipelined16: RedisBenchmarkFigure }> {
  const base = ['-t', 'get', '-n', '200000', '-c', '50'];
  const unpipelined = await redisBenchmark(redis.port, base, runs);
  const pipelined16 = await redisBenchmark(redis.port, [...base, '-P', '16'], runs);
  log(
    `  physical limit: ${unpipelined.command} → ${formatOps(unpipelined.median)} GET/s (median of ${runs})`,
  );
  log(
    `  physical limit: ${pipelined16.command} → ${formatOps(pipelined16.median)} GET/s (median of ${runs})`,
  );
  return { unpipelined, pipelined16 };
}

function report(
  scenarios: ScenarioResult[],
  physical: { unpipelined: RedisBenchmarkFigure; pipelined16: RedisBenchmarkFigure },
  overhead: OverheadResult[],
  log: (line: string) => void,
): void {
  const rows: TableRow[] = scenarios.map((s) => ({
    scenario: scenarioName(s.op, s.inFlight),
    values: Object.fromEntries(Object.entries(s.contenders).map(([name, f]) => [name, f.median])),
    runs: Object.fromEntries(Object.entries(s.contenders).map(([name, f]) => [name, f.runs])),
    note: s.notes.join(' ') || undefined,
  }));
  log('');
  log(
    `Median ops/s (one op = one call; getMany = one call for ${BATCH} keys); ` +
      'ratios = median of the run-by-run ratios:',
  );
  log(
    formatTable(rows, {
      columns: ['raw', 'larder', 'cache-manager', 'bentocache'],
      subject: 'larder',
      baselines: ['raw', 'cache-manager', 'bentocache'],
    }),
  );
  const getScenario = scenarios.find((s) => s.op === 'get' && s.inFlight === IN_FLIGHT[0])!;
  const get = getScenario.contenders;
  log('');
  log(
    `raw node-redis with its default per-command timeout, get (hit), ${IN_FLIGHT[0]} in flight: ` +
      `${formatOps(get['raw (default timeout)']?.median)} ops/s = ` +
      `${formatRatio(getScenario.ratios['raw (default timeout)/raw'], 1)} the timeout-off client`,
  );
  log(
    `redis-benchmark GET: ${formatOps(physical.unpipelined.median)}/s unpipelined (-c 50), ` +
      `${formatOps(physical.pipelined16.median)}/s with -P 16; ` +
      `larder get at ${IN_FLIGHT[0]} in flight = ${formatRatio(get.larder?.median, physical.unpipelined.median)} ` +
      'the unpipelined figure',
  );
  // Issue 10: metrics stay on by default only if they cost under 5 % of a cache get.
  log('');
  log('Metrics overhead (larder get hits, metrics on vs metrics: false, alternating windows):');
  for (const o of overhead) {
    const extraCpu = (o.cpuPerCallOn / o.cpuPerCallOff - 1) * 100;
    log(
      `  ${o.scenario}: ${formatOps(median(o.opsOn))} vs ${formatOps(median(o.opsOff))} ops/s = ` +
        `${formatRatio(o.ratio, 1)} (${slower(o.ratio)}); CPU per call ${o.cpuPerCallOn.toFixed(2)} µs vs ` +
        `${o.cpuPerCallOff.toFixed(2)} µs (${extraCpu >= 0 ? '+' : ''}${extraCpu.toFixed(1)} %)`,
    );
  }
}

/** `0.97` → `3.0 % slower`; a ratio at or above 1 is within noise of no cost. */
function slower(ratio: number | undefined): string {
  if (ratio === undefined) return 'n/a';
  return ratio >= 1 ? 'no measurable cost' : `${((1 - ratio) * 100).toFixed(1)} % slower`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  run().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
