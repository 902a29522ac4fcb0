/**
 * Runs the pub/sub conformance suite (`test/conformance/pubsub.suite.ts`) on the memory
 * driver, Redis standalone and Redis Cluster, through `createLarder` and `larder.pubsub`.
 */
import { createLarder } from '../../src/larder.js';
import type { PubSubFixture } from '../conformance/pubsub.suite.js';
import { runConformance, uniquePrefix } from '../support/conformance.js';
import '../conformance/pubsub.suite.js';

runConformance<PubSubFixture>(
  'pubsub',
  (target, url) => ({
    target,
    larder: createLarder({ redis: url ?? false, logger: false, pubsub: { streamMaxLen: 10 } }, {}),
    channel: (label = 'ch') => uniquePrefix(label),
  }),
  { close: (fixture) => fixture.larder.close() },
);
