/**
 * Regression: on Cluster, a tiered cache's tracking sockets (one per primary) reported
 * `required: true` and `usedBy: []` in `larder.health()` — their per-primary locations are
 * named by no configured capability — so with `ignoreErrors` on, one primary down made the
 * report `down` (the health route answers 503) while the cache degrades by design and its
 * command connection was rightly optional.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLarder } from '../../src/larder.js';
import { redisUrlFor } from '../support/conformance.js';

test('tracking sockets of an ignoreErrors tiered cache on Cluster are optional, as the cache is', async () => {
  const larder = createLarder({
    caches: { default: { backend: 'tiered', location: redisUrlFor('cluster')!, ignoreErrors: true } },
    logger: false,
  });
  try {
    await larder.cache().set('health-tracking:k', 1);
    assert.equal(await larder.cache().get('health-tracking:k'), 1);
    // The hub finds the primaries (CLUSTER SLOTS) and opens a tracking socket to each.
    let report = await larder.health();
    for (let i = 0; i < 100 && !report.connections.some((c) => c.role === 'tracking'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      report = await larder.health();
    }
    const tracking = report.connections.filter((c) => c.role === 'tracking');
    assert.ok(tracking.length >= 3, 'one tracking socket per primary');
    for (const conn of tracking) {
      assert.equal(conn.required, false, `${conn.name} is required`);
      assert.deepEqual(conn.usedBy, ['cache:default']);
    }
    const commands = report.connections.find((c) => c.role === 'commands');
    assert.equal(commands?.required, false);
  } finally {
    await larder.close();
  }
});
