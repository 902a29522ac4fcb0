/**
 * A Redis outage under `ignoreErrors`: with the server killed mid-run every call turns into
 * a miss or a no-op within the cache's command timeout (never a throw, never a hang), and
 * hits return after a restart. Without `ignoreErrors` the same outage is a fast
 * BackendUnavailableError.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BackendUnavailableError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';

async function until(fn: () => Promise<boolean>, what: string, ms = 10_000) {
  const giveUp = Date.now() + ms;
  while (Date.now() < giveUp) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('ignoreErrors', () => {
  let server: RedisServerHandle;
  let larder: Larder;
  before(async () => {
    server = await startStandalone();
    larder = createLarder({
      logger: false,
      redis: server.url,
      caches: { default: { backend: 'redis', ignoreErrors: true, commandTimeout: '250ms' } },
    });
  });
  after(async () => {
    await larder?.close();
    await server?.stop();
  });

  test('killed server: reads miss, writes are no-ops, each within the timeout; hits return after restart', async () => {
    const cache = larder.cache();
    await cache.set('kept', 'v');
    await cache.set('n', 1);
    assert.equal(await cache.get('kept'), 'v');

    await server.kill();
    const timings: number[] = [];
    const timed = async <T>(fn: () => Promise<T>) => {
      const t = performance.now();
      const out = await fn();
      timings.push(performance.now() - t);
      return out;
    };
    assert.equal(await timed(() => cache.get('kept')), undefined);
    assert.equal(await timed(() => cache.get('kept', 'fallback')), 'fallback');
    assert.equal(await timed(() => cache.set('x', 1)), undefined);
    assert.equal(await timed(() => cache.add('y', 1)), false);
    assert.equal(await timed(() => cache.has('kept')), false);
    assert.equal(await timed(() => cache.delete('kept')), false);
    assert.deepEqual(await timed(() => cache.getMany(['kept', 'n'])), new Map());
    assert.deepEqual(await timed(() => cache.setMany({ a: 1 })), ['a']);
    assert.equal(
      await timed(() => cache.getOrSet('computed', () => 42)),
      42,
      'getOrSet still serves the loader',
    );
    // Regression (fault suite, kill/restart): a tagged getOrSet threw BackendUnavailableError here,
    // because the tag tokens taken before the load were not under the outage policy.
    assert.equal(
      await timed(() => cache.getOrSet('tagged', () => 43, { tags: ['catalog'], grace: '1m' })),
      43,
      'a tagged getOrSet still serves the loader',
    );
    assert.equal(await timed(() => cache.set('tagged-set', 1, { tags: ['catalog'] })), undefined);
    // Regression (review): keys/iterKeys threw BackendUnavailableError instead of listing nothing.
    const errorsBefore = cache.stats.errors;
    assert.deepEqual(await timed(() => cache.keys('*')), []);
    const iterated: string[] = [];
    await timed(async () => {
      for await (const key of cache.iterKeys('k*')) iterated.push(key);
    });
    assert.deepEqual(iterated, []);
    assert.equal(cache.stats.errors, errorsBefore + 2, 'each listing that failed is counted');
    assert.ok(cache.stats.errors >= 13);
    // The timeout is the budget for one call; the breaker makes later ones faster still.
    console.log(`outage: slowest call ${Math.max(...timings).toFixed(1)} ms over ${timings.length} calls`);
    // A bound, not a benchmark: the deadline is 250 ms; a hang would blow far past this.
    assert.ok(Math.max(...timings) < 250 + 2000, 'no call waits far beyond its command timeout');

    // The test server keeps nothing on disk, so a restart comes back empty: write, then hit.
    await server.restart();
    await until(async () => {
      await cache.set('kept', 'v2');
      return (await cache.get('kept')) === 'v2';
    }, 'hits after the restart');
    assert.ok(cache.stats.hits >= 2);
  });

  test('after the restart every operation works again', async () => {
    const cache = larder.cache();
    await cache.set('again:n', 1);
    assert.equal(await cache.incr('again:n', 2), 3);
    assert.deepEqual(await cache.getMany(['again:n']), new Map([['again:n', 3]]));
    await assert.rejects(cache.incr('again:missing'), /not found/, 'incr of a missing key still throws');
  });
});

describe('ignoreErrors with a paused server (SIGSTOP: the socket stays open, nothing answers)', () => {
  test('a read becomes a miss at the command timeout, then the breaker answers at once', async () => {
    const server = await startStandalone();
    const larder = createLarder({
      logger: false,
      redis: server.url,
      caches: { default: { backend: 'redis', ignoreErrors: true, commandTimeout: '250ms' } },
    });
    try {
      const cache = larder.cache();
      await cache.set('k', 'v');
      await server.pause();
      const started = performance.now();
      assert.equal(await cache.get('k'), undefined);
      const first = performance.now() - started;
      await Promise.all([cache.get('k'), cache.get('k')]);
      const t = performance.now();
      assert.equal(await cache.get('k'), undefined);
      const later = performance.now() - t;
      console.log(
        `paused: first miss after ${first.toFixed(0)} ms (timeout 250 ms), with the breaker open ${later.toFixed(2)} ms`,
      );
      assert.ok(first >= 200, 'the first read waited for its deadline');
      assert.ok(first < 250 + 2000, 'and not much longer');
      await server.resume();
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(await cache.get('k'), 'v', 'hits again once the server answers');
    } finally {
      await server.resume();
      await larder.close();
      await server.stop();
    }
  });
});

describe('without ignoreErrors', () => {
  test('an outage is a BackendUnavailableError (HTTP 503), fast', async () => {
    const server = await startStandalone();
    const larder = createLarder({
      logger: false,
      redis: server.url,
      caches: { default: { backend: 'redis', commandTimeout: '250ms' } },
    });
    try {
      const cache = larder.cache();
      await cache.set('k', 'v');
      await server.kill();
      const started = performance.now();
      await assert.rejects(cache.get('k'), (error: unknown) => {
        assert.ok(error instanceof BackendUnavailableError);
        assert.equal(error.status, 503);
        return true;
      });
      assert.ok(performance.now() - started < 250 + 2000, 'fails within its deadline, not after a hang');
      await assert.rejects(cache.keys('*'), BackendUnavailableError);
    } finally {
      await larder.close();
      await server.stop();
    }
  });
});
