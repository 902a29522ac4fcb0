/**
 * @module bench/ratelimit — rate-limit checks per second against the raw client and the
 * peers, on one redis-server of its own, in one run (DESIGN §7: a check is one round trip
 * and >= 1x rate-limiter-flexible).
 *
 * Contenders, each doing what its users write:
 * - `raw MULTI`: node-redis v6 (per-command timeout off), the naive INCR + PEXPIRE in a
 *   MULTI (it extends the window on every hit), for scale;
 * - `raw EVALSHA`: the same client running a minimal fixed-window Lua script (INCRBY, PTTL,
 *   PEXPIRE when new; returns count and TTL) — the least work for "one atomic round trip",
 *   though not the most checks/s with 100 in flight (see "Overlap" in the notes it prints);
 * - `rate-limiter-flexible`: `RateLimiterRedis` on node-redis v6 (`useRedisPackage: true`,
 *   supported since rate-limiter-flexible 3; it then sends its script as a full EVAL per
 *   check), and once more on ioredis (its default client, where it uses EVALSHA);
 * - `rate-limit-redis`: the express-rate-limit store on node-redis v6 (`sendCommand`), its
 *   `increment` driven directly here; the whole express-rate-limit middleware runs in the
 *   HTTP view;
 * - `larder`: `larder.rateLimiter({ name, limit, window, algorithm })`, fixed-window (its
 *   dedicated script), sliding-window and token-bucket, and fixed-window with two rules
 *   checked in one call (the general script).
 *
 * Two views:
 * 1. direct checks, 100 in flight (and sequentially): `allowed` — 10,000 keys, 1,000 per
 *    minute, so nothing is refused; `refused` — 100 hot keys already over 10 per hour, so
 *    every check is refused (rate-limiter-flexible rejects its promise then).
 * 2. HTTP: every contender as Express 5 middleware in a child process, loaded by autocannon
 *    (50 connections, each request keyed by an `x-client` header over 1,000 keys), with
 *    Express's hello world as the ceiling; larder as `web.rateLimit(limiter, { key })` (429
 *    problem+json, `RateLimit` / `RateLimit-Policy` headers on every answer), and once as a
 *    plain middleware around `consume` (the same headers by hand) to show what the factory adds.
 *
 * Around every timed run, `INFO commandstats` counts what reached Redis: commands sent per
 * check, round trips per check (a MULTI … EXEC block, written at once, is one), and the
 * server's time per script call (`usec_per_call` of EVAL / EVALSHA); `INFO cpu` and
 * `process.cpuUsage` give the CPU time per check of redis-server and of this process, which a
 * busy machine does not change the way it changes checks/s.
 *
 * Like with like: every node-redis contender is node-redis v6 with its default protocol
 * (RESP3) and its per-command timeout off, one socket each, the same keys, limit, window and
 * in-flight depth; only rate-limiter-flexible on ioredis speaks RESP2 (ioredis has no RESP3).
 *
 * Run alone: `node --import tsx bench/ratelimit.ts`, or through `npm run bench -- ratelimit`.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { type Options as ExpressRateLimitOptions, rateLimit } from 'express-rate-limit';
import { Redis as IORedis } from 'ioredis';
import { createLarder } from 'larder';
import { adapt } from 'larder/express';
import type { Algorithm, RateLimiter } from 'larder/ratelimit';
import { RedisStore } from 'rate-limit-redis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { createClient } from 'redis';
import {
  type BenchOptions,
  type BenchRedis,
  type BenchResult,
  formatOps,
  formatRatio,
  invocation,
  machineInfo,
  measure,
  median,
  pairedRatio,
  startBenchRedis,
  startBenchServer,
} from './support.js';

const HERE = fileURLToPath(import.meta.url);

/** Defaults of the direct view: 3 scenarios × 10 contenders × (0.5 s + 7 × 0.7 s) ≈ 2.7 minutes. */
const DIRECT_DEFAULTS = { runs: 7, durationMs: 700, warmupMs: 500 };
/** Defaults of the HTTP view: 10 routes × (1 s + 3 × 2 s) ≈ 1.2 minutes. */
const HTTP_DEFAULTS = { runs: 3, durationMs: 2000, warmupMs: 1000 };

const IN_FLIGHT = 100;
const CONNECTIONS = 50;
/** Pause after each timed HTTP run before counting Redis commands (requests in flight land). */
const SETTLE_MS = 250;

/** A limit as every contender is configured in a scenario. */
interface Limit {
  limit: number;
  windowMs: number;
}

/** What each direct scenario runs. */
interface DirectScenario {
  id: 'allowed' | 'allowed-sequential' | 'refused';
  label: string;
  inFlight: number;
  keyCount: number;
  limit: Limit;
  /** Every check is expected to be allowed (true) or refused (false). */
  expectAllowed: boolean;
}

const ALLOWED: Limit = { limit: 1_000, windowMs: 60_000 };
const REFUSED: Limit = { limit: 10, windowMs: 3_600_000 };

const DIRECT_SCENARIOS: DirectScenario[] = [
  {
    id: 'allowed',
    label: `allowed (10,000 keys, 1,000/min), ${IN_FLIGHT} in flight`,
    inFlight: IN_FLIGHT,
    keyCount: 10_000,
    limit: ALLOWED,
    expectAllowed: true,
  },
  {
    id: 'refused',
    label: `refused (100 keys over 10/h), ${IN_FLIGHT} in flight`,
    inFlight: IN_FLIGHT,
    keyCount: 100,
    limit: REFUSED,
    expectAllowed: false,
  },
  {
    id: 'allowed-sequential',
    label: 'allowed (10,000 keys, 1,000/min), sequential',
    inFlight: 1,
    keyCount: 10_000,
    limit: ALLOWED,
    expectAllowed: true,
  },
];

/**
 * The HTTP view's limit and key space (nothing is refused). One request is prepared per key
 * and autocannon cycles through them: building each request anew (`setupRequest`) made the
 * load generator, not the server, the bottleneck.
 */
const HTTP_LIMIT = ALLOWED;
const HTTP_KEYS = 1_000;

/**
 * The minimal fixed window as one script: INCRBY, and the TTL set once when the key is new
 * (never extended). Returns the count and the TTL, what a limiter needs to answer.
 */
const FIXED_WINDOW_LUA = `local n = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
return {n, ttl}`;

// ---------------------------------------------------------------------------------------------
// Contenders
// ---------------------------------------------------------------------------------------------

/** One library under test, configured with one limit: a check resolves whether it passed. */
interface Checker {
  check(key: string): Promise<boolean>;
  close(): Promise<void>;
}

/** A contender: builds a checker for a limit under its own key prefix. */
interface Contender {
  name: string;
  /** Commands it sends itself (not those its scripts call); round trips are counted from these. */
  sends: readonly string[];
  /** Its checks are MULTI … EXEC blocks written at once: one round trip per EXEC. */
  transaction?: boolean;
  note?: string;
  create(url: string, port: number, prefix: string, limit: Limit): Promise<Checker>;
}

const SCRIPT_CALLS = ['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'script'];

/** A node-redis v6 client with its per-command timeout off (DESIGN §7). */
async function nodeRedis(url: string) {
  const client = createClient({ url, commandOptions: { timeout: 0 } });
  client.on('error', () => {});
  await client.connect();
  return client;
}

const rawMulti: Contender = {
  name: 'raw MULTI',
  sends: ['multi', 'incr', 'pexpire', 'exec'],
  transaction: true,
  note: 'raw MULTI: INCR + PEXPIRE in a MULTI, the naive approach (extends the window on every hit).',
  async create(url, _port, prefix, { limit, windowMs }) {
    const client = await nodeRedis(url);
    return {
      async check(key) {
        const [count] = await client
          .multi()
          .incr(`${prefix}${key}`)
          .pExpire(`${prefix}${key}`, windowMs)
          .exec();
        return Number(count) <= limit;
      },
      close: async () => {
        await client.close();
      },
    };
  },
};

const rawEvalsha: Contender = {
  name: 'raw EVALSHA',
  sends: SCRIPT_CALLS,
  async create(url, _port, prefix, { limit, windowMs }) {
    const client = await nodeRedis(url);
    const sha = await client.scriptLoad(FIXED_WINDOW_LUA);
    const args = ['1', String(windowMs)];
    return {
      async check(key) {
        const [count] = (await client.evalSha(sha, {
          keys: [`${prefix}${key}`],
          arguments: args,
        })) as number[];
        return count! <= limit;
      },
      close: async () => {
        await client.close();
      },
    };
  },
};

/** rate-limiter-flexible's `consume`, as its README uses it: a rejection means refused. */
function flexibleChecker(limiter: RateLimiterRedis, close: () => Promise<void>): Checker {
  return {
    check: (key) =>
      limiter.consume(key).then(
        () => true,
        (rejection: unknown) => {
          if (rejection instanceof RateLimiterRes) return false;
          throw rejection;
        },
      ),
    close,
  };
}

const flexible: Contender = {
  name: 'rate-limiter-flexible',
  sends: SCRIPT_CALLS,
  note: 'rate-limiter-flexible on node-redis (useRedisPackage) sends its script as EVAL (the full text) on every check.',
  async create(url, _port, prefix, { limit, windowMs }) {
    const client = await nodeRedis(url);
    const limiter = new RateLimiterRedis({
      storeClient: client,
      useRedisPackage: true,
      keyPrefix: prefix,
      points: limit,
      duration: windowMs / 1000,
    });
    return flexibleChecker(limiter, async () => {
      await client.close();
    });
  },
};

const flexibleIORedis: Contender = {
  name: 'rate-limiter-flexible (ioredis)',
  sends: SCRIPT_CALLS,
  async create(_url, port, prefix, { limit, windowMs }) {
    const client = new IORedis({ host: '127.0.0.1', port, lazyConnect: true });
    client.on('error', () => {});
    await client.connect();
    const limiter = new RateLimiterRedis({
      storeClient: client,
      keyPrefix: prefix,
      points: limit,
      duration: windowMs / 1000,
    });
    return flexibleChecker(limiter, async () => {
      client.disconnect();
    });
  },
};

/** rate-limit-redis's store on node-redis, as its README sets it up, initialised as express-rate-limit does. */
async function redisStore(url: string, prefix: string, windowMs: number) {
  const client = await nodeRedis(url);
  const store = new RedisStore({ sendCommand: (...args: string[]) => client.sendCommand(args), prefix });
  await store.init({ windowMs } as ExpressRateLimitOptions);
  return { client, store };
}

const rateLimitRedis: Contender = {
  name: 'rate-limit-redis',
  sends: SCRIPT_CALLS,
  note: 'rate-limit-redis: the store express-rate-limit calls, its increment() driven directly (the middleware runs in the HTTP view).',
  async create(url, _port, prefix, { limit, windowMs }) {
    const { client, store } = await redisStore(url, prefix, windowMs);
    return {
      check: async (key) => (await store.increment(key)).totalHits <= limit,
      close: async () => {
        await client.close();
      },
    };
  },
};

/** larder's limiter for `limit` (`rules: 2`: the limit plus a 24x longer one with 10x the calls). */
function larderLimiter(
  url: string,
  name: string,
  { limit, windowMs }: Limit,
  algorithm: Algorithm,
  rules: 1 | 2 = 1,
) {
  const instance = createLarder({ redis: url, logger: false });
  const window = windowMs / 1000;
  const limiter: RateLimiter =
    rules === 1
      ? instance.rateLimiter({ name, limit, window, algorithm })
      : instance.rateLimiter({
          name,
          rules: [
            { name: 'short', limit, window, algorithm },
            { name: 'long', limit: limit * 10, window: window * 24, algorithm },
          ],
        });
  return { instance, limiter };
}

function larder(algorithm: Algorithm, rules: 1 | 2 = 1): Contender {
  return {
    name: rules === 1 ? `larder ${algorithm}` : `larder ${algorithm} ×2 rules`,
    sends: SCRIPT_CALLS,
    ...(rules === 2
      ? {
          note: `larder ${algorithm} ×2 rules: the limit and a second one (10x the calls over 24x the window), checked and consumed in one call.`,
        }
      : {}),
    async create(url, _port, prefix, limit) {
      const { instance, limiter } = larderLimiter(
        url,
        prefix.replace(/[^A-Za-z0-9_.-]/g, '-'),
        limit,
        algorithm,
        rules,
      );
      return {
        check: async (key) => (await limiter.consume(key)).allowed,
        close: () => instance.close(),
      };
    },
  };
}

const CONTENDERS: Contender[] = [
  rawMulti,
  rawEvalsha,
  flexible,
  flexibleIORedis,
  rateLimitRedis,
  larder('fixed-window'),
  larder('sliding-window'),
  larder('token-bucket'),
  larder('fixed-window', 2),
];

const BASELINES = ['rate-limiter-flexible', 'raw EVALSHA', 'raw MULTI'] as const;

// ---------------------------------------------------------------------------------------------
// Counting what reaches Redis
// ---------------------------------------------------------------------------------------------

/**
 * Calls and microseconds spent per command since the server started (`INFO commandstats`),
 * and the CPU time of the server's main thread (`INFO cpu`, µs), with this process's CPU time
 * (`process.cpuUsage`, µs) read at the same moment.
 */
interface CommandStats {
  calls: Map<string, number>;
  usec: Map<string, number>;
  redisCpu: number;
  nodeCpu: number;
}

async function commandStats(redis: BenchRedis): Promise<CommandStats> {
  const info = String(await redis.server.command('INFO', 'commandstats', 'cpu'));
  const cpu = process.cpuUsage();
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    calls.set(match[1]!, Number(match[2]));
    usec.set(match[1]!, Number(match[3]));
  }
  const seconds = (field: string) =>
    Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return {
    calls,
    usec,
    redisCpu: (seconds('used_cpu_sys_main_thread') + seconds('used_cpu_user_main_thread')) * 1e6,
    nodeCpu: cpu.user + cpu.system,
  };
}

/** What one timed run added to the counters: `Traffic` less its check count. */
function delta(before: CommandStats, after: CommandStats): Omit<Traffic, 'checks'> {
  const commands: Record<string, number> = {};
  const usec: Record<string, number> = {};
  for (const [name, calls] of after.calls) {
    const d = calls - (before.calls.get(name) ?? 0);
    if (d > 0 && name !== 'info') {
      commands[name] = d;
      usec[name] = (after.usec.get(name) ?? 0) - (before.usec.get(name) ?? 0);
    }
  }
  return {
    commands,
    usec,
    redisCpu: after.redisCpu - before.redisCpu,
    nodeCpu: after.nodeCpu - before.nodeCpu,
  };
}

const sum = (commands: Record<string, number>, names: readonly string[]) =>
  names.reduce((total, name) => total + (commands[name] ?? 0), 0);

/**
 * One timed run's traffic: checks made, Redis commands during it (script-internal calls
 * included), and the microseconds Redis spent in each (a script's own includes its calls).
 */
interface Traffic {
  checks: number;
  commands: Record<string, number>;
  usec: Record<string, number>;
  /** CPU µs of redis-server's main thread during the run (every contender's own server work, syscalls included). */
  redisCpu: number;
  /** CPU µs of this process during the run (the HTTP view: the load generator's, so not reported). */
  nodeCpu: number;
}

/** CPU µs per check (median over runs) of `side`: independent of how busy the machine is, unlike checks/s. */
function cpuPerCheck(traffic: readonly Traffic[], side: 'redisCpu' | 'nodeCpu'): number {
  return median(traffic.map((t) => t[side] / t.checks));
}

/**
 * Redis's time per script call, µs (median over runs): what each library's Lua costs the
 * server (`usec_per_call` of EVAL / EVALSHA). NaN for a contender that runs no script.
 */
function scriptMicrosPerCall(traffic: readonly Traffic[]): number {
  return median(
    traffic.map((t) => sum(t.usec, SCRIPT_CALLS) / sum(t.commands, SCRIPT_CALLS)).filter(Number.isFinite),
  );
}

/** Commands the contender sent, per check (median over runs). */
function sentPerCheck(contender: Contender, traffic: readonly Traffic[]): number {
  return median(traffic.map((t) => sum(t.commands, contender.sends) / t.checks));
}

/** Round trips per check (median over runs): a MULTI … EXEC block counts once. */
function roundTripsPerCheck(contender: Contender, traffic: readonly Traffic[]): number {
  return median(
    traffic.map(
      (t) => (contender.transaction ? (t.commands.exec ?? 0) : sum(t.commands, contender.sends)) / t.checks,
    ),
  );
}

/** Every command of the first run per check, script-internal calls included: `evalsha 1.00, get 1.00`. */
function describeCommands(traffic: readonly Traffic[]): string {
  const first = traffic[0];
  if (!first) return '';
  return Object.entries(first.commands)
    .sort(([, a], [, b]) => b - a)
    .map(([name, calls]) => `${name} ${(calls / first.checks).toFixed(2)}`)
    .join(', ');
}

// ---------------------------------------------------------------------------------------------
// View 1: direct checks
// ---------------------------------------------------------------------------------------------

/** One contender's figures in one scenario. */
interface Figures {
  runs: number[];
  median: number;
  /** Checks whose answer was not the scenario's (allowed where refusal was expected, or the reverse). */
  unexpected: number;
  traffic: Traffic[];
  roundTripsPerCheck: number;
  commandsSentPerCheck: number;
  /** Redis µs per script call (`scriptMicrosPerCall`). */
  redisMicrosPerScript: number;
  /** CPU µs per check in this process (direct view only; NaN over HTTP). */
  nodeCpuPerCheck: number;
  /** CPU µs per check in redis-server's main thread. */
  redisCpuPerCheck: number;
}

interface DirectResult {
  id: DirectScenario['id'];
  label: string;
  inFlight: number;
  keyCount: number;
  limit: Limit;
  contenders: Record<string, Figures>;
  /** `a/b` → the median of the run-by-run ratios (`pairedRatio`). */
  ratios: Record<string, number>;
}

async function directScenario(
  scenario: DirectScenario,
  redis: BenchRedis,
  settings: { runs: number; durationMs: number; warmupMs: number },
  log: (line: string) => void,
): Promise<DirectResult> {
  log(`  direct: ${scenario.label} …`);
  const keys = Array.from({ length: scenario.keyCount }, (_, i) => `client-${i}`);
  const checkers: Checker[] = [];
  try {
    for (const [i, c] of CONTENDERS.entries())
      checkers.push(await c.create(redis.url, redis.port, `bench-${scenario.id}-${i}:`, scenario.limit));
    const unexpected = CONTENDERS.map(() => 0);
    const ops = checkers.map((checker, c) => async (i: number) => {
      if ((await checker.check(keys[i % keys.length]!)) !== scenario.expectAllowed) unexpected[c]!++;
    });
    // Refused: use up every key's allowance first (never timed).
    if (!scenario.expectAllowed) {
      for (const checker of checkers)
        for (let n = 0; n < scenario.limit.limit; n++)
          await Promise.all(keys.map((key) => checker.check(key)));
    }
    for (const [c, op] of ops.entries())
      await measure(CONTENDERS[c]!.name, op, { inFlight: scenario.inFlight, durationMs: settings.warmupMs });
    unexpected.fill(0);

    const runs = CONTENDERS.map(() => [] as number[]);
    const traffic = CONTENDERS.map(() => [] as Traffic[]);
    for (let r = 0; r < settings.runs; r++) {
      // Rotate who goes first, so drift on a shared machine hits every contender alike.
      for (let k = 0; k < CONTENDERS.length; k++) {
        const c = (k + r) % CONTENDERS.length;
        let checks = 0;
        const op = ops[c]!;
        const counted = (i: number) => {
          checks++;
          return op(i);
        };
        const before = await commandStats(redis);
        runs[c]!.push(
          await measure(`${CONTENDERS[c]!.name} ${scenario.label}`, counted, {
            inFlight: scenario.inFlight,
            durationMs: settings.durationMs,
          }),
        );
        // measure resolves once every started check has answered: the counts match.
        traffic[c]!.push({ checks, ...delta(before, await commandStats(redis)) });
      }
    }
    const contenders: Record<string, Figures> = {};
    CONTENDERS.forEach((c, i) => {
      contenders[c.name] = {
        runs: runs[i]!,
        median: median(runs[i]!),
        unexpected: unexpected[i]!,
        traffic: traffic[i]!,
        roundTripsPerCheck: roundTripsPerCheck(c, traffic[i]!),
        commandsSentPerCheck: sentPerCheck(c, traffic[i]!),
        redisMicrosPerScript: scriptMicrosPerCall(traffic[i]!),
        nodeCpuPerCheck: cpuPerCheck(traffic[i]!, 'nodeCpu'),
        redisCpuPerCheck: cpuPerCheck(traffic[i]!, 'redisCpu'),
      };
    });
    return { ...scenario, contenders, ratios: ratiosOf(contenders) };
  } finally {
    await Promise.allSettled(checkers.map((c) => c.close()));
  }
}

function ratiosOf(contenders: Record<string, { runs: number[] }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of Object.keys(contenders)) {
    if (!name.startsWith('larder')) continue;
    for (const baseline of [...BASELINES, 'rate-limiter-flexible (ioredis)', 'rate-limit-redis', 'hello']) {
      const b = contenders[baseline];
      if (b) out[`${name}/${baseline}`] = pairedRatio(contenders[name]!.runs, b.runs);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// View 2: HTTP middleware (the server runs in a child process: this file with --serve)
// ---------------------------------------------------------------------------------------------

/** Contender → its route. `hello` has no limiter (the ceiling). */
const ROUTES: Record<string, string> = {
  hello: '/hello',
  'raw MULTI': '/raw-multi',
  'raw EVALSHA': '/raw-evalsha',
  'rate-limiter-flexible': '/flexible',
  'rate-limiter-flexible (ioredis)': '/flexible-ioredis',
  'express-rate-limit + rate-limit-redis': '/express-rate-limit',
  'larder fixed-window': '/larder-fixed',
  'larder sliding-window': '/larder-sliding',
  'larder token-bucket': '/larder-token',
  'larder fixed-window ×2 rules': '/larder-fixed-2',
  'larder fixed-window, plain middleware': '/larder-plain',
};

/** How the HTTP view's contenders count round trips (by the direct view's rules). */
const HTTP_SENDS: Record<string, Pick<Contender, 'sends' | 'transaction'>> = {
  'raw MULTI': rawMulti,
  'express-rate-limit + rate-limit-redis': { sends: SCRIPT_CALLS },
  'larder fixed-window, plain middleware': { sends: SCRIPT_CALLS },
};

const clientKey = (req: Request) => String(req.headers['x-client'] ?? 'none');

/** A Checker as Express middleware: 429 when refused, as each contender's README does it. */
function checkerMiddleware(checker: Checker): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    checker.check(clientKey(req)).then((allowed) => {
      if (allowed) next();
      else res.status(429).send('Too Many Requests');
    }, next);
  };
}

/**
 * larder's limiter in a plain Express middleware written by hand, with draft-10 `RateLimit` /
 * `RateLimit-Policy` headers and `Retry-After` (what `web.rateLimit` answers, minus its problem body).
 */
function plainLarderMiddleware(limiter: RateLimiter): RequestHandler {
  const policy = limiter.rules
    .map((r) => `"${r.name}";q=${r.limit};w=${Math.ceil(r.window / 1000)}`)
    .join(', ');
  return (req: Request, res: Response, next: NextFunction) => {
    limiter.consume(clientKey(req)).then((result) => {
      const rule = result.rules.find((r) => r.remaining === result.remaining) ?? result.rules[0]!;
      res.setHeader('RateLimit-Policy', policy);
      res.setHeader('RateLimit', `"${rule.name}";r=${result.remaining};t=${Math.ceil(result.resetAfter)}`);
      if (result.allowed) return next();
      res.setHeader('Retry-After', String(Math.ceil(result.retryAfter)));
      res.status(429).send('Too Many Requests');
    }, next);
  };
}

/** The bench's Express app, listening on a free loopback port; prints `PORT <n>`. */
async function serve(): Promise<void> {
  const url = process.env.BENCH_REDIS_URL;
  const port = Number(process.env.BENCH_REDIS_PORT);
  if (!url || !port) throw new Error('BENCH_REDIS_URL / BENCH_REDIS_PORT are not set');
  const closers: Array<() => Promise<void>> = [];
  const app = express();
  const hello = (_req: Request, res: Response) => {
    res.send('hello world');
  };
  app.get(ROUTES.hello!, hello);
  const checkers: Array<[string, Contender]> = [
    ['raw MULTI', rawMulti],
    ['raw EVALSHA', rawEvalsha],
    ['rate-limiter-flexible', flexible],
    ['rate-limiter-flexible (ioredis)', flexibleIORedis],
  ];
  for (const [name, contender] of checkers) {
    const checker = await contender.create(url, port, `http-${ROUTES[name]!.slice(1)}:`, HTTP_LIMIT);
    closers.push(() => checker.close());
    app.get(ROUTES[name]!, checkerMiddleware(checker), hello);
  }

  // express-rate-limit + rate-limit-redis, as their READMEs set them up (keyed like the others).
  const erlClient = await nodeRedis(url);
  closers.push(async () => {
    await erlClient.close();
  });
  app.get(
    ROUTES['express-rate-limit + rate-limit-redis']!,
    rateLimit({
      windowMs: HTTP_LIMIT.windowMs,
      limit: HTTP_LIMIT.limit,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      keyGenerator: clientKey,
      store: new RedisStore({
        sendCommand: (...args: string[]) => erlClient.sendCommand(args),
        prefix: 'http-erl:',
      }),
    }),
    hello,
  );

  const larders: Array<[string, Algorithm, 1 | 2]> = [
    ['larder fixed-window', 'fixed-window', 1],
    ['larder sliding-window', 'sliding-window', 1],
    ['larder token-bucket', 'token-bucket', 1],
    ['larder fixed-window ×2 rules', 'fixed-window', 2],
  ];
  for (const [name, algorithm, rules] of larders) {
    const { instance, limiter } = larderLimiter(
      url,
      `http-${ROUTES[name]!.slice(1)}`,
      HTTP_LIMIT,
      algorithm,
      rules,
    );
    closers.push(() => instance.close());
    app.get(ROUTES[name]!, adapt(instance).rateLimit(limiter, { key: clientKey }), hello);
  }
  const plain = larderLimiter(url, 'http-larder-plain', HTTP_LIMIT, 'fixed-window');
  closers.push(() => plain.instance.close());
  app.get(ROUTES['larder fixed-window, plain middleware']!, plainLarderMiddleware(plain.limiter), hello);

  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  process.stdout.write(`PORT ${(server.address() as { port: number }).port}\n`);
  process.on('SIGTERM', () => {
    server.close();
    Promise.allSettled(closers.map((close) => close())).finally(() => process.exit(0));
  });
}

function startServer(redis: BenchRedis): Promise<{ port: number; child: ChildProcess }> {
  return startBenchServer(
    HERE,
    ['--serve'],
    { BENCH_REDIS_URL: redis.url, BENCH_REDIS_PORT: String(redis.port) },
    'rate-limit bench server',
  );
}

/** One prepared request per key: `x-client: client-<n>`. */
const REQUESTS = Array.from({ length: HTTP_KEYS }, (_, n) => ({
  method: 'GET' as const,
  headers: { 'x-client': `client-${n}` },
}));

/** autocannon on `url`, each connection cycling through the HTTP_KEYS keys. */
async function load(url: string, durationMs: number): Promise<{ rps: number; requests: number }> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    pipelining: 1,
    duration: durationMs / 1000,
    requests: REQUESTS,
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx responses and ${result.errors} errors`);
  }
  return { rps: result.requests.average, requests: result.requests.total };
}

interface HttpResult {
  route: Record<string, string>;
  contenders: Record<string, Figures>;
  ratios: Record<string, number>;
}

async function httpView(
  redis: BenchRedis,
  settings: { runs: number; durationMs: number; warmupMs: number },
  log: (line: string) => void,
): Promise<HttpResult> {
  log(
    `  HTTP: Express 5 middleware, autocannon ${CONNECTIONS} connections, ${HTTP_KEYS.toLocaleString('en-US')} keys …`,
  );
  const server = await startServer(redis);
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const names = Object.keys(ROUTES);
    for (const name of names) {
      const res = await fetch(`${base}${ROUTES[name]}`, { headers: { 'x-client': 'probe' } });
      const body = await res.text();
      if (res.status !== 200 || body !== 'hello world')
        throw new Error(`${name}: ${ROUTES[name]} answered ${res.status}: ${body.slice(0, 200)}`);
    }
    for (const name of names) await load(`${base}${ROUTES[name]}`, settings.warmupMs);
    await sleep(SETTLE_MS);
    const runs = names.map(() => [] as number[]);
    const traffic = names.map(() => [] as Traffic[]);
    for (let r = 0; r < settings.runs; r++) {
      for (let k = 0; k < names.length; k++) {
        const i = (k + r) % names.length;
        const before = await commandStats(redis);
        const { rps, requests } = await load(`${base}${ROUTES[names[i]!]}`, settings.durationMs);
        // autocannon resolves with up to CONNECTIONS requests in flight: let them land here.
        await sleep(SETTLE_MS);
        runs[i]!.push(rps);
        traffic[i]!.push({ checks: requests, ...delta(before, await commandStats(redis)) });
      }
    }
    const contenders: Record<string, Figures> = {};
    names.forEach((name, i) => {
      const counting = HTTP_SENDS[name] ?? CONTENDERS.find((c) => c.name === name) ?? { sends: SCRIPT_CALLS };
      const c = { name, ...counting } as Contender;
      contenders[name] = {
        runs: runs[i]!,
        median: median(runs[i]!),
        unexpected: 0,
        traffic: traffic[i]!,
        roundTripsPerCheck: name === 'hello' ? 0 : roundTripsPerCheck(c, traffic[i]!),
        commandsSentPerCheck: name === 'hello' ? 0 : sentPerCheck(c, traffic[i]!),
        redisMicrosPerScript: scriptMicrosPerCall(traffic[i]!),
        nodeCpuPerCheck: Number.NaN,
        redisCpuPerCheck: name === 'hello' ? Number.NaN : cpuPerCheck(traffic[i]!, 'redisCpu'),
      };
    });
    return { route: ROUTES, contenders, ratios: ratiosOf(contenders) };
  } finally {
    const { child } = server;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

// ---------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------

/** A Markdown table, first column left-aligned, the rest right-aligned. */
function markdown(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

/** One row per contender: checks/s, its ratio to each baseline (paired run by run), round trips. */
function contenderTable(contenders: Record<string, Figures>, unit: string, extraBaseline?: string): string {
  const baselines = [...(extraBaseline ? [extraBaseline] : []), ...BASELINES];
  const header = [
    'contender',
    `${unit}/s`,
    ...baselines.map((b) => `/ ${b}`),
    `round trips/${unit.replace(/s$/, '')}`,
    'commands sent',
    'Redis µs/script',
    `Node CPU µs/${unit.replace(/s$/, '')}`,
    `Redis CPU µs/${unit.replace(/s$/, '')}`,
  ];
  const body = Object.entries(contenders).map(([name, f]) => [
    name + (f.unexpected ? ` (!${f.unexpected} unexpected answers)` : ''),
    formatOps(f.median),
    ...baselines.map((b) => {
      const base = contenders[b];
      return base ? formatRatio(pairedRatio(f.runs, base.runs), 1) : '—';
    }),
    name === 'hello' ? '—' : f.roundTripsPerCheck.toFixed(2),
    name === 'hello' ? '—' : f.commandsSentPerCheck.toFixed(2),
    Number.isFinite(f.redisMicrosPerScript) ? f.redisMicrosPerScript.toFixed(2) : '—',
    Number.isFinite(f.nodeCpuPerCheck) ? f.nodeCpuPerCheck.toFixed(2) : '—',
    Number.isFinite(f.redisCpuPerCheck) ? f.redisCpuPerCheck.toFixed(2) : '—',
  ]);
  return markdown(header, body);
}

function report(direct: DirectResult[], http: HttpResult | undefined, log: (line: string) => void): void {
  for (const scenario of direct) {
    log('');
    log(`Direct checks — ${scenario.label}: median checks/s; ratios = median of the run-by-run ratios`);
    log(contenderTable(scenario.contenders, 'checks'));
  }
  if (http) {
    log('');
    log(
      `HTTP — Express 5 middleware, each request one check (allowed), autocannon ${CONNECTIONS} connections: ` +
        'median requests/s; ratios = median of the run-by-run ratios',
    );
    log(contenderTable(http.contenders, 'requests', 'hello'));
  }
  const notes = CONTENDERS.map((c) => c.note).filter(Boolean);
  notes.push(
    'round trips: commands the contender sends itself (script-internal calls excluded); a MULTI … EXEC block, written at once, is one round trip.',
    "Redis µs/script: the server's time per EVAL / EVALSHA (INFO commandstats usec_per_call, the calls inside the script included), median over runs.",
    "CPU µs/check: this process (process.cpuUsage: the contender plus the bench loop) and redis-server's main thread (INFO cpu: parsing, scripts, syscalls) per check, median over runs — what a check costs, however busy the machine; checks/s with 100 in flight also depend on whether the two overlap (below).",
    "Overlap: node-redis writes the commands of one event-loop turn in one write and redis-server answers none of a read (up to 16 KiB) before running all of it, so with 100 checks in flight on one socket the two processes take turns unless the batch is split: rate-limiter-flexible's full-text EVAL (~400 bytes a check) overflows the 16 KiB read, larder paces every connection's calls (25 per turn, PACE in src/redis/connection.ts), raw EVALSHA and rate-limit-redis do neither — so raw EVALSHA is the cheapest script here, not the fastest contender.",
  );
  log('');
  for (const note of notes) log(`- ${note}`);
  log('');
  log('What reached Redis per check (first timed run, script-internal calls included):');
  const sections: Array<[string, Record<string, Figures>]> = [
    ...direct.map((s) => [`direct ${s.id}`, s.contenders] as [string, Record<string, Figures>]),
    ...(http ? [['HTTP', http.contenders] as [string, Record<string, Figures>]] : []),
  ];
  for (const [label, contenders] of sections) {
    for (const [name, f] of Object.entries(contenders)) {
      if (name === 'hello') continue;
      log(`  ${label.padEnd(25)} ${name.padEnd(38)} ${describeCommands(f.traffic)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

/**
 * Runs the rate-limit benchmark (direct checks, then HTTP) on a redis-server of its own and
 * prints the tables. `runs`, `durationMs` and `warmupMs` apply to both views when given.
 *
 * @example const result = await run({ runs: 3 }); // result.direct, result.http
 */
export async function run(options: BenchOptions = {}): Promise<BenchResult> {
  const pick = (defaults: typeof DIRECT_DEFAULTS) => ({
    runs: options.runs ?? defaults.runs,
    durationMs: options.durationMs ?? defaults.durationMs,
    warmupMs: options.warmupMs ?? defaults.warmupMs,
  });
  const directSettings = pick(DIRECT_DEFAULTS);
  const httpSettings = pick(HTTP_DEFAULTS);
  const log = options.log ?? ((line: string) => console.log(line));
  const command = invocation();
  const redis = await startBenchRedis();
  const machine = machineInfo(redis.version);
  try {
    log(`rate-limit benchmark — command: ${command}`);
    log(
      `redis-server ${redis.version} on 127.0.0.1:${redis.port}; node ${process.version}; ` +
        `${machine.cpus} × ${machine.cpuModel}; load average ${machine.loadAverage}; ` +
        `larder ${machine.revision ?? '(no git)'}; direct: ${directSettings.runs} runs × ${directSettings.durationMs} ms ` +
        `(median), ${directSettings.warmupMs} ms warm-up; HTTP: ${httpSettings.runs} runs × ${httpSettings.durationMs} ms, ` +
        `${httpSettings.warmupMs} ms warm-up`,
    );
    if (machine.loadAverage > 0.5)
      log(
        '  note: the machine is busy (load average > 0.5); figures will be lower and noisier than on an idle one',
      );
    const direct: DirectResult[] = [];
    for (const scenario of DIRECT_SCENARIOS)
      direct.push(await directScenario(scenario, redis, directSettings, log));
    const http = await httpView(redis, httpSettings, log);
    report(direct, http, log);
    return {
      name: 'ratelimit',
      command,
      machine,
      loadAverageAtEnd: machineInfo().loadAverage,
      settings: {
        direct: directSettings,
        http: {
          ...httpSettings,
          connections: CONNECTIONS,
          pipelining: 1,
          keys: HTTP_KEYS,
          limit: HTTP_LIMIT,
        },
        inFlight: IN_FLIGHT,
      },
      contenders: Object.fromEntries(CONTENDERS.map((c) => [c.name, c.note ?? ''])),
      direct,
      http,
    };
  } finally {
    await redis.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const main = process.argv.includes('--serve') ? serve() : run().then(() => undefined);
  main.catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
