/**
 * Runs the leaderboard conformance suite (`test/conformance/leaderboard.suite.ts`) on the
 * memory store, Redis standalone and Redis Cluster, through `createLarder` and
 * `larder.leaderboard` as an application would, on the suite's controllable clock.
 */
import { createLarder } from '../../src/larder.js';
import { type LeaderboardFixture, SLOT_CASE, START } from '../conformance/leaderboard.suite.js';
import { runConformance, type Target, uniquePrefix } from '../support/conformance.js';
import '../conformance/leaderboard.suite.js';

function build(target: Target, url: string | undefined): LeaderboardFixture {
  const larder = createLarder({ redis: url ?? false, logger: false }, {});
  let clock = START;
  const now = () => clock;
  const redis = target === 'memory' ? undefined : larder.connection();
  return {
    target,
    larder,
    exact: target === 'memory',
    board: ({ name, ...options } = {}) => larder.leaderboard(name ?? uniquePrefix('lb'), { now, ...options }),
    now,
    set: (t) => {
      clock = t;
    },
    expireTime: async (key) => redis && Number(await redis.send(['PEXPIRETIME', key], { key })),
    exists: async (key) => redis && (await redis.send<number>(['EXISTS', key], { key })) === 1,
  };
}

runConformance<LeaderboardFixture>('leaderboard', build, {
  close: (fixture) => fixture.larder.close(),
  exclude: (target) =>
    target === 'memory'
      ? { [SLOT_CASE]: 'the memory store keeps no Redis keys; their names and slots are checked on Redis' }
      : undefined,
});
