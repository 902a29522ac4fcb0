/**
 * @module One conformance suite per contract, run against every driver and topology (memory, Redis
 * standalone, Redis Cluster). A driver that cannot meet a case lists it with a reason; the case stays
 * visible as a passing test named `excluded: <reason>` — never skipped, never silently dropped.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it as nodeIt, type TestContext, type TestOptions } from 'node:test';

/** Where a driver under test keeps its data. */
export type Target = 'memory' | 'standalone' | 'cluster';

/** Every target, in the order suites run against them. */
export const allTargets: readonly Target[] = ['memory', 'standalone', 'cluster'];

const URL_ENV = { standalone: 'LARDER_TEST_REDIS_URL', cluster: 'LARDER_TEST_CLUSTER_URL' } as const;

/**
 * The URL of the shared Redis server for `target` (`undefined` for memory). Throws when the
 * variable is missing: Redis tests never skip, they need the servers `npm test` starts.
 * @example const url = redisUrlFor('cluster'); // 'redis+cluster://127.0.0.1:30001,...'
 */
export function redisUrlFor(target: Target): string | undefined {
  if (target === 'memory') return undefined;
  const name = URL_ENV[target];
  const url = process.env[name];
  if (!url) {
    throw new Error(
      `${name} is not set, so the ${target} conformance target has no Redis server. Run the tests through ` +
        '`npm test` (add a file filter: `npm test -- <part of a file name>`), which starts the shared servers.',
    );
  }
  return url;
}

/** What a suite body sees: the driver (available inside tests and hooks), the target and its URL. */
export interface SuiteContext<D> {
  /** The driver under test; throws if called outside a test or hook (it is created in `before`). */
  driver: () => D;
  target: Target;
  url?: string;
}

/** Case name → why this driver cannot meet it. */
export type Exclusions = Record<string, string>;

/** Options of `runConformance`. */
export interface ConformanceOptions<D> {
  /** @default allTargets */
  targets?: Target[];
  /** Closes the driver after the suite has run against one target. */
  close?: (driver: D) => Promise<void> | void;
  /** Cases this driver cannot meet, with the reason; a function may exclude per target. */
  exclude?: Exclusions | ((target: Target) => Exclusions | undefined);
}

type SuiteBody = (ctx: SuiteContext<any>) => void;

const suites = new Map<string, SuiteBody>();

interface ExclusionFrame {
  exclude: Exclusions;
  used: Set<string>;
}

// Suite bodies run synchronously inside describe(), so the innermost frame is the running suite's.
const frames: ExclusionFrame[] = [];

/**
 * Registers a conformance suite; its cases use `it`/`test` from this module so exclusions apply.
 * @example
 * defineSuite<CacheBackend>('cache', ({ driver }) => {
 *   it('get returns undefined on a miss', async () => assert.equal(await driver().get('nope'), undefined));
 * });
 */
export function defineSuite<D>(name: string, body: (ctx: SuiteContext<D>) => void): void {
  if (suites.has(name)) throw new Error(`conformance suite "${name}" is defined twice`);
  suites.set(name, body as SuiteBody);
}

type CaseFn = (t: TestContext) => void | Promise<void>;

/**
 * A conformance case: node:test's `it`, unless the running driver excludes it by name.
 * @example it('incr is atomic', async () => { ... });
 */
export function it(name: string, fn: CaseFn): void;
export function it(name: string, options: TestOptions, fn: CaseFn): void;
export function it(name: string, optionsOrFn: TestOptions | CaseFn, maybeFn?: CaseFn): void {
  const frame = frames.at(-1);
  if (frame && Object.hasOwn(frame.exclude, name)) {
    frame.used.add(name);
    registerExcluded(name, frame.exclude[name]);
    return;
  }
  if (typeof optionsOrFn === 'function') nodeIt(name, optionsOrFn);
  else nodeIt(name, optionsOrFn, maybeFn);
}

/** Alias of `it`. */
export const test = it;

function registerExcluded(name: string, reason: string): void {
  nodeIt(`${name} — excluded: ${reason}`, (t) => {
    assert.ok(
      typeof reason === 'string' && reason.trim().length > 0,
      `exclusion of "${name}" must give a reason`,
    );
    t.diagnostic(`excluded "${name}": ${reason}`);
  });
}

function exclusionsFor<D>(opts: ConformanceOptions<D>, target: Target): Exclusions {
  const exclude = typeof opts.exclude === 'function' ? opts.exclude(target) : opts.exclude;
  return exclude ?? {};
}

function runBody(body: SuiteBody, ctx: SuiteContext<unknown>, exclude: Exclusions): void {
  const frame: ExclusionFrame = { exclude, used: new Set() };
  frames.push(frame);
  try {
    body(ctx);
  } finally {
    frames.pop();
  }
  // A typo in an exclusion would otherwise leave a case running that was meant to be excluded, or hide a rename.
  for (const name of Object.keys(exclude).filter((n) => !frame.used.has(n))) {
    nodeIt(`exclusion "${name}" names a case this suite does not have`, () => {
      assert.fail(`remove or rename the exclusion "${name}": the suite has no case with that name`);
    });
  }
}

/**
 * Runs a registered suite once per target: the driver is made in `before`, closed in `after`.
 * @example
 * runConformance('cache', (target, url) => makeBackend(target, url, uniquePrefix('cache')), {
 *   close: (backend) => backend.close(),
 *   exclude: { 'ttl is exact to the millisecond': 'the memory clock ticks in ms, Redis rounds' },
 * });
 */
export function runConformance<D>(
  suiteName: string,
  makeDriver: (target: Target, url: string | undefined) => Promise<D> | D,
  opts: ConformanceOptions<D> = {},
): void {
  const body = suites.get(suiteName);
  if (!body) {
    const known = [...suites.keys()].join(', ') || 'none';
    throw new Error(
      `no conformance suite "${suiteName}" (defined: ${known}); import the suite's module first`,
    );
  }
  for (const target of opts.targets ?? allTargets) {
    describe(`${suiteName} [${target}]`, () => {
      const url = redisUrlFor(target);
      let driver: { value: D } | undefined;
      before(async () => {
        driver = { value: await makeDriver(target, url) };
      });
      after(async () => {
        if (driver && opts.close) await opts.close(driver.value);
      });
      const ctx: SuiteContext<D> = {
        target,
        url,
        driver: () => {
          if (!driver) throw new Error(`the ${suiteName} driver exists only inside tests and hooks`);
          return driver.value;
        },
      };
      runBody(body, ctx, exclusionsFor(opts, target));
    });
  }
}

/**
 * A short random prefix (`label-1a2b3c4d`) so suites sharing one Redis server never collide; the
 * label is reduced to `[A-Za-z0-9_-]`, so it can hold no `{` hash tag or `:` separator.
 * @example const prefix = uniquePrefix('sessions'); // 'sessions-9f86d081'
 */
export function uniquePrefix(label: string): string {
  return `${label.replace(/[^\w-]/g, '-')}-${randomBytes(4).toString('hex')}`;
}

/** Isolation helpers for suites that share one server. */
export const isolation = { uniquePrefix };
