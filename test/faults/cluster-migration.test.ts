/**
 * Fault: Cluster slots migrated under load — every slot that holds one of the storefront's
 * keys (page cache, catalog, tags, sessions, rate-limit counters) moves to another primary
 * with CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE and SETSLOT NODE, while page views, API
 * calls and cart additions go on. The client follows MOVED and ASK: no error may reach
 * HTTP, and every acknowledged cart addition is in its session afterwards. The cache runs
 * without `ignoreErrors`, so a failed command would show as a 503 instead of a quiet miss.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLarder } from '../../src/larder.js';
import { uniquePrefix } from '../support/conformance.js';
import { type RedisCluster, type RedisServerHandle, startCluster } from '../support/redis-server.js';
import { CACHED_ROUTES, load, percentile, recordFigures, round, serveStorefront } from './support.js';

const SLOTS_TO_MOVE = 40;

/** Every key on `node` (SCAN). */
async function keysOn(node: RedisServerHandle): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = (await node.command('SCAN', cursor, 'COUNT', 1000)) as [string, string[]];
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** The slots that hold keys now, each with the primary serving it. */
async function busySlots(cluster: RedisCluster): Promise<Array<{ slot: number; owner: RedisServerHandle }>> {
  const found = new Map<number, RedisServerHandle>();
  for (const owner of await cluster.currentPrimaries()) {
    for (const key of await keysOn(owner)) {
      const slot = Number(await owner.command('CLUSTER', 'KEYSLOT', key));
      found.set(slot, owner);
    }
  }
  return [...found].map(([slot, owner]) => ({ slot, owner }));
}

test('Cluster slot migration under load: 0 errors reach HTTP, no acknowledged cart addition lost', async (t) => {
  const cluster = await startCluster({ replicasPerPrimary: 0 });
  const prefix = uniquePrefix('faults-migrate');
  const larder = createLarder(
    {
      logger: false,
      redis: { url: cluster.url, commandTimeout: '2s' },
      caches: { default: { backend: 'redis', ignoreErrors: false } },
      sessions: { prefix },
      rateLimits: { api: { limit: 1_000_000, window: 60 } },
      tasks: { prefix: `{${uniquePrefix('faults-migrate-tasks')}}` },
    },
    {},
  );
  const shop = await serveStorefront(larder);
  try {
    const cookies: string[] = [];
    const acked = [0, 0];
    for (let c = 0; c < 2; c++) {
      const res = await fetch(`${shop.base}/cart/add`, {
        method: 'POST',
        redirect: 'manual',
        body: new URLSearchParams({ sku: 'press' }),
      });
      assert.equal(res.status, 303);
      cookies.push(
        res.headers
          .getSetCookie()
          .map((line) => line.split(';')[0])
          .join('; '),
      );
      acked[c] += 1;
    }
    for (const route of [...CACHED_ROUTES, '/api/products']) await fetch(`${shop.base}${route}`);

    let done = false;
    const traffic = load({
      concurrency: 6,
      count: 100_000,
      maxMs: 60_000,
      stop: () => done,
      next: (i, worker) => {
        if (worker < 2)
          return { route: 'cached', url: `${shop.base}${CACHED_ROUTES[i % CACHED_ROUTES.length]}` };
        if (worker < 4)
          return { route: 'api', url: `${shop.base}/api/products?region=${['us', 'eu'][i % 2]}` };
        return {
          route: `cart-${worker - 4}`,
          url: `${shop.base}/cart/add`,
          init: {
            method: 'POST',
            body: new URLSearchParams({ sku: 'press' }),
            headers: { cookie: cookies[worker - 4]! },
          },
        };
      },
      onSample: (sample) => {
        const cart = /^cart-(\d)$/.exec(sample.route);
        if (cart && sample.status === 303) acked[Number(cart[1])]! += 1;
      },
    });
    let moved = 0;
    let keysMoved = 0;
    const startedMoving = performance.now();
    try {
      await sleep(500);
      const primaries = await cluster.currentPrimaries();
      const slots = (await busySlots(cluster)).slice(0, SLOTS_TO_MOVE);
      for (const { slot, owner } of slots) {
        const target = primaries[(primaries.indexOf(owner) + 1) % primaries.length]!;
        // Half-way first: while the keys move, the source answers ASK for the ones already gone.
        const migration = await cluster.beginSlotMigration(slot, owner, target);
        await sleep(20);
        keysMoved += await migration.moveKeys();
        await migration.finish();
        moved += 1;
      }
      await sleep(500);
    } finally {
      done = true;
    }
    const movingMs = performance.now() - startedMoving;
    const samples = await traffic;

    const expected = (route: string) => (route.startsWith('cart') ? 303 : 200);
    const errors = samples.filter((s) => s.status !== expected(s.route));
    const stored = await Promise.all(
      cookies.map(async (cookie) => {
        const id = /sessionid=([^;]+)/.exec(cookie)?.[1];
        const key = `${prefix}:${id}`;
        const owner = await cluster.nodeForSlot(await cluster.slotOf(key));
        return Number(await owner.command('HGET', key, 'd:qty:press'));
      }),
    );
    const figures = {
      requests: samples.length,
      slotsMigrated: moved,
      keysMigrated: keysMoved,
      migrationMs: round(movingMs),
      httpErrors: errors.length,
      errorStatuses: [...new Set(errors.map((s) => s.status))],
      cartAdditionsAcknowledged: acked[0]! + acked[1]!,
      cartAdditionsStored: stored[0]! + stored[1]!,
      p99Ms: round(
        percentile(
          samples.map((s) => s.ms),
          99,
        ),
      ),
      slowestRequestMs: round(Math.max(...samples.map((s) => s.ms))),
    };
    t.diagnostic(
      `faults: cluster slot migration — ${figures.httpErrors} of ${figures.requests} responses were errors ` +
        `while ${figures.slotsMigrated} slots (${figures.keysMigrated} keys) moved in ${figures.migrationMs} ms; ` +
        `${figures.cartAdditionsAcknowledged} cart additions acknowledged, ${figures.cartAdditionsStored} stored; ` +
        `p99 ${figures.p99Ms} ms`,
    );
    await recordFigures('cluster-migration', figures);

    assert.ok(moved > 0, 'slots holding the storefront keys were migrated');
    assert.deepEqual(
      errors.slice(0, 3).map((s) => `${s.route} ${s.status} ${s.body?.slice(0, 300)}`),
      [],
      `${errors.length} responses were not the expected status`,
    );
    assert.deepEqual(stored, acked, 'every acknowledged cart addition is in its session, none twice');
  } finally {
    await shop.close();
    await larder.close();
    await cluster.stop();
  }
});
