/**
 * What the fault scenarios share: the storefront on a free port over a Larder the test
 * builds (on servers it starts), a bounded load generator (fixed concurrency, stopped by a
 * request count or a deadline, whichever comes first) that records every response's status
 * and duration, percentiles, and `test-results/faults.json`, where each scenario leaves the
 * figures it measured for the lead to quote.
 */
import { mkdirSync, readFileSync, renameSync, rmdirSync, mkdirSync as tryLock, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { uniquePrefix } from '../support/conformance.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The catalog's deliberate query time, lowered for the load (read when the demo's module loads). */
process.env.STOREFRONT_QUERY_MS ??= '20';
// Express logs every error answer to stderr unless its env is 'test': the faults make hundreds.
process.env.NODE_ENV ??= 'test';

/** The storefront on a free loopback port, over `larder` (the caller closes the Larder). */
export async function serveStorefront(larder: unknown) {
  const { createApp } = await import('../../examples/storefront/app.js');
  const app = createApp(larder as never, { loginGuard: { prefix: uniquePrefix('faults-guard') } });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One request the load generator made. */
export interface Sample {
  route: string;
  status: number;
  /** Wall time from sending to the body read, ms. */
  ms: number;
  /** When it started, ms since the load began. */
  at: number;
  /** The body (kept for error answers only). */
  body?: string;
  /** The response's headers we look at. */
  cacheStatus?: string;
}

/** What one request of the load is: a route name (for the figures) and the fetch to make. */
export type Step = { route: string; url: string; init?: RequestInit };

/**
 * Runs `next(i)` requests with `concurrency` in flight until `stop()` says so, `count`
 * requests were made or `maxMs` passed. A request that fails at the socket is recorded
 * with status 0. Resolves every sample.
 */
export async function load(opts: {
  concurrency: number;
  count: number;
  maxMs: number;
  next: (i: number, worker: number) => Step;
  stop?: () => boolean;
  /** Sees each sample as it lands (live counters). */
  onSample?: (sample: Sample, worker: number) => void;
}): Promise<Sample[]> {
  const samples: Sample[] = [];
  const started = performance.now();
  let issued = 0;
  const worker = async (w: number) => {
    while (issued < opts.count && performance.now() - started < opts.maxMs && !opts.stop?.()) {
      const step = opts.next(issued++, w);
      const t = performance.now();
      let status = 0;
      let body: string | undefined;
      let cacheStatus: string | undefined;
      try {
        const res = await fetch(step.url, {
          redirect: 'manual',
          signal: AbortSignal.timeout(30_000),
          ...step.init,
        });
        status = res.status;
        cacheStatus = res.headers.get('cache-status') ?? undefined;
        const text = await res.text();
        if (status >= 500) body = text;
      } catch (error) {
        body = String(error);
      }
      const sample: Sample = {
        route: step.route,
        status,
        ms: performance.now() - t,
        at: t - started,
        body,
        cacheStatus,
      };
      samples.push(sample);
      opts.onSample?.(sample, w);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
  return samples;
}

/** The `p`th percentile (0–100) of `values`, or 0 for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** `n` rounded to one decimal, for figures. */
export const round = (n: number) => Math.round(n * 10) / 10;

/** Polls `check` every 20 ms until it is true; resolves the ms it took, or throws after `ms`. */
export async function timeUntil(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < ms) {
    try {
      if (await check()) return performance.now() - started;
    } catch {
      // Not yet.
    }
    await sleep(20);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

const resultsDir = path.join(root, 'test-results');
const resultsFile = path.join(resultsDir, 'faults.json');

/**
 * Records one scenario's figures under `name` in `test-results/faults.json` (merged with
 * what other scenarios, maybe in other processes, wrote: a directory lock keeps the
 * read-modify-write whole).
 */
export async function recordFigures(name: string, figures: Record<string, unknown>): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  const lock = `${resultsFile}.lock`;
  for (let tries = 0; ; tries++) {
    try {
      tryLock(lock);
      break;
    } catch {
      if (tries > 200) break; // A stale lock from a killed run: write anyway.
      await sleep(10);
    }
  }
  try {
    let all: Record<string, unknown> = {};
    try {
      all = JSON.parse(readFileSync(resultsFile, 'utf8'));
    } catch {}
    all[name] = { ...figures, measuredAt: new Date().toISOString() };
    writeFileSync(`${resultsFile}.tmp`, `${JSON.stringify(all, null, 2)}\n`);
    renameSync(`${resultsFile}.tmp`, resultsFile);
  } finally {
    try {
      rmdirSync(lock);
    } catch {}
  }
}

/** The command timeout the outage scenarios configure (cache and sessions alike). */
export const COMMAND_TIMEOUT_MS = 250;

/**
 * The storefront on one standalone server: the default cache with `ignoreErrors` (an outage
 * reads as a miss), sessions on the same server without it (an outage is a 503), both with
 * a {@link COMMAND_TIMEOUT_MS} command timeout. Resolves the app, a signed-in session
 * cookie, and `close`.
 */
export async function storefrontOn(url: string) {
  const { createLarder } = await import('../../src/larder.js');
  const timeouts = { commandTimeout: `${COMMAND_TIMEOUT_MS}ms`, connectTimeout: '1s' } as const;
  const larder = createLarder(
    {
      logger: false,
      redis: { url, ...timeouts },
      caches: {
        default: { backend: 'redis', ignoreErrors: true, commandTimeout: `${COMMAND_TIMEOUT_MS}ms` },
      },
      sessions: { prefix: uniquePrefix('faults-session') },
      rateLimits: { api: { limit: 1_000_000, window: 60 } },
      tasks: { prefix: uniquePrefix('faults-tasks') },
    },
    {},
  );
  const app = await serveStorefront(larder);
  const login = await fetch(`${app.base}/login`, {
    method: 'POST',
    redirect: 'manual',
    body: new URLSearchParams({ username: 'alice', password: 'ecila' }),
  });
  const cookie = login.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .join('; ');
  if (login.status !== 303 || !cookie.includes('sessionid=')) {
    throw new Error(`could not sign in before the fault: ${login.status} ${await login.text()}`);
  }
  return {
    larder,
    base: app.base,
    cookie,
    close: async () => {
      await app.close();
      await larder.close();
    },
  };
}

/** The anonymous, page-cached routes of the storefront, in turn. */
export const CACHED_ROUTES = ['/products', '/products/us', '/products/eu', '/products/apac'];

/** A hit from the page cache (`Cache-Status: larder; hit…`). */
export const isHit = (cacheStatus: string | null | undefined) => /;\s*hit\b/.test(cacheStatus ?? '');

/** The error messages of `samples` (first line, ports masked, the larder call that failed), with their counts. */
export function causes(samples: Sample[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of samples) {
    const text = /<pre>([^<]*)/.exec(s.body ?? '')?.[1] ?? s.body ?? `status ${s.status}`;
    // The first larder frame that made the failing call (the stack is in the error page's body).
    const frame = /at ((?:Cache|Session|Redis\w*Store|PageCache)[\w.#]*)/.exec(s.body ?? '')?.[1];
    const first = text
      .split('\n')[0]!
      .replace(/:\d{2,5}\b/g, ':PORT')
      .slice(0, 200);
    const message = frame ? `${first} (at ${frame})` : first;
    counts[message] = (counts[message] ?? 0) + 1;
  }
  return counts;
}

/**
 * No request may wait longer than the command timeout plus this: a bound, not a benchmark. A
 * hang would wait for the 30 s fetch timeout; the margin is for a machine shared by several
 * test runs (load average 10-11 on 2 cores measured a 1.17 s 503 with the 250 ms timeout).
 */
export const MARGIN_MS = 2_000;

/** What {@link outageUnderLoad} saw: every response, split by route, and when the outage was. */
export interface OutageRun {
  cached: Sample[];
  session: Sample[];
  /** Cached responses that were a 5xx or no answer. */
  cached5xx: Sample[];
  /** Session responses that were a 503. */
  refused: Sample[];
  slowestMs: number;
  /** Responses asked while Redis was down (between `begin` and `end`). */
  during: (s: { at: number }) => boolean;
  /** When the outage began, in ms since the load started. */
  beganAt: number;
  /** How long Redis was broken, `begin` to the end of `end`. */
  outageMs: number;
  /** From `end` to the first page-cache hit. */
  resumeMs: number;
}

/**
 * The kill/restart and pause scenarios' shared run: the storefront `shop` (from
 * {@link storefrontOn}) with a warm page cache, under 8 workers (6 on the cached routes, 2 on
 * the signed-in `/account/devices`); after 1 s `begin()` breaks Redis, after `holdMs` `end()`
 * mends it; then it waits for a page-cache hit, and for 500 ms more of load. `end()` also runs
 * if anything fails, so a paused server is never left paused.
 */
export async function outageUnderLoad(
  shop: { base: string; cookie: string },
  fault: { begin: () => unknown; end: () => unknown; holdMs: number; what: string },
): Promise<OutageRun> {
  for (const route of CACHED_ROUTES) await fetch(`${shop.base}${route}`);
  let done = false;
  let beganAt = 0;
  let endedAt = 0;
  let resumeMs = Number.NaN;
  const started = performance.now();
  const traffic = load({
    concurrency: 8,
    count: 50_000,
    maxMs: 30_000,
    stop: () => done,
    next: (i, worker) =>
      worker < 6
        ? { route: 'cached', url: `${shop.base}${CACHED_ROUTES[i % CACHED_ROUTES.length]}` }
        : {
            route: 'session',
            url: `${shop.base}/account/devices`,
            init: { headers: { cookie: shop.cookie } },
          },
  });
  let ended = false;
  try {
    await sleep(1_000);
    beganAt = performance.now() - started;
    await fault.begin();
    await sleep(fault.holdMs);
    ended = true;
    await fault.end();
    endedAt = performance.now() - started;
    resumeMs = await timeUntil(
      async () => isHit((await fetch(`${shop.base}/products/us`)).headers.get('cache-status')),
      `page-cache hits after the ${fault.what}`,
    );
    await sleep(500);
  } finally {
    if (!ended) await fault.end();
    done = true;
  }
  const samples = await traffic;
  const cached = samples.filter((s) => s.route === 'cached');
  const session = samples.filter((s) => s.route === 'session');
  return {
    cached,
    session,
    cached5xx: cached.filter((s) => s.status >= 500 || s.status === 0),
    refused: session.filter((s) => s.status === 503),
    slowestMs: Math.max(...samples.map((s) => s.ms)),
    during: (s) => s.at >= beganAt && s.at < endedAt,
    beganAt,
    outageMs: endedAt - beganAt,
    resumeMs,
  };
}
