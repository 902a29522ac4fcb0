/**
 * `larder.metrics.snapshot()`: the contract the dashboard and the CLI read — counters equal
 * the operations done, histograms hold every timed call, and a snapshot is a copy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLarder } from '../../src/index.js';
import { LATENCY_BUCKETS_MS, type OpStats } from '../../src/metrics/index.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function assertOp(op: OpStats | undefined, count: number, what: string): void {
  assert.ok(op, `${what}: no stats`);
  assert.equal(op.count, count, `${what}: count`);
  assert.equal(op.buckets.length, LATENCY_BUCKETS_MS.length + 1, `${what}: one bucket per bound and +Inf`);
  assert.equal(sum(op.buckets), count, `${what}: every call in one bucket`);
  assert.ok(op.sumMs >= 0 && Number.isFinite(op.sumMs), `${what}: sumMs`);
}

for (const target of ['memory', 'standalone'] as const) {
  describe(`metrics snapshot: cache on ${target}`, () => {
    it('counts hits, misses and each operation exactly, and hands back a copy', async () => {
      const url = redisUrlFor(target);
      const larder = createLarder({
        redis: url ?? false,
        caches: { default: { keyPrefix: uniquePrefix('metrics-snap') } },
        logger: false,
      });
      try {
        const cache = larder.cache();
        await cache.set('a', { n: 1 });
        await cache.set('b', 2);
        assert.deepEqual(await cache.get('a'), { n: 1 });
        assert.equal(await cache.get('b'), 2);
        assert.equal(await cache.get('missing'), undefined);
        assert.equal(await cache.getOrSet('c', () => 3), 3);
        assert.equal(await cache.getOrSet('c', () => 4), 3);

        const snap = larder.metrics.snapshot();
        const c = snap.caches.default;
        assert.ok(c, 'the default cache is reported');
        // get: 2 hits + 1 miss; getOrSet: 1 miss then 1 hit.
        assert.equal(c.hits, 3);
        assert.equal(c.misses, 2);
        assert.equal(c.hitRatio, 3 / 5);
        assert.equal(c.errors, 0);
        assertOp(c.ops.get, 3, 'get');
        assertOp(c.ops.set, 2, 'set');
        assertOp(c.ops.getOrSet, 2, 'getOrSet');
        assert.equal(c.ops.delete, undefined, 'an operation never called is not listed');
        assert.ok(snap.since <= snap.at);
        if (target === 'memory') {
          // In-process calls are counted untimed in the first bucket (two clock reads would cost a
          // fifth of the call); getOrSet, whose loader may be slow, is timed.
          assert.equal(c.ops.get!.buckets[0], 3, 'memory gets: first bucket');
          assert.equal(c.ops.get!.sumMs, 0, 'memory gets: untimed');
          assert.ok(c.ops.getOrSet!.sumMs > 0, 'getOrSet is timed on memory too');
        } else {
          assert.ok(c.ops.get!.sumMs > 0, 'Redis gets are timed');
        }

        // A copy: changing it changes nothing, and later calls do not change it.
        c.ops.get!.buckets[0] = 1e9;
        await cache.get('a');
        const again = larder.metrics.snapshot().caches.default!;
        assertOp(again.ops.get, 4, 'get after one more');
        assert.equal(c.ops.get!.count, 3);
      } finally {
        await larder.close();
      }
    });
  });
}

describe('metrics snapshot: metrics: false', () => {
  it('counts nothing', async () => {
    const larder = createLarder({ redis: false, metrics: false, logger: false });
    try {
      await larder.cache().set('a', 1);
      await larder.cache().get('a');
      const snap = larder.metrics.snapshot();
      assert.equal(larder.metrics.enabled, false);
      assert.deepEqual(snap.caches, {});
      assert.deepEqual(snap.rateLimits, {});
      assert.deepEqual(snap.tasks, {});
      assert.deepEqual(snap.sessions.ops, {});
    } finally {
      await larder.close();
    }
  });
});

describe('metrics snapshot: sessions on the signed-cookie engine', () => {
  it('counts decoding a cookie as a load and encoding one as a write, with their timings', async () => {
    const larder = createLarder(
      { redis: false, sessions: { engine: 'signed-cookie', secret: 'x'.repeat(40) }, logger: false },
      {},
    );
    try {
      const first = larder.sessions.open({});
      await first.set('cart', ['sku-1']);
      await first.save();
      const value = first.cookieValue();
      const next = larder.sessions.open({ cookie: value });
      assert.deepEqual(await next.get('cart'), ['sku-1']);
      const tampered = larder.sessions.open({ cookie: `${value.slice(0, -2)}xx` });
      assert.equal(await tampered.get('cart'), undefined);

      const { sessions } = larder.metrics.snapshot();
      assert.equal(sessions.loads, 2, 'the good cookie and the tampered one were both read');
      assert.equal(sessions.writes, 2, 'save() and cookieValue() each encoded the session');
      assert.equal(sessions.errors, 0);
      assertOp(sessions.ops.load, 2, 'load');
      assertOp(sessions.ops.save, 2, 'save');
    } finally {
      await larder.close();
    }
  });
});

describe('metrics snapshot: tiered cache on standalone', () => {
  it('counts local-tier hits as gets in the first latency bucket', async () => {
    const larder = createLarder(
      {
        logger: false,
        caches: {
          default: {
            backend: 'tiered',
            location: redisUrlFor('standalone'),
            keyPrefix: uniquePrefix('metrics-l1'),
          },
        },
      },
      {},
    );
    try {
      const cache = larder.cache();
      await cache.set('k', { v: 1 });
      // Until tracking is up and the value is held in this process, reads go to Redis.
      let gets = 0;
      while (cache.stats.localHits === 0 && gets < 2000) {
        assert.deepEqual(await cache.get('k'), { v: 1 });
        gets++;
      }
      assert.ok(cache.stats.localHits > 0, 'a read was served by the in-process tier');
      for (let i = 0; i < 10; i++) assert.deepEqual(await cache.get('k'), { v: 1 });
      gets += 10;
      const c = larder.metrics.snapshot().caches.default!;
      assert.equal(c.localHits, cache.stats.localHits);
      assert.equal(c.hits, gets);
      assertOp(c.ops.get, gets, 'get');
      assert.ok(c.ops.get!.buckets[0]! >= c.localHits, 'local hits are in the first bucket');
    } finally {
      await larder.close();
    }
  });
});
