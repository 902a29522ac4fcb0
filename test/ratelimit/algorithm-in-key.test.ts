/**
 * Regression (review finding 2): the algorithm is part of every rule key (`…:<rule>:f|s|g`).
 * Before, a rule whose algorithm changed between deploys (or two limiters of one name) read
 * the other algorithm's state under the same key: on Redis a sliding-window hash read by the
 * fixed-window script failed with WRONGTYPE (a 500), and a GCRA timestamp read as a count
 * answered `remaining: -1.8e12`; in memory the two overwrote each other's state.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLarder } from '../../src/larder.js';
import type { Algorithm } from '../../src/ratelimit/index.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

const ALGORITHMS: readonly Algorithm[] = ['fixed-window', 'sliding-window', 'token-bucket'];

for (const target of ['memory', 'standalone', 'cluster'] as const) {
  describe(`a rule's algorithm is part of its key (${target})`, () => {
    for (const before of ALGORITHMS) {
      for (const after of ALGORITHMS) {
        if (before === after) continue;
        test(`${before} then ${after} under one name: each keeps a count of its own`, async () => {
          // One Larder: in memory its limiters share one store, as on Redis they share the server.
          const larder = createLarder({ redis: redisUrlFor(target) ?? false, logger: false }, {});
          try {
            const name = uniquePrefix('switch');
            const spec = { name, limit: 10, window: 60 };
            const old = larder.rateLimiter({ ...spec, algorithm: before });
            const next = larder.rateLimiter({ ...spec, algorithm: after });
            for (let i = 0; i < 3; i++) await old.consume('user:1');

            const first = await next.consume('user:1');
            assert.deepEqual(
              [first.allowed, first.remaining, first.retryAfter],
              [true, 9, 0],
              'the new algorithm starts afresh',
            );
            const again = await old.consume('user:1');
            assert.deepEqual([again.allowed, again.remaining], [true, 6], 'the old count is untouched');
            const peeked = await next.peek('user:1');
            assert.deepEqual([peeked.allowed, peeked.remaining], [true, 8], 'and the new one too');
          } finally {
            await larder.close();
          }
        });
      }
    }
  });
}
