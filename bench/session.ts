/**
 * @module bench/session — sessions over HTTP on Express 5: larder's `web.session()` (redis
 * engine) against express-session + connect-redis 9, with Express's hello world as the
 * ceiling and bare node-redis (GET, GET + SET) as the round-trip floor, in one run, on one
 * redis-server of its own. Load from autocannon over loopback (50 connections, pipelining 1,
 * the same for every contender); each contender is the same Express app shape in a child
 * process of its own (`bench/session-server.ts`), so the load generator does not share its
 * event loop and no contender's JIT state, heap or prototype hooks touch another's — all
 * still share this machine's cores with redis-server.
 *
 * Two scenarios, each request carrying a session cookie established beforehand (one session
 * per contender and scenario): read-only (reads `views`) and read+write (`views + 1`; larder
 * also with `incr`). express-session also runs on larder's `ExpressSessionStore`, to show what
 * the drop-in alone changes. Around every timed run, `INFO commandstats` counts what reached Redis:
 * the commands sent (round trips per request) and the writes among them — DESIGN §7's budget
 * is one round trip and zero writes for a read-only request, two round trips at most and
 * >= 1.5x express-session + connect-redis for read+write.
 *
 * Run alone: `node --import tsx bench/session.ts`, or through `npm run bench -- session`.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import {
  type BenchOptions,
  type BenchRedis,
  type BenchResult,
  formatOps,
  formatRatio,
  formatTable,
  invocation,
  machineInfo,
  median,
  pairedRatio,
  startBenchRedis,
  startBenchServer,
  type TableRow,
} from './support.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CONNECTIONS = 50;
/** Pause after each timed run before counting Redis commands (requests still in flight finish). */
const SETTLE_MS = 250;
/**
 * Defaults of `run`: 11 routes × (1 s warm-up + 8 × 1.5 s) ≈ 3 minutes. Many short runs, not a
 * few long ones: this machine's speed moves by ±25 % from one second to the next (the same
 * server, under the same load, has used 142 µs and 259 µs of CPU per request in consecutive
 * 1.5 s slices), and a median over eight paired rounds moves less than one over three.
 */
const DEFAULTS = { runs: 8, durationMs: 1500, warmupMs: 1000 };

const SCENARIOS = ['read-only', 'read+write'] as const;
type Scenario = (typeof SCENARIOS)[number];

/** Contender → the server process it runs in (`BENCH_CONTENDER`); `larder incr` shares larder's. */
const PROCESS: Record<string, string> = {
  hello: 'hello',
  'raw node-redis': 'raw',
  'express-session': 'es',
  ExpressSessionStore: 'xs',
  larder: 'larder',
  'larder incr': 'larder',
};

/** Contender → its route in each scenario. */
const ROUTES: Record<Scenario, Record<string, string>> = {
  'read-only': {
    hello: '/hello',
    'raw node-redis': '/raw/read',
    'express-session': '/es/read',
    ExpressSessionStore: '/xs/read',
    larder: '/larder/read',
  },
  'read+write': {
    hello: '/hello',
    'raw node-redis': '/raw/write',
    'express-session': '/es/write',
    ExpressSessionStore: '/xs/write',
    larder: '/larder/write',
    'larder incr': '/larder/incr',
  },
};

const SCENARIO_LABEL: Record<Scenario, string> = {
  'read-only': 'read-only (reads views)',
  'read+write': 'read+write (views + 1)',
};

/**
 * Commands a contender sends itself (what crosses the wire). Calls a Lua script makes
 * (HSET, PEXPIRE, EXISTS … inside larder's EVALSHA) are counted by Redis too, so they are
 * kept apart: none of these contenders sends them directly.
 */
const SENT_READS = ['get', 'hgetall', 'mget', 'hmget'];
const SENT_WRITES = ['set', 'setex', 'psetex', 'expire', 'del', 'unlink', 'evalsha', 'eval'];

/** One contender's figures in one scenario. */
interface Figures {
  route: string;
  runs: number[];
  median: number;
  /** Per run: requests completed, and Redis commands (by name, script calls included) during it. */
  redis: Array<{ requests: number; commands: Record<string, number> }>;
  /** Per run: the server process's CPU time (user + system) per request, µs. */
  cpu: number[];
  /** Per run: Redis's time per request in the commands it ran (commandstats usec), µs. */
  redisUsec: number[];
  /** Median over runs of commands sent per request (reads + writes, scripts' inner calls excluded). */
  roundTripsPerRequest: number;
  /** Median over runs of write commands sent per request. */
  writesPerRequest: number;
  /** Write commands sent, summed over the timed runs. */
  writes: number;
}

function startServer(redisUrl: string, contender: string): Promise<{ port: number; child: ChildProcess }> {
  return startBenchServer(
    path.join(HERE, 'session-server.ts'),
    [],
    { BENCH_REDIS_URL: redisUrl, BENCH_CONTENDER: contender },
    'session server',
    { ipc: true },
  );
}

/** The server process's CPU time so far (user + system), µs. */
function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (message: { cpu: NodeJS.CpuUsage }) =>
      resolve(message.cpu.user + message.cpu.system),
    );
    child.send('cpu');
  });
}

/**
 * A session cookie for `route`'s contender: the `Cookie` header value its users' browsers
 * would send after one write. The read route must then see `views` >= 1.
 */
async function establish(base: string, contender: string, route: string): Promise<string | undefined> {
  if (contender === 'hello') return undefined;
  let cookie: string;
  if (contender === 'raw node-redis') {
    cookie = `sid=${randomBytes(24).toString('base64url')}`;
    await check(await fetch(`${base}/raw/write`, { headers: { cookie } }), '/raw/write');
  } else {
    const prefix = route.slice(0, route.lastIndexOf('/'));
    const res = await fetch(`${base}${prefix}/write`);
    await check(res, `${prefix}/write`);
    const set = res.headers.getSetCookie()[0];
    if (!set) throw new Error(`${contender}: ${prefix}/write set no session cookie`);
    cookie = set.split(';')[0]!;
  }
  const probe = await fetch(`${base}${route}`, { headers: { cookie } });
  const body = await check(probe, route);
  if (!(Number(body) >= 1))
    throw new Error(`${contender}: ${route} did not see its session (answered '${body}')`);
  return cookie;
}

async function check(res: Response, route: string): Promise<string> {
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${route} answered ${res.status}: ${body.slice(0, 200)}`);
  return body;
}

async function load(
  url: string,
  cookie: string | undefined,
  durationMs: number,
): Promise<{ rps: number; requests: number }> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    pipelining: 1,
    duration: durationMs / 1000,
    ...(cookie ? { headers: { cookie } } : {}),
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx responses and ${result.errors} errors`);
  }
  // Completed requests over the run's length: autocannon's per-second average undercounts a
  // run that is not a whole number of seconds.
  return { rps: result.requests.total / (durationMs / 1000), requests: result.requests.total };
}

/** Calls per command since the server started (`INFO commandstats`); `usec`: their time in Redis, µs (all commands but INFO). */
async function commandStats(redis: BenchRedis): Promise<Map<string, number> & { usec: number }> {
  const info = String(await redis.server.command('INFO', 'commandstats'));
  const out = Object.assign(new Map<string, number>(), { usec: 0 });
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    out.set(match[1]!, Number(match[2]));
    // EVALSHA's usec includes the calls its script makes, which are listed again by name.
    if (match[1] !== 'info' && !INSIDE_SCRIPTS.has(match[1]!)) out.usec += Number(match[3]);
  }
  return out;
}

/** Commands these contenders only run inside larder's scripts (their time is in EVALSHA's). */
const INSIDE_SCRIPTS = new Set(['hset', 'pexpire', 'exists', 'hincrby', 'hdel', 'hkeys']);

function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, calls] of after) {
    const d = calls - (before.get(name) ?? 0);
    if (d > 0 && name !== 'info') out[name] = d;
  }
  return out;
}

const sum = (commands: Record<string, number>, names: string[]) =>
  names.reduce((total, name) => total + (commands[name] ?? 0), 0);

/**
 * Runs the session benchmark; `runs` medians per contender and scenario.
 *
 * @example const result = await run({ runs: 3, durationMs: 3000 }); // result.scenarios
 */
export async function run(options: BenchOptions = {}): Promise<BenchResult> {
  const runs = options.runs ?? DEFAULTS.runs;
  const durationMs = options.durationMs ?? DEFAULTS.durationMs;
  const warmupMs = options.warmupMs ?? DEFAULTS.warmupMs;
  const log = options.log ?? ((line: string) => console.log(line));
  const command = invocation();
  const redis = await startBenchRedis();
  const machine = machineInfo(redis.version);
  const scenarios = {} as Record<Scenario, Record<string, Figures>>;
  const servers = new Map<string, { port: number; child: ChildProcess }>();
  try {
    log(`session benchmark — command: ${command}`);
    log(
      `redis-server ${redis.version} on 127.0.0.1:${redis.port}; node ${process.version}; ` +
        `${machine.cpus} × ${machine.cpuModel}; load average ${machine.loadAverage}; ` +
        `larder ${machine.revision ?? '(no git)'}; autocannon ${CONNECTIONS} connections, pipelining 1; ` +
        `${runs} runs × ${durationMs} ms per figure (median), ${warmupMs} ms warm-up`,
    );
    if (machine.loadAverage > 0.5)
      log(
        '  note: the machine is busy (load average > 0.5); figures will be lower and noisier than on an idle one',
      );
    for (const name of new Set(Object.values(PROCESS))) servers.set(name, await startServer(redis.url, name));
    const baseOf = (contender: string) => `http://127.0.0.1:${servers.get(PROCESS[contender]!)!.port}`;

    for (const scenario of SCENARIOS) {
      const contenders = Object.entries(ROUTES[scenario]);
      const cookies = new Map<string, string | undefined>();
      for (const [name, route] of contenders) cookies.set(name, await establish(baseOf(name), name, route));
      log(`  ${SCENARIO_LABEL[scenario]} …`);
      for (const [name, route] of contenders)
        await load(`${baseOf(name)}${route}`, cookies.get(name), warmupMs);
      await sleep(SETTLE_MS);
      const figures: Record<string, Figures> = Object.fromEntries(
        contenders.map(([name, route]) => [
          name,
          {
            route,
            runs: [],
            median: 0,
            redis: [],
            cpu: [],
            redisUsec: [],
            roundTripsPerRequest: 0,
            writesPerRequest: 0,
            writes: 0,
          },
        ]),
      );
      for (let r = 0; r < runs; r++) {
        // Rotate who goes first, so drift on a shared machine hits every contender alike.
        for (let k = 0; k < contenders.length; k++) {
          const [name, route] = contenders[(k + r) % contenders.length]!;
          const child = servers.get(PROCESS[name]!)!.child;
          const before = await commandStats(redis);
          const cpuBefore = await cpuOf(child);
          const { rps, requests } = await load(`${baseOf(name)}${route}`, cookies.get(name), durationMs);
          // autocannon resolves with up to CONNECTIONS requests still in flight: let them land
          // here, not in the next contender's count.
          await sleep(SETTLE_MS);
          const cpuAfter = await cpuOf(child);
          const after = await commandStats(redis);
          const commands = delta(before, after);
          figures[name]!.runs.push(rps);
          figures[name]!.redis.push({ requests, commands });
          figures[name]!.cpu.push((cpuAfter - cpuBefore) / requests);
          figures[name]!.redisUsec.push((after.usec - before.usec) / requests);
        }
      }
      for (const f of Object.values(figures)) {
        f.median = median(f.runs);
        f.roundTripsPerRequest = median(
          f.redis.map((x) => sum(x.commands, [...SENT_READS, ...SENT_WRITES]) / x.requests),
        );
        f.writesPerRequest = median(f.redis.map((x) => sum(x.commands, SENT_WRITES) / x.requests));
        f.writes = f.redis.reduce((total, x) => total + sum(x.commands, SENT_WRITES), 0);
      }
      scenarios[scenario] = figures;
    }
    report(scenarios, log);
  } finally {
    await Promise.all(
      [...servers.values()].map(({ child }) => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        return exited;
      }),
    );
    await redis.stop();
  }
  return {
    name: 'session',
    command,
    machine,
    settings: { runs, durationMs, warmupMs, connections: CONNECTIONS, pipelining: 1 },
    ratios: ratios(scenarios),
    scenarios,
  };
}

/** larder against each baseline, per scenario: the median of the run-by-run ratios. */
function ratios(scenarios: Record<Scenario, Record<string, Figures>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const scenario of SCENARIOS) {
    const f = scenarios[scenario];
    const pairs: Array<[string, string]> = [
      ['larder', 'express-session'],
      ['larder', 'raw node-redis'],
      ['larder', 'hello'],
      ['larder incr', 'express-session'],
      ['ExpressSessionStore', 'express-session'],
    ];
    for (const [a, b] of pairs) {
      if (f[a] && f[b]) out[`${scenario}: ${a}/${b}`] = pairedRatio(f[a].runs, f[b].runs);
    }
  }
  return out;
}

function report(scenarios: Record<Scenario, Record<string, Figures>>, log: (line: string) => void): void {
  const rows: TableRow[] = SCENARIOS.map((scenario) => {
    const f = scenarios[scenario];
    return {
      scenario: SCENARIO_LABEL[scenario],
      values: Object.fromEntries(Object.entries(f).map(([name, x]) => [name, x.median])),
      runs: Object.fromEntries(Object.entries(f).map(([name, x]) => [name, x.runs])),
    };
  });
  log('');
  log('Median requests/s; ratios = median of the run-by-run ratios:');
  log(
    formatTable(rows, {
      columns: ['hello', 'raw node-redis', 'express-session', 'ExpressSessionStore', 'larder', 'larder incr'],
      subject: 'larder',
      baselines: ['express-session', 'raw node-redis', 'hello'],
    }),
  );
  const incr = scenarios['read+write']['larder incr'];
  const es = scenarios['read+write']['express-session'];
  for (const scenario of SCENARIOS) {
    const ours = scenarios[scenario].larder;
    const theirs = scenarios[scenario]['express-session'];
    if (!ours || !theirs) continue;
    const each = ours.runs.map((value, r) => value / theirs.runs[r]!).sort((a, b) => a - b);
    const q = (p: number) => each[Math.min(each.length - 1, Math.floor(p * each.length))]!;
    log(
      `larder / express-session, ${SCENARIO_LABEL[scenario]}, round by round: ${each.map((x) => x.toFixed(2)).join(' ')} ` +
        `(median ${formatRatio(pairedRatio(ours.runs, theirs.runs), 1)}, middle half ${q(0.25).toFixed(2)}–${q(0.75).toFixed(2)})`,
    );
  }
  if (incr && es) {
    log(
      `larder incr('views') read+write: ${formatOps(incr.median)} req/s = ` +
        `${formatRatio(pairedRatio(incr.runs, es.runs), 1)} express-session + connect-redis`,
    );
  }
  for (const scenario of SCENARIOS) {
    const drop = scenarios[scenario].ExpressSessionStore;
    const peer = scenarios[scenario]['express-session'];
    if (drop && peer) {
      log(
        `express-session on ExpressSessionStore, ${SCENARIO_LABEL[scenario]}: ${formatOps(drop.median)} req/s = ` +
          `${formatRatio(pairedRatio(drop.runs, peer.runs), 1)} the same app on connect-redis`,
      );
    }
  }
  log('');
  log('What reached Redis (INFO commandstats around each timed run; medians per request, writes summed):');
  for (const scenario of SCENARIOS) {
    for (const [name, f] of Object.entries(scenarios[scenario])) {
      if (name === 'hello') continue;
      const writes = f.redis.map((x) => sum(x.commands, SENT_WRITES));
      log(
        `  ${SCENARIO_LABEL[scenario].padEnd(24)} ${name.padEnd(20)} ` +
          `${f.roundTripsPerRequest.toFixed(2)} round trips/request, ${f.writesPerRequest.toFixed(3)} writes/request ` +
          `(writes per run: ${writes.join(', ')}; ${describeCommands(f)})`,
      );
    }
  }
  log('');
  log(
    'CPU per request (medians over runs, µs): the server process (user + system, process.cpuUsage) ' +
      'and Redis (commandstats usec of the commands sent; a script counts with the calls it makes):',
  );
  for (const scenario of SCENARIOS) {
    for (const [name, f] of Object.entries(scenarios[scenario])) {
      log(
        `  ${SCENARIO_LABEL[scenario].padEnd(24)} ${name.padEnd(20)} server ${median(f.cpu).toFixed(1).padStart(6)} µs, ` +
          `Redis ${median(f.redisUsec).toFixed(2).padStart(5)} µs`,
      );
    }
  }
}

/** The commands of a contender's first run, per request: `get 1.00, expire 1.00`. */
function describeCommands(f: Figures): string {
  const first = f.redis[0];
  if (!first) return '';
  return Object.entries(first.commands)
    .sort(([, a], [, b]) => b - a)
    .map(([name, calls]) => `${name} ${(calls / first.requests).toFixed(2)}`)
    .join(', ');
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  run().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
