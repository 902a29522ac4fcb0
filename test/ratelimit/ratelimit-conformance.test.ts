/**
 * Runs the rate-limit conformance suite (`test/conformance/ratelimit.suite.ts`) on the memory
 * store (on a fake clock), Redis standalone and Redis Cluster (on the server's clock),
 * through `createLarder` and `larder.rateLimiter` as an application would.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createLarder, type Larder } from '../../src/larder.js';
import { memoryRateLimitStore, RateLimiter } from '../../src/ratelimit/index.js';
import {
  type LimiterSpecForTests,
  type RateLimitFixture,
  SLOT_CASE,
} from '../conformance/ratelimit.suite.js';
import { runConformance, type Target, uniquePrefix } from '../support/conformance.js';
import '../conformance/ratelimit.suite.js';

function build(target: Target, url: string | undefined): RateLimitFixture {
  const larder: Larder = createLarder({ redis: url ?? false, logger: false }, {});
  const name = (spec: LimiterSpecForTests) => spec.name ?? uniquePrefix('rl');

  if (target === 'memory') {
    // Any start will do; an odd one keeps the epoch-aligned sliding windows honest.
    let clock = 1_700_000_000_123;
    const now = () => clock;
    // `rateLimiter({ now })` gives each limiter a store of its own; limiters of one name must
    // share state as they do on Redis, so each is rebuilt on one store on the same clock.
    const store = memoryRateLimitStore({ now });
    return {
      target,
      larder,
      exact: true,
      limiter: (spec) => {
        const built = larder.rateLimiter({ ...spec, name: name(spec), now });
        return new RateLimiter({ name: built.name, rules: [...built.rules], store });
      },
      now: async () => clock,
      advance: async (ms) => {
        clock += ms;
      },
      pttl: async () => undefined,
      exists: async () => undefined,
    };
  }

  const conn = larder.connection();
  const serverNow = async () => {
    const [seconds, micros] = await conn.send<[string, string]>(['TIME']);
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  };
  return {
    target,
    larder,
    exact: false,
    // No insurance limiter: a Redis failure must fail the case, not be answered from memory.
    limiter: (spec) => larder.rateLimiter({ ...spec, name: name(spec), insurance: false, failOpen: false }),
    now: serverNow,
    advance: async (ms) => {
      const until = (await serverNow()) + ms;
      await sleep(Math.max(0, ms));
      while ((await serverNow()) < until) await sleep(1);
    },
    pttl: (key) => conn.send<number>(['PTTL', key], { key }),
    exists: async (key) => (await conn.send<number>(['EXISTS', key], { key })) === 1,
  };
}

runConformance<RateLimitFixture>('ratelimit', build, {
  close: (fixture) => fixture.larder.close(),
  exclude: (target) =>
    target === 'memory'
      ? {
          [SLOT_CASE]:
            'the memory store keeps no Redis keys; their names and slots are checked on standalone and Cluster',
        }
      : undefined,
});
