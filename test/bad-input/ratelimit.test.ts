/**
 * Bad input to rate limiting (issue 12), on memory and Redis standalone: any key (empty,
 * huge, unicode, glob and hash-tag characters, prototype names) and any cost (NaN, negative,
 * fractional, over the limit, not a number) gives a typed refusal or exact counting — checked
 * against a model and read back with `peek` — and any limiter spec gives a ConfigError or a
 * limiter. test/ratelimit/ratelimit-property.test.ts checks the algorithms' arithmetic on
 * well-formed input; this checks what reaches them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigError, RateLimitUsageError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import type { RateLimiter } from '../../src/ratelimit/limiter.js';
import { redisUrlFor, type Target, uniquePrefix } from '../support/conformance.js';
import { assertTyped, hostileString } from './support.js';

const LIMIT = 25;
const RUNS: Record<Target, number> = { memory: 2000, standalone: 1000, cluster: 0 };

/** What the limiter refuses up front: a RateLimitUsageError (HTTP 400) naming the limiter. */
function assertArgumentError(error: unknown, name: string): void {
  assert.ok(error instanceof RateLimitUsageError, `untyped: ${String((error as Error)?.stack ?? error)}`);
  assert.equal(error.status, 400);
  assert.ok(error.message.startsWith(`rateLimiter('${name}')`), error.message);
}

/** Keys: hostile strings that UTF-8 can hold (lone surrogates are refused: see the last case), and huge ones. */
const keyArb = fc.oneof(
  { weight: 4, arbitrary: hostileString(2_000).filter((k) => k.isWellFormed()) },
  { weight: 2, arbitrary: fc.constantFrom('ip:1', 'user:é', '{tag}', '}', '*', 'a:b:c', '__proto__') },
  { weight: 1, arbitrary: fc.integer({ min: 10_000, max: 100_000 }).map((n) => 'k'.repeat(n)) },
);

const costArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 4 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      0,
      -1,
      1.5,
      Number.NaN,
      Infinity,
      -Infinity,
      LIMIT + 1,
      2 ** 53,
      '1',
      null,
      true,
      {},
    ) as fc.Arbitrary<number>,
  },
  { weight: 1, arbitrary: fc.constant(undefined as unknown as number) },
);

for (const target of ['memory', 'standalone'] as Target[]) {
  describe(`bad input: rate-limit keys, costs and specs [${target}]`, () => {
    let larder: Larder;
    let limiter: RateLimiter;
    before(() => {
      const url = redisUrlFor(target);
      larder = createLarder(
        {
          logger: false,
          redis: url ?? false,
          // A window far longer than the test: the model never sees a window close.
          rateLimits: { bad: { limit: LIMIT, window: '2h' } },
        },
        {},
      );
      limiter = larder.rateLimiter({
        name: uniquePrefix('bad').replace(/-/g, '_'),
        limit: LIMIT,
        window: '2h',
      });
    });
    after(() => larder.close());

    it('consume and peek: a typed refusal, or the count a model keeps, read back with peek', async () => {
      const used = new Map<string, number>();
      const seen = { allowed: 0, refusedByLimit: 0, argumentErrors: 0 };
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(keyArb, costArb, fc.boolean()), { minLength: 1, maxLength: 5 }),
          async (ops) => {
            for (const [key, cost, peek] of ops) {
              const options = cost === undefined ? {} : { cost };
              // `null` and `undefined` mean the default cost, 1.
              const effective = cost ?? 1;
              let result: Awaited<ReturnType<RateLimiter['consume']>>;
              try {
                result = await (peek ? limiter.peek(key, options) : limiter.consume(key, options));
              } catch (error) {
                assertArgumentError(error, limiter.name);
                const validCost = Number.isSafeInteger(effective) && effective >= 1 && effective <= LIMIT;
                assert.ok(
                  key === '' || !validCost,
                  `refused a valid call (${JSON.stringify(key.slice(0, 40))}, ${String(cost)})`,
                );
                seen.argumentErrors++;
                continue;
              }
              assert.notEqual(key, '', 'an empty key was accepted');
              assert.ok(
                Number.isSafeInteger(effective) && effective >= 1 && effective <= LIMIT,
                `accepted cost ${String(cost)}`,
              );
              const before = used.get(key) ?? 0;
              const allowed = before + effective <= LIMIT;
              assert.equal(
                result.allowed,
                allowed,
                `${JSON.stringify(key.slice(0, 40))}: ${before} used, cost ${effective}`,
              );
              assert.equal(result.remaining, LIMIT - before - (allowed ? effective : 0));
              if (allowed && !peek) used.set(key, before + effective);
              if (allowed) seen.allowed++;
              else seen.refusedByLimit++;
              // Read back: what is counted for the key now.
              const now = used.get(key) ?? 0;
              const back = await limiter.peek(key);
              assert.equal(
                back.remaining,
                now + 1 <= LIMIT ? LIMIT - now - 1 : LIMIT - now,
                'peek reads the count back',
              );
            }
          },
        ),
        { numRuns: RUNS[target] },
      );
      assert.ok(
        seen.allowed > 100 && seen.refusedByLimit > 10 && seen.argumentErrors > 100,
        JSON.stringify(seen),
      );
      // Healthy: a fresh key counts from the start, a known one still has its count.
      const [known, count] = [...used].find(([, n]) => n > 0)!;
      assert.equal((await limiter.peek(known)).remaining, Math.max(0, LIMIT - count - 1));
      assert.equal((await limiter.consume(uniquePrefix('fresh'))).remaining, LIMIT - 1);
    });

    it('reset with a bad key is a typed refusal; with a good one the count starts again', async () => {
      await fc.assert(
        fc.asyncProperty(keyArb, async (key) => {
          try {
            await limiter.reset(key);
          } catch (error) {
            assertArgumentError(error, limiter.name);
            assert.equal(key, '');
            return;
          }
          assert.equal((await limiter.peek(key)).remaining, LIMIT - 1);
        }),
        { numRuns: Math.round(RUNS[target] / 4) },
      );
    });

    it('any limiter spec: a ConfigError naming a path, or a limiter that counts', async () => {
      const spec = fc.oneof(
        hostileString(30),
        fc.constantFrom('bad', ['bad'], ['bad', 'bad'], [], null, 5, {}, ['bad', {}], [null]),
        fc.record(
          {
            name: fc.oneof(fc.constantFrom('ok_name', 'a.b-c'), hostileString(70)),
            limit: fc.oneof(fc.integer({ min: -2, max: 50 }), fc.constantFrom(1.5, Number.NaN, '5', null)),
            window: fc.oneof(
              fc.constantFrom('1h', 3600, '2h'),
              fc.constantFrom(0, -1, 'x', null, Number.NaN),
            ),
            algorithm: fc.constantFrom('fixed-window', 'sliding-window', 'token-bucket', 'leaky', ''),
            burst: fc.oneof(fc.integer({ min: -1, max: 50 }), fc.constant(1.5)),
          },
          { requiredKeys: [] },
        ),
      );
      let built = 0;
      await fc.assert(
        fc.asyncProperty(spec, async (input) => {
          let made: RateLimiter;
          try {
            made = larder.rateLimiter(input as never);
          } catch (error) {
            assertTyped(error, [ConfigError]);
            assert.equal(typeof (error as ConfigError).path, 'string');
            return;
          }
          built++;
          const key = uniquePrefix('spec');
          const first = await made.consume(key);
          assert.equal(first.allowed, true);
          assert.equal((await made.peek(key)).remaining, Math.max(0, first.remaining - 1));
        }),
        { numRuns: Math.round(RUNS[target] / 2) },
      );
      assert.ok(built > 10, `only ${built} specs built a limiter`);
    });

    it('a key with a lone surrogate is refused before anything is counted', async () => {
      // UTF-8 cannot hold a lone surrogate: on Redis '\ud800' and '\ud801' would both become U+FFFD
      // and share one counter, so the limiter refuses them (RateLimitUsageError, HTTP 400).
      const base = uniquePrefix('surrogate');
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0xd800, max: 0xdfff }), async (unit) => {
          const key = `${base}${String.fromCharCode(unit)}`;
          await assert.rejects(limiter.consume(key, { cost: 5 }), (error: unknown) => {
            assertArgumentError(error, limiter.name);
            assert.match((error as Error).message, /lone UTF-16 surrogate/);
            return true;
          });
        }),
        { numRuns: 50 },
      );
      assert.equal((await limiter.peek(`${base}\ufffd`)).remaining, LIMIT - 1, 'nothing was counted');
    });
  });
}
