/**
 * Exactness under concurrency (DESIGN §4.4: "exact under any concurrency"): 2,000 consumes
 * fired at once from four Larder instances — four connections — on one subject with a limit
 * of 100 let exactly 100 through, for every algorithm, on Redis standalone and Cluster. The
 * Lua call checks and consumes in one step, so no two callers see the same count.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLarder, type Larder } from '../../src/larder.js';
import type { RateLimiterSpec, RateLimitResult } from '../../src/ratelimit/index.js';
import type { Algorithm } from '../../src/ratelimit/store.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

const ALGORITHMS: readonly Algorithm[] = ['fixed-window', 'sliding-window', 'token-bucket'];
const CALLS = 2_000;
const LIMIT = 100;
const INSTANCES = 4;
// An hour: no window boundary (sliding windows are epoch-aligned) and no GCRA refill (one
// token per 36 s) can fall inside a burst that lasts well under a second.
const WINDOW = 3600;

for (const target of ['standalone', 'cluster'] as const) {
  describe(`exactness under concurrency [${target}]`, () => {
    const larders: Larder[] = [];
    before(() => {
      const url = redisUrlFor(target);
      for (let i = 0; i < INSTANCES; i++) larders.push(createLarder({ redis: url, logger: false }, {}));
    });
    after(async () => {
      for (const larder of larders) await larder.close();
    });

    /** The same limiter (same name, same keys) on every instance; Redis errors fail the test. */
    const limiters = (spec: Omit<RateLimiterSpec, 'name'>) => {
      const name = uniquePrefix('exact');
      return larders.map((larder) => larder.rateLimiter({ ...spec, name, insurance: false }));
    };

    /** Fires every call before awaiting any, spread over the instances. */
    const burst = (
      all: ReturnType<typeof limiters>,
      cost: (i: number) => number = () => 1,
    ): Promise<RateLimitResult[]> =>
      Promise.all(
        Array.from({ length: CALLS }, (_, i) => all[i % INSTANCES].consume('subject', { cost: cost(i) })),
      );

    for (const algorithm of ALGORITHMS) {
      it(`${algorithm}: ${CALLS} concurrent consumes from ${INSTANCES} connections on limit ${LIMIT} → exactly ${LIMIT} allowed`, async () => {
        // For GCRA: burst 100 (the default, = limit) over a long window.
        const all = limiters({ limit: LIMIT, window: WINDOW, algorithm });
        const results = await burst(all);
        const allowed = results.filter((r) => r.allowed);
        assert.equal(allowed.length, LIMIT, `allowed ${allowed.length} of ${CALLS}`);
        assert.ok(
          results.every((r) => !r.degraded),
          'every answer came from Redis',
        );
        // Each allowed call saw a count of its own: the remainings are 99, 98, …, 0, once each.
        assert.deepEqual(
          allowed.map((r) => r.remaining).sort((a, b) => b - a),
          Array.from({ length: LIMIT }, (_, i) => LIMIT - 1 - i),
        );
        assert.ok(results.filter((r) => !r.allowed).every((r) => r.retryAfter > 0 && r.remaining === 0));
        const peek = await all[0].peek('subject');
        assert.deepEqual([peek.allowed, peek.remaining], [false, 0], 'and the limit is spent');
        if (algorithm === 'fixed-window') {
          const key = `rl:{subject}:${all[0].name}:${all[0].name}:f`;
          const count = await larders[0].connection().send<string>(['GET', key], { key });
          assert.equal(count, String(LIMIT), 'the counter holds exactly the allowed calls');
        }
      });

      it(`${algorithm}: mixed costs 1–3 from ${INSTANCES} connections use exactly ${LIMIT} units`, async () => {
        const all = limiters({ limit: LIMIT, window: WINDOW, algorithm });
        const cost = (i: number) => 1 + (i % 3);
        const results = await burst(all, cost);
        const used = results.reduce((sum, r, i) => sum + (r.allowed ? cost(i) : 0), 0);
        // Two thirds of the calls cost 2 or 3, but 667 cost 1: while a unit was left a
        // cost-1 call took it, so the limit ends exactly spent and never over.
        assert.equal(used, LIMIT, `units allowed: ${used}`);
        assert.equal((await all[1].peek('subject')).remaining, 0);
      });
    }

    it(`several rules: ${CALLS} concurrent consumes take exactly ${LIMIT} from each rule, all or nothing`, async () => {
      const rules = [
        { name: 'tight', limit: LIMIT, window: WINDOW },
        { name: 'loose', limit: 150, window: WINDOW, algorithm: 'token-bucket' as const },
        { name: 'sliding', limit: 120, window: WINDOW, algorithm: 'sliding-window' as const },
      ];
      const all = limiters({ rules });
      const results = await burst(all);
      assert.equal(results.filter((r) => r.allowed).length, LIMIT);
      // Limiters of the same name with one rule each read the rules' own state.
      const name = all[0].name;
      for (const [rule, left] of [
        [rules[1], 150 - LIMIT],
        [rules[2], 120 - LIMIT],
      ] as const) {
        const alone = larders[2].rateLimiter({ name, rules: [rule], insurance: false });
        const peek = await alone.peek('subject');
        assert.equal(peek.remaining, left - 1, `${rule.name}: consumed only by the ${LIMIT} allowed calls`);
      }
    });
  });
}
