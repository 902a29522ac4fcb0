/**
 * The tiered cache's coherence, through `createLarder` as an application uses it: writes by
 * anyone (a raw client, another Larder, this one) evict the in-process copy, losing the
 * tracking socket flushes it and fills resume once tracking is back, FLUSHDB flushes it, and
 * a write to a tag key drops the entries carrying the tag — on standalone and Cluster.
 *
 * These cases kill tracking sockets and flush databases, so they run on servers of their own
 * (not the shared ones other test files use). Eviction delays are printed, not asserted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, createCluster } from 'redis';
import type { LocalTier } from '../../src/cache/local-tier.js';
import { ConfigError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { TRACKING_CLIENT_NAME } from '../../src/redis/tracking.js';
import { uniquePrefix } from '../support/conformance.js';
import {
  type RedisCluster,
  type RedisServerHandle,
  startCluster,
  startStandalone,
} from '../support/redis-server.js';

/** Generous bound for an invalidation to cross loopback (DESIGN §4.1 aims at 50 ms). */
const EVICTION_BOUND_MS = 2_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 2 ms; resolves the ms it took, rejects after `boundMs`. */
async function within(what: string, condition: () => boolean, boundMs = EVICTION_BOUND_MS): Promise<number> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > boundMs) assert.fail(`${what}: not within ${boundMs} ms`);
    await sleep(2);
  }
  return performance.now() - started;
}

interface Topology {
  name: 'standalone' | 'cluster';
  url: string;
  /** Every primary (where tracking sockets live and FLUSHDB must run). */
  primaries: () => RedisServerHandle[];
  /** A raw node-redis client, not larder's. */
  raw: () => Promise<{
    set(k: string, v: string): Promise<unknown>;
    del(k: string): Promise<unknown>;
    close(): Promise<unknown>;
  }>;
}

let standalone: RedisServerHandle;
let cluster: RedisCluster;

before(async () => {
  [standalone, cluster] = await Promise.all([startStandalone(), startCluster({ replicasPerPrimary: 1 })]);
});
after(async () => {
  await Promise.all([standalone?.stop(), cluster?.stop()]);
});

const topologies: Topology[] = [
  {
    name: 'standalone',
    get url() {
      return standalone.url;
    },
    primaries: () => [standalone],
    raw: async () => createClient({ url: standalone.url }).connect(),
  },
  {
    name: 'cluster',
    get url() {
      return cluster.url;
    },
    primaries: () => cluster.primaries(),
    raw: async () => createCluster({ rootNodes: cluster.seeds.map((s) => ({ socket: s })) }).connect(),
  },
];

/** Id of the newest tracking socket on `server` (the Larder opened last: each has its own). */
async function newestTrackingClient(server: RedisServerHandle): Promise<string | undefined> {
  const list = String(await server.command('CLIENT', 'LIST'));
  const ids = list
    .split('\n')
    .filter((line) => line.includes(` name=${TRACKING_CLIENT_NAME} `))
    .map((line) => Number(/^id=(\d+)/.exec(line)![1]));
  return ids.length ? String(Math.max(...ids)) : undefined;
}

for (const topology of topologies) {
  describe(`tiered cache [${topology.name}]`, () => {
    const larders: Larder[] = [];
    after(async () => {
      await Promise.all(larders.map((l) => l.close()));
    });

    /** A Larder with one tiered cache under `keyPrefix`, its tracking up. */
    async function open(keyPrefix: string) {
      const larder = createLarder(
        { logger: false, caches: { default: { backend: 'tiered', location: topology.url, keyPrefix } } },
        {},
      );
      larders.push(larder);
      const cache = larder.cache('default');
      const tier = cache.backend.local as LocalTier;
      assert.ok(tier, 'a tiered cache exposes its in-process tier');
      await cache.get('warm-up'); // the first read subscribes the tier to tracking
      await within('tracking to come up', () => tier.isTracking, 10_000);
      /** Stores `value`, reads it back through the cache, and makes sure it is held locally. */
      const fill = async (key: string, value: unknown, tagKeys?: string[]) => {
        await cache.set(key, value);
        assert.deepEqual(await cache.get(key), value);
        const made = cache.keyMaker.make(key);
        if (tagKeys) {
          // Tag keys of the test's choosing (the facade's tag scheme is tested with the facade).
          tier.remember(made, { value, expiresAt: null, bytes: 16, tagKeys }, tier.mark(made));
        } else {
          // The invalidation of our own SET reaches the tracking socket after the SET's reply
          // and may refuse the first fill (as it must: it cannot tell it from a foreign write).
          const started = performance.now();
          while (tier.get(made) === undefined) {
            if (performance.now() - started > EVICTION_BOUND_MS)
              assert.fail(`the facade never filled ${key}`);
            await cache.get(key);
          }
          assert.equal((await cache.getEntry(key)).status, 'hit-local');
        }
        assert.ok(tier.get(made), `${key} is held in the tier`);
        return made;
      };
      return { larder, cache, tier, fill };
    }

    it('a raw client SET evicts the local copy', async (t) => {
      const { tier, fill } = await open(uniquePrefix('raw'));
      const made = await fill('k', { v: 1 });
      const raw = await topology.raw();
      try {
        const sent = performance.now();
        await raw.set(made, '"changed"');
        await within('eviction after a raw SET', () => tier.get(made) === undefined);
        t.diagnostic(`raw SET → eviction: ${(performance.now() - sent).toFixed(2)} ms`);
      } finally {
        await raw.close();
      }
    });

    it('a redis-cli SET evicts the local copy', async (t) => {
      const { tier, fill } = await open(uniquePrefix('cli'));
      const made = await fill('k', { v: 1 });
      // redis-cli -e SET on the server that owns the key (with -c on Cluster, it follows MOVED).
      const server = topology.primaries()[0]!;
      const sent = performance.now();
      assert.match(
        await server.cli(...(topology.name === 'cluster' ? ['-c'] : []), 'SET', made, '"cli"'),
        /OK/,
      );
      await within('eviction after redis-cli SET', () => tier.get(made) === undefined);
      t.diagnostic(`redis-cli SET → eviction: ${(performance.now() - sent).toFixed(2)} ms`);
    });

    it('a write by a second Larder evicts the first one copy', async (t) => {
      const prefix = uniquePrefix('two');
      const first = await open(prefix);
      const second = await open(prefix);
      const made = await first.fill('k', 'old');
      const sent = performance.now();
      await second.cache.set('k', 'new');
      await within('eviction after another Larder wrote', () => first.tier.get(made) === undefined);
      t.diagnostic(`other Larder's set → eviction: ${(performance.now() - sent).toFixed(2)} ms`);
      assert.equal(await first.cache.get('k'), 'new');
    });

    it('a write by this Larder evicts its copy at once', async () => {
      const { cache, tier, fill } = await open(uniquePrefix('own'));
      const made = await fill('k', 1);
      const pending = cache.set('k', 2);
      assert.equal(tier.get(made), undefined, 'forgotten before the write is even sent');
      await pending;
      assert.equal(await cache.get('k'), 2);
    });

    it('killing the tracking socket flushes the tier; fills resume once it is back', async (t) => {
      const { tier, fill } = await open(uniquePrefix('kill'));
      const made = await fill('k', 'v');
      const servers = topology.primaries();
      const ids = await Promise.all(servers.map(newestTrackingClient));
      assert.ok(ids.every(Boolean), 'every primary has a tracking socket');
      // One primary is enough: every server's socket must be up for the tier to be trusted.
      const losses = tier.stats.trackingLosses;
      await servers[0]!.command('CLIENT', 'KILL', 'ID', ids[0]!);
      await within('the tier to flush after the kill', () => tier.get(made) === undefined);
      assert.equal(tier.stats.trackingLosses, losses + 1);
      const back = await within('tracking to come back', () => tier.isTracking, 10_000);
      t.diagnostic(`tracking back ${back.toFixed(1)} ms after the flush`);
      const again = await fill('k2', 'v2');
      assert.ok(tier.get(again), 'fills are accepted again');
      // And the new socket really tracks: a raw write still evicts.
      const raw = await topology.raw();
      try {
        await raw.set(again, '"x"');
        await within('eviction on the new tracking socket', () => tier.get(again) === undefined);
      } finally {
        await raw.close();
      }
    });

    it('refuses a fill whose read began before tracking was lost', async () => {
      const { tier } = await open(uniquePrefix('gap'));
      const server = topology.primaries()[0]!;
      const id = await newestTrackingClient(server);
      const losses = tier.stats.trackingLosses;
      const since = tier.mark('x'); // a read leaves…
      await server.command('CLIENT', 'KILL', 'ID', id!); // …tracking drops (invalidations may be lost)…
      await within(
        'tracking to drop and come back',
        () => tier.stats.trackingLosses > losses && tier.isTracking,
        10_000,
      );
      tier.remember('x', { value: 1, expiresAt: null, bytes: 1 }, since); // …and the read comes back
      assert.equal(tier.get('x'), undefined);
      tier.remember('x', { value: 1, expiresAt: null, bytes: 1 }, tier.mark('x'));
      assert.ok(tier.get('x'), 'a read that began after tracking came back is kept');
    });

    it('FLUSHDB flushes the tier', async () => {
      const { tier, fill } = await open(uniquePrefix('flush'));
      const made = await fill('k', 'v');
      const other = await fill('k2', 'v2');
      // The key's own primary: on Cluster each primary sends its own flush.
      await Promise.all(topology.primaries().map((s) => s.command('FLUSHDB')));
      await within('the tier to flush after FLUSHDB', () => tier.size === 0);
      assert.equal(tier.get(made), undefined);
      assert.equal(tier.get(other), undefined);
    });

    it('a write to a tag key drops every entry tagged with it', async () => {
      const prefix = uniquePrefix('tags');
      const { tier, fill, cache } = await open(prefix);
      const tagKey = cache.keyMaker.make('tag:news');
      const raw = await topology.raw();
      try {
        await raw.set(tagKey, '1');
        await within('the tag key write to be seen', () => tier.get(tagKey) === undefined);
        const a = await fill('a', 'A', [tagKey]);
        const b = await fill('b', 'B', [tagKey]);
        const c = await fill('c', 'C');
        await raw.del(tagKey);
        await within('tagged entries to drop', () => tier.get(a) === undefined && tier.get(b) === undefined);
        assert.ok(tier.get(c), 'an untagged entry stays');
      } finally {
        await raw.close();
      }
    });

    if (topology.name === 'cluster') {
      it('a slot migration keeps evictions flowing from the new owner', async () => {
        const { tier, fill } = await open(uniquePrefix('move'));
        const made = await fill('k', 'v');
        const slot = await cluster.slotOf(made);
        const from = await cluster.nodeForSlot(slot);
        const to = cluster.primaries().find((p) => p.port !== from.port)!;
        await cluster.migrateSlot(slot, from, to);
        await within('the MIGRATE to evict the key', () => tier.get(made) === undefined);
        const again = await fill('k', 'v2');
        const raw = await topology.raw();
        try {
          await raw.set(again, '"x"'); // lands on the new owner
          await within('eviction by the new owner', () => tier.get(again) === undefined);
        } finally {
          await raw.close();
        }
      });

      it('a failover flushes the tier and tracking follows the new primary', async (t) => {
        const { tier, fill } = await open(uniquePrefix('failover'));
        const made = await fill('k', 'v');
        const old = await cluster.nodeForSlot(await cluster.slotOf(made));
        const losses = tier.stats.trackingLosses;
        // The replica of the key's primary takes over (CLUSTER FAILOVER on it).
        const replicas = await Promise.all(
          cluster.nodes
            .filter((n) => !cluster.primaries().includes(n))
            .map(async (n) => ({ n, info: String(await n.command('INFO', 'replication')) })),
        );
        const mine = replicas.find((r) => r.info.includes(`master_port:${old.port}`))?.n;
        assert.ok(mine, `a replica of ${old.port}`);
        const started = performance.now();
        await mine.command('CLUSTER', 'FAILOVER');
        await cluster.waitUntilStable();
        await within(
          'the tier to flush on the new topology',
          () => tier.stats.trackingLosses > losses,
          10_000,
        );
        await within('tracking on the new primaries', () => tier.isTracking, 10_000);
        t.diagnostic(
          `failover → tracking on the new primaries: ${(performance.now() - started).toFixed(0)} ms`,
        );
        assert.equal(tier.get(made), undefined);
        const again = await fill('k', 'v2');
        const raw = await topology.raw();
        try {
          await raw.set(again, '"x"'); // lands on the promoted replica
          await within('eviction by the new primary', () => tier.get(again) === undefined);
        } finally {
          await raw.close();
        }
      });
    }

    it('writes outside the cache prefix do not evict anything', async () => {
      const prefix = uniquePrefix('scope');
      const { tier, fill } = await open(prefix);
      // Same hash tag: both keys live on one server, whose pushes arrive in order.
      const inside = await fill('{h}', 'v');
      const outside = `${prefix}-other:1:{h}`; // shares the text but not `${prefix}:`
      tier.remember(outside, { value: 'o', expiresAt: null, bytes: 1 }, tier.mark(outside));
      const raw = await topology.raw();
      try {
        await raw.set(outside, 'x');
        await raw.set(inside, '"y"');
        await within('the eviction of the key in scope', () => tier.get(inside) === undefined);
        assert.ok(tier.get(outside), 'a write outside the prefix left the entry alone');
      } finally {
        await raw.close();
      }
    });
  });
}

describe('tiered cache: configuration', () => {
  it('refuses a Sentinel location with a ConfigError naming the option', () => {
    const larder = createLarder(
      {
        logger: false,
        caches: { default: { backend: 'tiered', location: 'redis+sentinel://127.0.0.1:26379/mymaster' } },
      },
      {},
    );
    try {
      assert.throws(
        () => larder.cache('default'),
        (e: unknown) => e instanceof ConfigError && e.path === 'caches.default.location',
      );
    } finally {
      void larder.close();
    }
  });

  it('passes l1 bounds to the tier, and rejects bad ones at config time', async () => {
    const larder = createLarder(
      {
        logger: false,
        caches: {
          default: {
            backend: 'tiered',
            location: standalone.url,
            l1: { maxEntries: 7, maxBytes: 4096, ttl: '2s' },
          },
        },
      },
      {},
    );
    try {
      const tier = larder.cache('default').backend.local as LocalTier;
      assert.deepEqual([tier.maxEntries, tier.maxBytes, tier.ttl], [7, 4096, 2000]);
    } finally {
      await larder.close();
    }
    assert.throws(
      () =>
        createLarder(
          {
            logger: false,
            caches: { default: { backend: 'tiered', location: standalone.url, l1: { maxEntries: 0 } } },
          },
          {},
        ),
      (e: unknown) => e instanceof ConfigError && e.path.startsWith('caches.default.l1'),
    );
  });
});
