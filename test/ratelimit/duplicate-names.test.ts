/**
 * Regression (review finding 6): `larder.rateLimiter(['api', 'api'])` is a `ConfigError`, as
 * two rules of one name are in a limiter given in code. Before, it was accepted: both rules had
 * one key, which Redis consumed twice per call (INCRBY twice) and memory once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { createRateLimit } from '../../src/http/ratelimit.js';
import { createLarder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

for (const target of ['memory', 'standalone'] as const) {
  describe(`configured limit names checked together are distinct (${target})`, () => {
    test('a name given twice is a ConfigError naming it; distinct names still combine', async () => {
      const name = uniquePrefix('dup');
      const larder = createLarder(
        {
          redis: redisUrlFor(target) ?? false,
          logger: false,
          rateLimits: { [name]: { limit: 10, window: 60 }, [`${name}-b`]: { limit: 5, window: 60 } },
        },
        {},
      );
      try {
        for (const names of [
          [name, name],
          [name, `${name}-b`, name],
        ]) {
          assert.throws(
            () => larder.rateLimiter(names),
            (error: unknown) =>
              error instanceof ConfigError &&
              error.path === 'rateLimiter' &&
              error.message.includes(`'${name}' is named twice`),
          );
        }
        assert.throws(() => createRateLimit(larder, [name, name]), ConfigError, 'and so is web.rateLimit');
        const both = larder.rateLimiter([name, `${name}-b`]);
        const remaining: number[] = [];
        for (let i = 0; i < 3; i++) remaining.push((await both.consume('user:1')).rules[0].remaining);
        assert.deepEqual(remaining, [9, 8, 7], 'each distinct limit counts once per call');
      } finally {
        await larder.close();
      }
    });
  });
}
