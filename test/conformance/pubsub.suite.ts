/**
 * @module The pub/sub conformance suite (DESIGN §4.6): `larder.pubsub` — publish/subscribe
 * with JSON messages, patterns, many handlers on one subscription, and the event log behind
 * event streams (ids, order, history, gaps) — as an application calls it.
 * `test/realtime/pubsub-conformance.test.ts` runs it on memory, Redis standalone and Cluster.
 *
 * Every case names its channels with a fresh prefix (`fixture.channel()`), so cases and
 * suites sharing one server never hear each other.
 */
import assert from 'node:assert/strict';
import { PubSubError, SerializationError } from '../../src/errors.js';
import type { Larder } from '../../src/larder.js';
import { compareIds } from '../../src/realtime/ids.js';
import { defineSuite, it, type Target } from '../support/conformance.js';

/** What a target hands the suite. */
export interface PubSubFixture {
  target: Target;
  /** A Larder whose pubsub runs on the target (streamMaxLen 10). */
  larder: Larder;
  /** A channel name no other case uses. */
  channel(label?: string): string;
}

/** Resolves once `condition()` holds; fails after `boundMs` (a generous bound, not a timing claim). */
export async function until(condition: () => boolean, what: string, boundMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > boundMs) assert.fail(`not within ${boundMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

defineSuite<PubSubFixture>('pubsub', ({ driver }) => {
  const pubsub = () => driver().larder.pubsub;

  it('a subscriber gets every JSON value published after subscribe resolved', async () => {
    const channel = driver().channel();
    const got: unknown[] = [];
    const stop = await pubsub().subscribe(channel, (m) => {
      got.push(m);
    });
    const values = [
      { id: 7, items: ['a', 'b'], nested: { ok: true } },
      [1, 2],
      'text',
      42,
      0,
      null,
      false,
      '42',
    ];
    for (const value of values) await pubsub().publish(channel, value);
    await until(() => got.length === values.length, 'every message');
    assert.deepEqual(got, values);
    await stop();
  });

  it('messages arrive in publish order, each once', async () => {
    const channel = driver().channel();
    const got: number[] = [];
    const stop = await pubsub().subscribe<number>(channel, (m) => {
      got.push(m);
    });
    await Promise.all(Array.from({ length: 200 }, (_, i) => pubsub().publish(channel, i)));
    await until(() => got.length >= 200, '200 messages');
    assert.deepEqual(
      got,
      Array.from({ length: 200 }, (_, i) => i),
    );
    await stop();
  });

  it('handlers share one subscription; unsubscribing one leaves the others', async () => {
    const channel = driver().channel();
    const a: unknown[] = [];
    const b: unknown[] = [];
    const stopA = await pubsub().subscribe(channel, (m) => {
      a.push(m);
    });
    const stopB = await pubsub().subscribe(channel, (m, ch) => {
      b.push([m, ch]);
    });
    await pubsub().publish(channel, 1);
    await until(() => a.length === 1 && b.length === 1, 'both handlers');
    await stopA();
    await stopA(); // idempotent
    await pubsub().publish(channel, 2);
    await until(() => b.length === 2, 'the remaining handler');
    assert.deepEqual(a, [1]);
    assert.deepEqual(b, [
      [1, channel],
      [2, channel],
    ]);
    await stopB();
    // Nobody listens now; a fresh subscription starts from what comes next.
    await pubsub().publish(channel, 3);
    const c: unknown[] = [];
    const stopC = await pubsub().subscribe(channel, (m) => {
      c.push(m);
    });
    await pubsub().publish(channel, 4);
    await until(() => c.length === 1, 'the new handler');
    assert.deepEqual(c, [4]);
    assert.deepEqual(a, [1]);
    await stopC();
  });

  it('a message on another channel is not delivered', async () => {
    const channel = driver().channel();
    const got: unknown[] = [];
    const stop = await pubsub().subscribe(channel, (m) => {
      got.push(m);
    });
    await pubsub().publish(`${channel}-other`, 'nope');
    await pubsub().publish(channel, 'yes');
    await until(() => got.length === 1, 'the message of this channel');
    assert.deepEqual(got, ['yes']);
    await stop();
  });

  it('a pattern hears every matching channel, with the channel name', async () => {
    const base = driver().channel();
    const got: Array<[unknown, string]> = [];
    const stop = await pubsub().subscribe(`${base}.*`, (m, ch) => {
      got.push([m, ch]);
    });
    // Patterns hear the classic bus only: on Cluster, publish unsharded (documented).
    await pubsub().publish(`${base}.eu`, 'eu', { sharded: false });
    await pubsub().publish(`${base}.us`, 'us', { sharded: false });
    await pubsub().publish(`${base}-x`, 'no match', { sharded: false });
    await pubsub().publish(`${base}.apac`, 'apac', { sharded: false });
    await until(() => got.length === 3, 'three matching messages');
    // Order holds per channel; on Cluster, channels on different nodes may interleave.
    got.sort(
      (x, y) => ['eu', 'us', 'apac'].indexOf(x[0] as string) - ['eu', 'us', 'apac'].indexOf(y[0] as string),
    );
    assert.deepEqual(got, [
      ['eu', `${base}.eu`],
      ['us', `${base}.us`],
      ['apac', `${base}.apac`],
    ]);
    await stop();
  });

  it('a handler that throws or rejects does not stop the others', async () => {
    const channel = driver().channel();
    const got: unknown[] = [];
    const stops = await Promise.all([
      pubsub().subscribe(channel, () => {
        throw new Error('boom');
      }),
      pubsub().subscribe(channel, async () => {
        throw new Error('async boom');
      }),
      pubsub().subscribe(channel, (m) => {
        got.push(m);
      }),
    ]);
    await pubsub().publish(channel, 'a');
    await pubsub().publish(channel, 'b');
    await until(() => got.length === 2, 'both messages');
    assert.deepEqual(got, ['a', 'b']);
    for (const stop of stops) await stop();
  });

  it('a message that is not JSON-safe is refused and nothing is sent', async () => {
    const channel = driver().channel();
    const got: unknown[] = [];
    const stop = await pubsub().subscribe(channel, (m) => {
      got.push(m);
    });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [undefined, () => 1, 10n, cyclic, Symbol('s'), 'x'.repeat(1024 * 1024 + 1)]) {
      await assert.rejects(pubsub().publish(channel, bad), SerializationError);
      await assert.rejects(pubsub().sendEvent(channel, bad), SerializationError);
    }
    await pubsub().publish(channel, 'ok');
    await until(() => got.length === 1, 'the good message');
    assert.deepEqual(got, ['ok']);
    await stop();
  });

  it('bad channel names and event types are refused with PubSubError', async () => {
    for (const bad of ['', 'a\nb', 'tab\there', 'x'.repeat(1025), 42 as unknown as string]) {
      await assert.rejects(pubsub().publish(bad, 1), PubSubError);
      await assert.rejects(
        pubsub().subscribe(bad, () => {}),
        PubSubError,
      );
      await assert.rejects(pubsub().sendEvent(bad, 1), PubSubError);
    }
    for (const type of ['', 'two words', 'line\nbreak', '1st', 'x'.repeat(65)]) {
      await assert.rejects(pubsub().sendEvent(driver().channel(), 1, { event: type }), PubSubError);
    }
  });

  it('sendEvent gives increasing ids; history reads them back in order after an id', async () => {
    const channel = driver().channel();
    const ids: string[] = [];
    for (let i = 0; i < 8; i++)
      ids.push(await pubsub().sendEvent(channel, { i }, { event: i % 2 ? 'odd' : 'even' }));
    for (let i = 1; i < ids.length; i++)
      assert.ok(compareIds(ids[i - 1]!, ids[i]!) < 0, `${ids[i - 1]} < ${ids[i]}`);
    const all = await pubsub().history(channel);
    assert.deepEqual(
      all.events.map((e) => [e.id, e.event, e.data]),
      ids.map((id, i) => [id, i % 2 ? 'odd' : 'even', { i }]),
    );
    assert.equal(all.gap, false);
    assert.equal(all.last, ids.at(-1));
    const after = await pubsub().history(channel, { after: ids[4]!, limit: 2 });
    assert.deepEqual(
      after.events.map((e) => e.id),
      [ids[5], ids[6]],
    );
    const empty = await pubsub().history(driver().channel('never'));
    assert.deepEqual(empty, { events: [], gap: false, last: '0-0' });
  });

  it('history reports a gap once the events after an id were trimmed', async () => {
    const channel = driver().channel();
    const first = await pubsub().sendEvent(channel, 0);
    // streamMaxLen is 10; Redis trims whole stream nodes (~100 entries), so send well past that.
    let last = first;
    for (let i = 1; i < 350; i++) last = await pubsub().sendEvent(channel, i);
    const old = await pubsub().history(channel, { after: first });
    assert.equal(old.gap, true);
    assert.equal(old.last, last);
    const recent = await pubsub().history(channel, { after: last });
    assert.equal(recent.gap, false);
    assert.deepEqual(recent.events, []);
  });

  it('events sent on a channel are not pub/sub messages of that channel', async () => {
    const channel = driver().channel();
    const got: unknown[] = [];
    const stop = await pubsub().subscribe(channel, (m) => {
      got.push(m);
    });
    await pubsub().sendEvent(channel, 'event');
    await pubsub().publish(channel, 'message');
    await until(() => got.length === 1, 'the message');
    assert.deepEqual(got, ['message']);
    await stop();
  });
});
