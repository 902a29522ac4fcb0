/**
 * Issue 10's "done when": metrics appear in Prometheus format and match counted operations.
 * A known number of operations of every kind — cache hits, misses, sets, getOrSet, a
 * session created, loaded, saved and flushed, rate-limit checks allowed and denied, eager
 * tasks that succeed, retry and fail, a publish, an event, an SSE client — then the parsed
 * exposition must hold exactly those numbers, on memory and on Redis standalone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEventStream, type EventSink } from '../../src/http/events.js';
import { createLarder, type Larder } from '../../src/index.js';
import { LATENCY_BUCKETS_MS } from '../../src/metrics/index.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { type Exposition, histogramCount, parseExposition } from './exposition.js';

/** A cache name with every character the text format must escape. */
const ODD = 'odd "cache"\\ with\nnewline';

const scrape = async (larder: Larder): Promise<Exposition> =>
  parseExposition(await larder.metrics.prometheus());

/** A sink that keeps nothing: the SSE client is only counted. */
const nullSink = (): EventSink => ({ write() {}, buffered: () => 0, end() {}, destroy() {} });

for (const target of ['memory', 'standalone'] as const) {
  describe(`Prometheus exposition on ${target}`, () => {
    it('matches the operations done, counter by counter', async () => {
      const url = redisUrlFor(target);
      const prefix = uniquePrefix('metrics-prom');
      const larder = createLarder(
        {
          redis: url ?? false,
          caches: { default: { keyPrefix: prefix }, [ODD]: { backend: 'memory' } },
          sessions: { engine: url ? 'redis' : 'memory', prefix: `${prefix}:session` },
          rateLimits: { api: { limit: 2, window: 60 } },
          tasks: { driver: 'eager' },
          logger: false,
        },
        {},
      );
      const channel = `${prefix}:orders`;
      try {
        // Cache: 2 sets, 3 gets (2 hits, 1 miss), 2 getOrSet (a miss that loads, then a hit), 1 delete.
        const cache = larder.cache();
        await cache.set('a', { n: 1 });
        await cache.set('b', 'two');
        assert.deepEqual(await cache.get('a'), { n: 1 });
        assert.equal(await cache.get('b'), 'two');
        assert.equal(await cache.get('nope'), undefined);
        assert.equal(await cache.getOrSet('c', async () => 3), 3);
        assert.equal(await cache.getOrSet('c', async () => 4), 3);
        assert.equal(await cache.delete('a'), true);
        await larder.cache(ODD).set('x', 1);
        assert.equal(await larder.cache(ODD).get('x'), 1);

        // Sessions: created and saved, loaded by id and saved again, then flushed.
        const first = larder.sessions.open({});
        await first.set('n', 1);
        await first.save();
        const id = first.key;
        assert.ok(id);
        const again = larder.sessions.open({ cookie: id });
        assert.equal(await again.get('n'), 1);
        await again.set('n', 2);
        await again.save();
        await again.flush();

        // Rate limit: 3 consumes of a 2-per-minute limit, then a peek (counted apart).
        const api = larder.rateLimiter('api');
        const subject = `user:${prefix}`;
        const results = [];
        for (let i = 0; i < 3; i++) results.push((await api.consume(subject)).allowed);
        assert.deepEqual(results, [true, true, false]);
        assert.equal((await api.peek(subject)).allowed, false);

        // Tasks (eager): one success; one failure after one retry.
        const add = larder.tasks.define('metrics-add', ({ a, b }: { a: number; b: number }) => a + b);
        assert.equal(await add.delay({ a: 1, b: 2 }).get({ timeout: 10 }), 3);
        const broken = larder.tasks.define(
          'metrics-broken',
          () => {
            throw new Error('always fails');
          },
          { retries: 1, backoff: { type: 'fixed', delay: '10ms' } },
        );
        await assert.rejects(broken.delay().get({ timeout: 10 }), /always fails/);

        // Pub/sub: one publish heard by two handlers, one event; one SSE client open.
        let heard = 0;
        let allHeard: () => void = () => {};
        const bothHeard = new Promise<void>((resolve) => {
          allHeard = resolve;
        });
        const onMessage = () => {
          if (++heard === 2) allHeard();
        };
        const stops = [
          await larder.pubsub.subscribe(channel, onMessage),
          await larder.pubsub.subscribe(channel, onMessage),
        ];
        await larder.pubsub.publish(channel, { id: 7 });
        await bothHeard;
        await larder.pubsub.sendEvent(channel, { id: 7 }, { event: 'bought' });
        const opening = await createEventStream(larder, [channel], { heartbeat: false }).open({}, undefined);
        assert.equal(opening.kind, 'stream');
        const client = opening.kind === 'stream' ? opening.start(nullSink()) : undefined;

        const expo = await scrape(larder);
        const op = (cache: string, name: string) => ({ cache, op: name });
        const ops = { get: 3, set: 2, getOrSet: 2, delete: 1 };
        for (const [name, count] of Object.entries(ops)) {
          assert.equal(expo.value('larder_cache_operations_total', op('default', name)), count, name);
          assert.equal(expo.value('larder_cache_operation_errors_total', op('default', name)), 0, name);
          assert.equal(
            histogramCount(expo, 'larder_cache_operation_duration_seconds', op('default', name)),
            count,
            `${name} histogram`,
          );
        }
        assert.equal(expo.find('larder_cache_operations_total', { cache: 'default' }).length, 4);
        // The buckets are the contract's, in seconds.
        const les = expo
          .find('larder_cache_operation_duration_seconds_bucket', op('default', 'get'))
          .map((s) => s.labels.le);
        assert.deepEqual(les, [...LATENCY_BUCKETS_MS.map((ms) => String(ms / 1000)), '+Inf']);
        assert.equal(expo.value('larder_cache_hits_total', { cache: 'default' }), 3);
        assert.equal(expo.value('larder_cache_misses_total', { cache: 'default' }), 2);
        assert.equal(expo.value('larder_cache_local_hits_total', { cache: 'default' }), 0);
        assert.equal(expo.value('larder_cache_hit_ratio', { cache: 'default' }), 3 / 5);
        // An odd cache name survives escaping and parsing intact.
        assert.equal(expo.value('larder_cache_operations_total', op(ODD, 'get')), 1);
        assert.equal(expo.value('larder_cache_hit_ratio', { cache: ODD }), 1);

        assert.equal(expo.value('larder_session_created_total'), 1);
        assert.equal(expo.value('larder_session_loads_total'), 1);
        assert.equal(expo.value('larder_session_writes_total'), 2);
        assert.equal(expo.value('larder_session_deleted_total'), 1);
        assert.equal(expo.value('larder_session_errors_total'), 0);
        const sessionOps = { load: 1, save: 2, delete: 1 };
        for (const [name, count] of Object.entries(sessionOps))
          assert.equal(
            histogramCount(expo, 'larder_session_operation_duration_seconds', { op: name }),
            count,
            name,
          );

        assert.equal(expo.value('larder_ratelimit_checks_total', { limiter: 'api', result: 'allowed' }), 2);
        assert.equal(expo.value('larder_ratelimit_checks_total', { limiter: 'api', result: 'denied' }), 1);
        assert.equal(expo.value('larder_ratelimit_degraded_total', { limiter: 'api' }), 0);
        assert.equal(
          histogramCount(expo, 'larder_ratelimit_check_duration_seconds', { limiter: 'api', op: 'consume' }),
          3,
        );
        assert.equal(
          histogramCount(expo, 'larder_ratelimit_check_duration_seconds', { limiter: 'api', op: 'peek' }),
          1,
        );

        assert.equal(expo.value('larder_task_enqueued_total', { task: 'metrics-add' }), 1);
        assert.equal(expo.value('larder_task_succeeded_total', { task: 'metrics-add' }), 1);
        assert.equal(expo.value('larder_task_failed_total', { task: 'metrics-add' }), 0);
        assert.equal(expo.value('larder_task_enqueued_total', { task: 'metrics-broken' }), 1);
        assert.equal(expo.value('larder_task_retried_total', { task: 'metrics-broken' }), 1);
        assert.equal(expo.value('larder_task_failed_total', { task: 'metrics-broken' }), 1);
        assert.equal(expo.value('larder_task_succeeded_total', { task: 'metrics-broken' }), 0);
        assert.equal(expo.find('larder_task_queue_depth').length, 0, 'the eager driver has no queues to ask');

        assert.equal(expo.value('larder_pubsub_published_total'), 1);
        assert.equal(expo.value('larder_pubsub_delivered_total'), 2);
        assert.equal(expo.value('larder_events_sent_total'), 1);
        assert.equal(expo.value('larder_sse_clients'), 1);

        // Every family says what it counts; counters end in _total.
        for (const [name, type] of expo.type) {
          assert.ok((expo.help.get(name) ?? '').length > 10, `${name} has a HELP text`);
          if (type === 'counter') assert.ok(name.endsWith('_total'), `${name}: a counter ends in _total`);
        }

        client?.close();
        assert.equal(
          (await scrape(larder)).value('larder_sse_clients'),
          0,
          'a closed stream is no longer counted',
        );
        await Promise.all(stops.map((stop) => stop()));
      } finally {
        await larder.close();
      }
    });
  });
}

describe('Prometheus exposition: options', () => {
  it('metrics: false counts nothing and exposes no samples', async () => {
    const larder = createLarder({ redis: false, metrics: false, logger: false }, {});
    try {
      await larder.cache().set('a', 1);
      await larder.cache().get('a');
      await larder.rateLimiter({ name: 'off', limit: 1, window: 1 }).consume('k');
      await larder.pubsub.publish('ch', 1);
      const expo = await scrape(larder);
      assert.deepEqual(expo.samples, []);
      assert.ok(expo.type.get('larder_cache_operations_total'), 'the families are still described');
      assert.equal(larder.config.metrics.enabled, false);
    } finally {
      await larder.close();
    }
  });

  it('defaultMetrics adds the process metrics; the default leaves them out', async () => {
    const withDefaults = createLarder({ redis: false, metrics: { defaultMetrics: true }, logger: false }, {});
    const without = createLarder({ redis: false, logger: false }, {});
    try {
      assert.ok((await scrape(withDefaults)).type.has('process_cpu_user_seconds_total'));
      assert.ok(!(await scrape(without)).type.has('process_cpu_user_seconds_total'));
    } finally {
      await Promise.all([withDefaults.close(), without.close()]);
    }
  });

  it('a bad metrics option is a ConfigError naming the path', () => {
    assert.throws(() => createLarder({ metrics: 'yes' as never }, {}), { code: 'E_CONFIG', path: 'metrics' });
    assert.throws(() => createLarder({ metrics: { enabled: 1 } as never }, {}), {
      code: 'E_CONFIG',
      path: 'metrics.enabled',
    });
    assert.deepEqual(createLarder({ metrics: true, logger: false }, {}).config.metrics, { enabled: true });
  });
});
