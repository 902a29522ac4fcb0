/**
 * An `incr` whose sum overflows to ±Infinity is refused with LeaderboardError 'range' and
 * writes nothing, on every store: the memory store and the WRITE script always checked;
 * the Redis fast path (a plain ZINCRBY on an all-time board) stored Infinity, which then
 * listed as `score: null`. Run on memory, Redis standalone and Redis Cluster.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LeaderboardError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { allTargets, redisUrlFor, uniquePrefix } from '../support/conformance.js';

const MAX = Number.MAX_VALUE;
const isRange = (error: unknown) => error instanceof LeaderboardError && error.reason === 'range';

for (const target of allTargets) {
  describe(`leaderboard score overflow [${target}]`, () => {
    let larder: Larder;
    before(() => {
      larder = createLarder({ redis: redisUrlFor(target) ?? false, logger: false }, {});
    });
    after(() => larder.close());

    for (const window of [undefined, 'weekly'] as const) {
      const board = window ? `a ${window} board` : 'an all-time board';

      test(`on ${board}, an incr past MAX_VALUE is refused and the score stays`, async () => {
        const lb = larder.leaderboard(uniquePrefix('overflow'), window ? { window } : {});
        assert.equal(await lb.incr('whale', 1.7e308), 1.7e308);
        await assert.rejects(lb.incr('whale', 1.7e308), isRange);
        assert.equal(await lb.score('whale'), 1.7e308);
        assert.deepEqual(await lb.top(1), [{ member: 'whale', score: 1.7e308, rank: 1 }]);
        await lb.add('abyss', -MAX);
        await assert.rejects(lb.incr('abyss', -MAX), isRange);
        assert.equal(await lb.score('abyss'), -MAX);
      });

      test(`on ${board}, a delta too small to overflow leaves MAX_VALUE finite`, async () => {
        const lb = larder.leaderboard(uniquePrefix('overflow'), window ? { window } : {});
        await lb.add('top', MAX);
        // 1e291 is under half an ulp of MAX_VALUE (2^970): the sum rounds back to MAX_VALUE.
        assert.equal(await lb.incr('top', 1e291), MAX);
        await assert.rejects(lb.incr('top', 2 ** 970), isRange);
        assert.equal(await lb.score('top'), MAX);
      });
    }
  });
}
