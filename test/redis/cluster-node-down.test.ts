/**
 * Regression (code review, session 1): with one Cluster primary down, calls for keys on
 * the healthy primaries failed too, because one circuit breaker covered the whole
 * cluster. Keys on live nodes must keep working.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLocation } from '../../src/config/location.js';
import { RedisConnection } from '../../src/redis/connection.js';
import { startCluster } from '../support/redis-server.js';

test('one dead primary does not take down the keys on the others', async () => {
  const cluster = await startCluster({ primaries: 3, replicasPerPrimary: 0 });
  const conn = new RedisConnection(parseLocation(cluster.url, 'redis', { commandTimeout: 500 }));
  try {
    const keys = Array.from({ length: 30 }, (_, i) => `node-down:${i}`);
    for (const key of keys) await conn.run((c) => c.set(key, key));
    const victim = cluster.primaries()[0]!;
    const onVictim = new Set<string>();
    for (const key of keys) {
      if (
        (await cluster.nodeForSlot(Number(await victim.cli('CLUSTER', 'KEYSLOT', key)))).port === victim.port
      ) {
        onVictim.add(key);
      }
    }
    await victim.kill();
    // Several failures in a row on the dead node (what opened the shared breaker)...
    for (const key of [...onVictim].slice(0, 4)) await conn.run((c) => c.get(key)).catch(() => {});
    // ...then every key on a live node must still be served.
    let failedElsewhere = 0;
    for (let round = 0; round < 3; round++) {
      for (const key of keys) {
        try {
          assert.equal(await conn.run((c) => c.get(key)), key);
        } catch {
          if (!onVictim.has(key)) failedElsewhere++;
        }
      }
    }
    assert.ok(
      onVictim.size > 0 && onVictim.size < keys.length,
      'keys spread over the dead node and the others',
    );
    assert.equal(failedElsewhere, 0, 'every key on a live node was served');
  } finally {
    await conn.close();
    await cluster.stop();
  }
});
