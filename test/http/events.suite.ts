/**
 * Event streams (SSE) over real HTTP, shared by the three adapters: each adapter's test file
 * calls `eventsSuite` with a `start` that serves the routes below on its framework.
 *
 * Routes `start` must register (channel names come in `channels`):
 * - `GET /events` — `events([channels.a], { heartbeat: '200ms' })`;
 * - `GET /multi` — `events([channels.a, channels.b])`;
 * - `GET /private` — `events([channels.a], { authorize })` where authorize is true only when
 *   the request has the header `x-token: let-me-in` (and was given the channels);
 * - `GET /slow` — `events([channels.slow], { maxBufferedBytes: 64 * 1024, heartbeat: false })`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLarder, type Larder } from '../../src/larder.js';
import { openSse, type SseClient } from '../realtime/sse-client.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

/** The channels a suite run uses. */
export interface EventChannelsForTest {
  a: string;
  b: string;
  slow: string;
}

export interface ServedEvents {
  base: string;
  close(): Promise<void>;
}

/** Runs the shared SSE cases against `framework` on memory and Redis standalone. */
export function eventsSuite(
  framework: string,
  start: (larder: Larder, channels: EventChannelsForTest) => Promise<ServedEvents>,
) {
  for (const target of ['memory', 'standalone'] as const) {
    describe(`${framework} events (${target})`, () => {
      let larder: Larder;
      let served: ServedEvents;
      const channels: EventChannelsForTest = {
        a: uniquePrefix('sse-a'),
        b: uniquePrefix('sse-b'),
        slow: uniquePrefix('sse-slow'),
      };
      const open: SseClient[] = [];
      const connect = async (path: string, options: Parameters<typeof openSse>[1] = {}) => {
        const client = await openSse(`${served.base}${path}`, options);
        open.push(client);
        return client;
      };
      const send = (channel: string, data: unknown, event?: string) =>
        larder.pubsub.sendEvent(channel, data, event ? { event } : {});
      /** Waits until the client holds an id (the position line after its replay). */
      const joined = (client: SseClient) => client.waitFor((c) => c.lastEventId !== '');

      before(async () => {
        larder = createLarder(
          {
            logger: false,
            redis: target === 'memory' ? false : redisUrlFor('standalone')!,
            pubsub: { streamMaxLen: 10 },
          },
          {},
        );
        served = await start(larder, channels);
      });
      after(async () => {
        for (const client of open) client.close();
        await served.close();
        await larder.close();
      });

      test('events reach a connected client with ids, types and JSON data', async () => {
        const client = await connect('/events');
        assert.equal(client.status, 200);
        assert.match(String(client.headers['content-type']), /^text\/event-stream/);
        assert.match(String(client.headers['cache-control']), /no-cache/);
        await joined(client);
        const id1 = await send(channels.a, { sku: 'mug', qty: 2 }, 'bought');
        const id2 = await send(channels.a, 'plain');
        await client.waitFor(2);
        assert.deepEqual(client.events, [
          { id: id1, event: 'bought', data: '{"sku":"mug","qty":2}' },
          { id: id2, event: 'message', data: '"plain"' },
        ]);
        client.close();
      });

      test('authorize false answers 403 problem+json; true streams', async () => {
        const denied = await connect('/private');
        assert.equal(denied.status, 403);
        assert.match(String(denied.headers['content-type']), /problem\+json/);
        await denied.ended;
        assert.equal(JSON.parse(denied.body()).status, 403);
        const allowed = await connect('/private', { headers: { 'x-token': 'let-me-in' } });
        assert.equal(allowed.status, 200);
        await joined(allowed);
        const id = await send(channels.a, 'secret');
        await allowed.waitFor((c) => c.events.some((e) => e.id === id));
        allowed.close();
      });

      test('a client that reconnects with Last-Event-ID gets every missed event once, in order', async () => {
        const first = await connect('/events');
        await joined(first);
        const sent: string[] = [];
        for (let i = 0; i < 3; i++) sent.push(await send(channels.a, { i }));
        await first.waitFor(3);
        first.close();
        for (let i = 3; i < 8; i++) sent.push(await send(channels.a, { i }));
        // Keep sending while the second connection replays: the switch to live must not lose
        // or repeat what arrives meanwhile.
        let sending = true;
        const during = (async () => {
          for (let i = 8; sending && i < 400; i++) {
            sent.push(await send(channels.a, { i }));
            await new Promise((r) => setImmediate(r));
          }
        })();
        const second = await connect('/events', { lastEventId: first.lastEventId });
        await second.waitFor(5);
        sending = false;
        await during;
        await second.waitFor(sent.length - 3);
        await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(
          second.events.map((e) => e.id),
          sent.slice(3),
        );
        assert.deepEqual(
          second.events.map((e) => JSON.parse(e.data).i),
          sent.slice(3).map((_, k) => k + 3),
        );
        second.close();
      });

      test('a client that saw no event yet resumes from where it joined', async () => {
        const quiet = await connect('/events');
        await joined(quiet);
        const position = quiet.lastEventId;
        quiet.close();
        const missed = [await send(channels.a, 'x'), await send(channels.a, 'y')];
        const back = await connect('/events', { lastEventId: position });
        await back.waitFor(2);
        assert.deepEqual(
          back.events.map((e) => e.id),
          missed,
        );
        back.close();
      });

      test('an id older than what the stream keeps gets a gap event, then live events', async () => {
        const old = await send(channels.a, 'old');
        // streamMaxLen is 10; Redis trims whole stream nodes (about 100 entries).
        let last = old;
        for (let i = 0; i < 300; i++) last = await send(channels.a, i);
        const client = await connect('/events', { lastEventId: old });
        await client.waitFor(1);
        const gap = client.events[0]!;
        assert.equal(gap.event, 'gap');
        assert.deepEqual(JSON.parse(gap.data), { channel: channels.a, reason: 'trimmed', lastEventId: old });
        assert.equal(gap.id, last);
        await joined(client);
        const next = await send(channels.a, 'after the gap');
        await client.waitFor(2);
        assert.deepEqual(client.events[1], { id: next, event: 'message', data: '"after the gap"' });
        client.close();
      });

      test('bad Last-Event-ID values get a gap event, never an error', async () => {
        for (const bad of [
          'garbage',
          '1-2-3',
          '-1-0',
          '1e5-0',
          '99999999999999999999999-0',
          '18446744073709551616-0',
          '18446744073709551615-18446744073709551615',
          'a=b',
          `${encodeURIComponent(channels.a)}=zz`,
          '%E0%A4%A=1-0',
          '='.repeat(50),
          'x'.repeat(9000),
        ]) {
          const client = await connect('/events', { lastEventId: bad });
          assert.equal(client.status, 200, bad);
          await client.waitFor(1);
          const gap = client.events[0]!;
          assert.equal(gap.event, 'gap', bad);
          assert.equal(JSON.parse(gap.data).reason, 'unknown-id', bad);
          await joined(client);
          const id = await send(channels.a, 'still live');
          await client.waitFor((c) => c.events.some((e) => e.id === id));
          client.close();
        }
        // An empty header is no header.
        const blank = await connect('/events', { lastEventId: '' });
        await joined(blank);
        assert.equal(blank.events.length, 0);
        blank.close();
      });

      test('one response follows several channels; its id resumes each of them', async () => {
        const client = await connect('/multi');
        await joined(client);
        const a1 = await send(channels.a, 'a1');
        const b1 = await send(channels.b, 'b1');
        await client.waitFor(2);
        assert.deepEqual(
          client.events.map((e) => e.data),
          ['"a1"', '"b1"'],
        );
        const position = client.lastEventId;
        assert.equal(
          position,
          `${encodeURIComponent(channels.a)}=${a1},${encodeURIComponent(channels.b)}=${b1}`,
        );
        client.close();
        const a2 = await send(channels.a, 'a2');
        const b2 = await send(channels.b, 'b2');
        const a3 = await send(channels.a, 'a3');
        const back = await connect('/multi', { lastEventId: position });
        await back.waitFor(3);
        await new Promise((r) => setTimeout(r, 50));
        const byChannel = (c: SseClient, data: string[]) =>
          c.events.filter((e) => data.includes(JSON.parse(e.data))).map((e) => e.data);
        assert.deepEqual(byChannel(back, ['a2', 'a3']), ['"a2"', '"a3"']);
        assert.deepEqual(byChannel(back, ['b2']), ['"b2"']);
        assert.equal(back.events.length, 3);
        assert.ok(back.lastEventId.includes(a3) && back.lastEventId.includes(b2), back.lastEventId);
        void a2;
        back.close();
      });

      test('heartbeats are comment lines', async () => {
        const client = await connect('/events');
        await client.waitFor((c) => c.comments >= 3);
        assert.equal(client.events.length, 0);
        client.close();
      });

      test('a client that stops reading is dropped; a client that reads gets everything', async () => {
        const slow = await connect('/slow');
        const fast = await connect('/slow');
        await joined(slow);
        await joined(fast);
        slow.pause();
        const blob = 'x'.repeat(32 * 1024);
        const count = 400; // 12.8 MB: past the kernel's socket buffers on loopback
        for (let i = 0; i < count; i++) {
          await send(channels.slow, { i, blob });
          // A burst past the bound within one event-loop turn would drop every client.
          await new Promise((r) => setImmediate(r));
        }
        await fast.waitFor(count, 30_000);
        assert.deepEqual(
          fast.events.map((e) => JSON.parse(e.data).i),
          Array.from({ length: count }, (_, i) => i),
        );
        slow.resume();
        await Promise.race([
          slow.ended,
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error('the slow client was not dropped')), 30_000),
          ),
        ]);
        assert.ok(slow.events.length < count, `the slow client got ${slow.events.length} of ${count}`);
        fast.close();
      });
    });
  }
}
