/**
 * The dedicated fixed-window script (`FIXED_WINDOW`, src/ratelimit/redis.ts) held to the
 * general one (`CONSUME`) on real Redis, standalone and Cluster: on random sequences of
 * consumes (costs 1 to limit + 1, the limit changing between calls), peeks, windows that end
 * (DEL), counters that lose their TTL (PERSIST) or are left without one (a bare SET, from
 * negative to 2^40: the dedicated script packs small counts and TTLs into one integer and
 * answers the rest as the general one does), and TTLs that are cut short, two keys — one
 * driven by the store, which picks the dedicated script, one by the general script alone —
 * answer alike and hold alike: the same count, the TTL set when a window opens and never
 * extended by a hit, nothing written by a refusal.
 *
 * Windows last an hour or 60 days (a TTL past 2^32 ms), so none ends by itself while a
 * sequence runs: the two keys then stay in step, and every comparison is exact. `resetAfter` is a TTL read on the server's clock
 * inside the script: it must lie between the key's PTTL read just before the call and just
 * after it (an order on one clock, not a timing bound).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createLarder, type Larder } from '../../src/larder.js';
import { RateLimiter } from '../../src/ratelimit/limiter.js';
import { CONSUME, consumeRules, FIXED_WINDOW, redisRateLimitStore } from '../../src/ratelimit/redis.js';
import type { RateLimitStore, Rule, RuleOutcome } from '../../src/ratelimit/store.js';
import type { RedisConnection } from '../../src/redis/connection.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

const HOUR = 3_600_000;
const WINDOWS = [HOUR, 60 * 24 * HOUR];

const fixedRule = (limit: number, window = HOUR): Rule => ({
  name: 'r',
  limit,
  window,
  algorithm: 'fixed-window',
  burst: limit,
});

type Step =
  | { kind: 'consume' | 'peek'; limit: number; window: number; cost: number }
  | { kind: 'end' | 'persist' }
  | { kind: 'bare'; count: number }
  | { kind: 'shorten'; ttl: number };

const LIMITS = [1, 3, 5, 8];

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.constantFrom(...LIMITS).chain((limit) =>
      fc.record({
        kind: fc.constant('consume' as const),
        limit: fc.constant(limit),
        window: fc.constantFrom(...WINDOWS),
        cost: fc.integer({ min: 1, max: limit + 1 }),
      }),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(...LIMITS).chain((limit) =>
      fc.record({
        kind: fc.constant('peek' as const),
        limit: fc.constant(limit),
        window: fc.constantFrom(...WINDOWS),
        cost: fc.integer({ min: 1, max: limit }),
      }),
    ),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'end' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'persist' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bare' as const),
      count: fc.oneof(fc.integer({ min: -3, max: 12 }), fc.constantFrom(2 ** 20 - 1, 2 ** 20, 2 ** 40)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('shorten' as const),
      ttl: fc.integer({ min: 60_000, max: HOUR }),
    }),
  },
);

/** What one key holds: its count (or null) and its absolute expiry (-1: none, -2: no key). */
async function held(conn: RedisConnection, key: string): Promise<[string | null, number]> {
  const value = await conn.send<string | null>(['GET', key], { key });
  const expiry = await conn.send<number>(['PEXPIRETIME', key], { key });
  return [value, Number(expiry)];
}

const pttl = async (conn: RedisConnection, key: string) =>
  Number(await conn.send<number>(['PTTL', key], { key }));

/** Checks one answer against the key it came from: the TTL it reports is the key's own. */
function checkTimes(
  outcome: RuleOutcome,
  window: number,
  before: number,
  after: number,
  label: string,
): void {
  assert.equal(outcome.retryAfter, outcome.allowed ? 0 : outcome.resetAfter, `${label}: retryAfter`);
  if (before <= 0) {
    assert.equal(outcome.resetAfter, window, `${label}: no window was open, so a whole one`);
  } else {
    assert.ok(
      before >= outcome.resetAfter && outcome.resetAfter >= after && after > 0,
      `${label}: resetAfter ${outcome.resetAfter} is the key's TTL (PTTL ${before} before, ${after} after)`,
    );
  }
}

for (const target of ['standalone', 'cluster'] as const) {
  describe(`fixed-window: the dedicated script answers as the general one [${target}]`, () => {
    let larder: Larder;
    let conn: RedisConnection;
    let store: RateLimitStore;
    before(() => {
      larder = createLarder({ redis: redisUrlFor(target), logger: false }, {});
      conn = larder.connection();
      store = redisRateLimitStore({ connection: conn });
    });
    after(() => larder.close());

    it('on random sequences of consumes, peeks and outside changes, answers and state agree', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
          const tag = uniquePrefix('fw');
          const fast = `rl:{${tag}}:fast`;
          const general = `rl:{${tag}}:general`;
          try {
            for (const [i, s] of steps.entries()) {
              const label = `step ${i} ${JSON.stringify(s)}`;
              switch (s.kind) {
                case 'consume':
                case 'peek': {
                  const rule = fixedRule(s.limit, s.window);
                  const peek = s.kind === 'peek';
                  const heldBefore = await held(conn, fast);
                  const beforeFast = await pttl(conn, fast);
                  const [a] = await store.consume([fast], [rule], s.cost, peek);
                  const afterFast = await pttl(conn, fast);
                  const beforeGeneral = await pttl(conn, general);
                  const [b] = await consumeRules(conn, [general], [rule], s.cost, peek);
                  const afterGeneral = await pttl(conn, general);
                  assert.deepEqual(
                    [a.allowed, a.remaining],
                    [b.allowed, b.remaining],
                    `${label}: allowed and remaining`,
                  );
                  checkTimes(a, s.window, beforeFast, afterFast, `${label} (dedicated)`);
                  checkTimes(b, s.window, beforeGeneral, afterGeneral, `${label} (general)`);
                  const heldAfter = await held(conn, fast);
                  if (peek || !a.allowed) {
                    assert.deepEqual(heldAfter, heldBefore, `${label}: nothing written`);
                  } else if (beforeFast > 0) {
                    assert.equal(heldAfter[1], heldBefore[1], `${label}: the TTL is not extended by a hit`);
                    assert.equal(Number(heldAfter[0]), Number(heldBefore[0]) + s.cost, `${label}: the count`);
                  } else {
                    assert.equal(heldAfter[0], String(s.cost), `${label}: a new window counts the cost`);
                    assert.ok(heldAfter[1] > 0, `${label}: and has its TTL from the start`);
                  }
                  break;
                }
                case 'end':
                  await conn.send(['DEL', fast, general], { key: fast });
                  break;
                case 'persist':
                  await conn.send(['PERSIST', fast], { key: fast });
                  await conn.send(['PERSIST', general], { key: general });
                  break;
                case 'bare':
                  await conn.send(['SET', fast, String(s.count)], { key: fast });
                  await conn.send(['SET', general, String(s.count)], { key: general });
                  break;
                case 'shorten':
                  await conn.send(['PEXPIRE', fast, String(s.ttl)], { key: fast });
                  await conn.send(['PEXPIRE', general, String(s.ttl)], { key: general });
                  break;
              }
              const [fastCount, fastExpiry] = await held(conn, fast);
              const [generalCount, generalExpiry] = await held(conn, general);
              assert.equal(fastCount, generalCount, `${label}: the same count`);
              assert.equal(fastExpiry > 0, generalExpiry > 0, `${label}: both have a TTL, or neither`);
              assert.equal(fastExpiry === -2, generalExpiry === -2, `${label}: both exist, or neither`);
            }
          } finally {
            await conn.send(['DEL', fast, general], { key: fast });
          }
        }),
        { numRuns: 40 },
      );
    });

    it('a single fixed-window consume runs the dedicated script; everything else the general one', async () => {
      // The real connection, with every command sent recorded: which script ran, by SHA1.
      const sent: string[] = [];
      const recording = Object.create(conn) as RedisConnection;
      recording.send = (args, options) => {
        if (String(args[0]).startsWith('EVAL')) sent.push(String(args[1]));
        return conn.send(args, options);
      };
      const name = uniquePrefix('fw-route');
      const limiter = (rules: Rule[]) =>
        new RateLimiter({
          name,
          rules,
          store: redisRateLimitStore({ connection: recording }),
          insurance: false,
        });
      const one = limiter([fixedRule(5)]);
      const expect = async (label: string, call: () => Promise<unknown>, script: { sha1: string }) => {
        sent.length = 0;
        await call();
        assert.deepEqual(sent, [script.sha1], label);
      };
      await expect('consume, cost 1', () => one.consume('s'), FIXED_WINDOW);
      await expect('consume, cost 4', () => one.consume('s', { cost: 4 }), FIXED_WINDOW);
      await expect('consume, refused', () => one.consume('s', { cost: 5 }), FIXED_WINDOW);
      await expect('peek', () => one.peek('s'), CONSUME);
      const store = redisRateLimitStore({ connection: recording });
      const key = `rl:{${name}}:above`;
      await expect('a cost above the limit', () => store.consume([key], [fixedRule(2)], 3, false), CONSUME);
      const two = limiter([fixedRule(5), { ...fixedRule(50), name: 'long' }]);
      await expect('two rules', () => two.consume('s'), CONSUME);
      for (const algorithm of ['sliding-window', 'token-bucket'] as const) {
        const other = new RateLimiter({
          name: `${name}-${algorithm}`,
          rules: [{ ...fixedRule(5), algorithm }],
          store: redisRateLimitStore({ connection: recording }),
          insurance: false,
        });
        await expect(algorithm, () => other.consume('s'), CONSUME);
      }
      await one.reset('s');
      await two.reset('s');
    });
  });
}
