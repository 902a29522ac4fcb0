/**
 * Bad input to event streams (issue 12): any `Last-Event-ID` (garbage, huge, negative,
 * non-ids, raw UTF-8 bytes, channel lists with unknown or encoded names) and any channel name
 * a route takes from the request, sent to `web.events()` over real HTTP on Express, on memory
 * and Redis standalone. Each answer is a stream that starts cleanly — its replay is only events
 * that were sent, a gap is announced as one, and it ends its replay with an id that resumes
 * without a gap — or a typed 4xx; never a 500, never a crash. test/http/events.suite.ts
 * covers a dozen fixed bad ids; this runs thousands.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import fc from 'fast-check';
import { adapt } from '../../src/adapters/express.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, type Target, uniquePrefix } from '../support/conformance.js';
import { hostileString } from './support.js';

const RUNS: Record<Target, number> = { memory: 900, standalone: 700, cluster: 0 };
const SENT = ['e0', 'e1', 'e2', 'e3', 'e4'];

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

interface Opened {
  status: number;
  contentType: string;
  /** The events up to and including the position line that ends the replay (200 only). */
  events: SseEvent[];
  /** The body of a non-200 answer. */
  body: string;
}

/** Header text as its UTF-8 bytes (Node's client writes header strings as latin1). */
const onTheWire = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

function parseEvents(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event: SseEvent = {};
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue; // comments (':ok', heartbeats)
        const field = line.slice(0, colon) as keyof SseEvent;
        event[field] = line.slice(colon + 1).replace(/^ /, '');
      }
      return event;
    })
    .filter((event) => Object.keys(event).length > 0);
}

/** Opens `path`, reads until the replay's position line (`id:` alone), then hangs up. */
function open(port: number, path: string, lastEventId?: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = onTheWire(lastEventId);
    const request = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.setEncoding('utf8');
      let text = '';
      // A guard against a stream that never ends its replay (a failure, not a timing assertion).
      const guard = setTimeout(() => {
        res.destroy();
        reject(
          new Error(
            `no position line within 10 s for ${JSON.stringify(lastEventId?.slice(0, 80))}: ${text.slice(0, 300)}`,
          ),
        );
      }, 10_000);
      const done = (events: SseEvent[]) => {
        clearTimeout(guard);
        res.destroy();
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type']),
          events,
          body: text,
        });
      };
      res.on('data', (chunk: string) => {
        text += chunk;
        if (res.statusCode !== 200) return;
        const events = parseEvents(text.slice(0, text.lastIndexOf('\n\n') + 2));
        if (events.some((e) => e.id !== undefined && e.event === undefined && e.data === undefined))
          done(events);
      });
      res.on('end', () => done(parseEvents(text)));
    });
    request.on('error', reject);
  });
}

/** Last-Event-ID values: garbage, id-shaped, channel lists with real, unknown and encoded names, huge. */
function lastEventIds(channel: string, realIds: () => string[]): fc.Arbitrary<string> {
  const number = fc.oneof(
    fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
    fc.constantFrom('0', '-0', '1e5', 'NaN', 'Infinity', '18446744073709551616', '0x10', ' 1', '1.5', ''),
  );
  const streamId = fc.oneof(
    fc.tuple(number, number).map(([a, b]) => `${a}-${b}`),
    fc.constantFrom('-', '1-', '-1', '1-2-3', '*', '$', '>', '+'),
    // A real id (the oldest are trimmed from the log of three, the newer ones replay).
    fc.nat().map((n) => {
      const ids = realIds();
      return ids[n % ids.length] ?? '0-0';
    }),
  );
  const name = fc.oneof(
    fc.constant(encodeURIComponent(channel)),
    fc.constant(channel),
    hostileString(20),
    fc.constantFrom('%', '%E0%A4%A', '%00', '=', ','),
  );
  const list = fc
    .array(fc.tuple(name, streamId), { minLength: 1, maxLength: 3 })
    .map((pairs) => pairs.map(([n, id]) => `${n}=${id}`).join(','));
  return fc.oneof(
    { weight: 3, arbitrary: streamId },
    { weight: 3, arbitrary: list },
    { weight: 3, arbitrary: hostileString(300) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 12_000 }).map((n) => '9'.repeat(n)) },
  );
}

for (const target of ['memory', 'standalone'] as Target[]) {
  describe(`bad input: Last-Event-ID and channel names to web.events() [${target}]`, () => {
    let larder: Larder;
    let server: http.Server;
    let port: number;
    const channel = uniquePrefix('bad-sse');
    const ids: string[] = [];

    before(async () => {
      larder = createLarder(
        { logger: false, redis: redisUrlFor(target) ?? false, pubsub: { streamMaxLen: 3 } },
        {},
      );
      const web = adapt(larder);
      const app = express();
      app.get('/events', web.events([channel], { heartbeat: false }));
      app.get(
        '/dyn',
        web.events((req) => [String(req.query.c ?? '')], { heartbeat: false }),
      );
      // Whatever escapes the middleware: render it, so the property sees its status.
      app.use(((error, _req, res, _next) => {
        res
          .status(500)
          .type('text')
          .send(String(error?.stack ?? error));
      }) as express.ErrorRequestHandler);
      server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      port = (server.address() as AddressInfo).port;
      // Five events with a log of three: the oldest ids are trimmed, the newest replayable.
      for (const data of SENT) ids.push(await larder.pubsub.sendEvent(channel, data));
    });
    after(async () => {
      await new Promise((resolve) => server.close(resolve));
      await larder.close();
    });

    it('any Last-Event-ID: a clean start (replay of sent events, gap announced, a resumable id) or a 4xx', async () => {
      const seen = { replayed: 0, gaps: 0, clean: 0 };
      await fc.assert(
        fc.asyncProperty(
          lastEventIds(channel, () => ids),
          async (lastEventId) => {
            // Node's client sends no control character but tab in a header (nor would a browser).
            // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
            const id = lastEventId.replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, '');
            const opened = await open(port, '/events', id);
            assert.ok(opened.status < 500, `status ${opened.status}: ${opened.body.slice(0, 400)}`);
            if (opened.status !== 200) {
              assert.ok(opened.status === 400 || opened.status === 431, `status ${opened.status}`);
              return;
            }
            assert.match(opened.contentType, /^text\/event-stream/);
            const position = opened.events.at(-1)!;
            assert.ok(position.id, 'the replay ends with a position line');
            for (const event of opened.events.slice(0, -1)) {
              if (event.event === 'gap') {
                assert.ok(['unknown-id', 'trimmed'].includes(JSON.parse(event.data!).reason), event.data);
                seen.gaps++;
              } else {
                assert.ok(
                  SENT.includes(JSON.parse(event.data!)),
                  `replayed an event never sent: ${event.data}`,
                );
                seen.replayed++;
              }
            }
            // The id it ends with resumes without a gap and without replaying anything.
            const again = await open(port, '/events', position.id);
            assert.equal(again.status, 200);
            assert.deepEqual(again.events.slice(0, -1), [], `resuming from ${position.id}`);
            seen.clean++;
          },
        ),
        { numRuns: RUNS[target] },
      );
      assert.ok(seen.replayed > 20 && seen.gaps > 20 && seen.clean > RUNS[target] / 2, JSON.stringify(seen));
    });

    it('any channel name from the request: a stream or a typed 4xx, never a 500', async () => {
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(fc.oneof(hostileString(300), fc.constant(channel)), async (name) => {
          // A URL carries bytes: a lone surrogate arrives as U+FFFD, as a browser would send it.
          const opened = await open(port, `/dyn?c=${encodeURIComponent(name.toWellFormed())}`);
          statuses.set(opened.status, (statuses.get(opened.status) ?? 0) + 1);
          assert.ok(
            [200, 400, 404].includes(opened.status),
            `status ${opened.status}: ${opened.body.slice(0, 300)}`,
          );
          if (opened.status !== 200) assert.match(JSON.parse(opened.body).detail, /\w/);
        }),
        { numRuns: Math.round(RUNS[target] / 2) },
      );
      assert.ok(
        (statuses.get(200) ?? 0) > 10 && (statuses.get(400) ?? 0) > 10,
        JSON.stringify([...statuses]),
      );
    });

    it('healthy afterwards: a client joins and receives a new event live', async () => {
      const client = http.get({ host: '127.0.0.1', port, path: '/events', agent: false });
      const response = await new Promise<http.IncomingMessage>((resolve) => client.once('response', resolve));
      response.setEncoding('utf8');
      let text = '';
      const joined = new Promise<void>((resolve) =>
        response.on('data', (chunk: string) => {
          text += chunk;
          if (/(^|\n)id: /.test(text)) resolve();
        }),
      );
      await joined;
      const sent = await larder.pubsub.sendEvent(channel, 'live');
      await new Promise<void>((resolve, reject) => {
        // A guard against an event that never arrives (a failure, not a timing assertion).
        const guard = setTimeout(
          () => reject(new Error(`event ${sent} not delivered in 10 s: ${text}`)),
          10_000,
        );
        const check = () => {
          if (!text.includes(`id: ${sent}`)) return;
          clearTimeout(guard);
          resolve();
        };
        response.on('data', check);
        check();
      });
      assert.match(text, /data: "live"/);
      response.destroy();
    });
  });
}
