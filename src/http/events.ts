/**
 * Server-Sent Events, framework-neutral: what `web.events(channels, options)` serves in
 * every adapter (the adapters only hand in the request and a sink over their response).
 *
 * A response follows one or more channels of `larder.pubsub` (see `realtime/feeds.ts` for
 * how events reach every process and how replay switches to live with no loss and no
 * duplicate). The wire format:
 *
 * - every event carries an `id:` — the channel's stream id (`1700000000000-0`), or, when
 *   the response follows several channels, every channel's position
 *   (`orders=1700000000000-0,news=1700000000123-4`, names percent-encoded), so one
 *   `Last-Event-ID` resumes them all;
 * - right after the replay, an `id:` line with no data records the position without
 *   firing an event (WHATWG HTML §9.2.6 sets `lastEventId` before it drops an empty
 *   event), so a browser that saw no event yet still resumes from where it joined;
 * - `event: gap` (data `{ channel, reason, lastEventId }`) when the events after the
 *   browser's id were trimmed (`reason: 'trimmed'`), or its id is malformed or unknown to
 *   the log (`'unknown-id'`); the stream then goes on live;
 * - a comment line (`:`) every `heartbeat`, so proxies keep the connection and dead
 *   peers are noticed.
 *
 * Backpressure: a response whose unsent bytes exceed `maxBufferedBytes` is ended (the
 * browser reconnects and replays from its `Last-Event-ID` once it can keep up); nothing is
 * buffered without bound.
 */
import type { ServerResponse } from 'node:http';
import { parseDuration } from '../config/duration.js';
import { ConfigError, LarderError } from '../errors.js';
import type { Larder } from '../larder.js';
import type { StoredEvent } from '../realtime/broker.js';
import type { Follower, GapReason } from '../realtime/feeds.js';
import { parseId } from '../realtime/ids.js';
import { checkChannel } from '../realtime/pubsub.js';
import type { NeutralResponse } from './health.js';
import { errorResponse, problemResponse } from './problem.js';

/** The channels a response follows: fixed, or chosen per request. */
export type EventChannels<Req> =
  | readonly string[]
  | ((request: Req) => readonly string[] | Promise<readonly string[]>);

/** Options of `web.events()`. */
export interface EventsOptions<Req> {
  /**
   * Decides whether this request may follow `channels`; `false` answers 403. Runs before
   * anything is subscribed.
   * @default every request may
   */
  authorize?: (request: Req, channels: readonly string[]) => boolean | Promise<boolean>;
  /** Comment line interval (seconds, or `'15s'`); `false` for none. @default 15 */
  heartbeat?: number | string | false;
  /** Unsent bytes (socket and response buffers) past which a slow client is dropped. @default 1 MiB */
  maxBufferedBytes?: number;
  /** The browser's reconnection delay, sent as `retry:` (seconds or `'3s'`). @default the browser's (about 3 s) */
  retry?: number | string;
}

/** Where a response's bytes go: the adapter's view of its framework's response. */
export interface EventSink {
  write(chunk: string): void;
  /** Bytes written but not yet sent to the client. */
  buffered(): number;
  /** Ends the response normally. */
  end(): void;
  /** Drops the connection (slow client). */
  destroy(): void;
}

/** A live event-stream response; `close()` when the client has gone (idempotent). */
export interface EventSession {
  close(): void;
}

/** What `open` decided: a plain response (403, 400, 503), or a stream to start. */
export type EventOpening =
  | { kind: 'response'; response: NeutralResponse }
  | { kind: 'stream'; headers: Record<string, string>; start(sink: EventSink): EventSession };

/** The response headers of an event stream. */
export const EVENT_STREAM_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  // no-transform: compression proxies must not buffer the stream; never cached.
  'cache-control': 'no-cache, no-store, no-transform',
  // nginx buffers proxied responses unless told otherwise.
  'x-accel-buffering': 'no',
});

const DEFAULT_MAX_BUFFERED = 1024 * 1024;
/** A `Last-Event-ID` longer than this is not one larder sent. */
const MAX_ID_HEADER = 8192;

/**
 * The neutral half of `web.events()`: checks the options once, then `open(request,
 * lastEventId)` per request.
 *
 * @example
 * const stream = createEventStream(larder, ['orders'], { authorize: (req) => isStaff(req) });
 * const opening = await stream.open(req, req.headers['last-event-id']);
 */
export function createEventStream<Req>(
  larder: Larder,
  channels: EventChannels<Req>,
  options: EventsOptions<Req> = {},
) {
  if (typeof channels !== 'function') {
    if (!Array.isArray(channels) || channels.length === 0)
      throw new ConfigError(
        'events(channels)',
        channels,
        'a non-empty array of channel names, or a function of the request returning one',
      );
    for (const name of channels) {
      try {
        checkChannel(name);
      } catch (error) {
        throw new ConfigError(
          'events(channels)',
          name,
          (error as Error).message.replace(/^pubsub: /, 'a channel name; '),
        );
      }
    }
  }
  if (options.authorize !== undefined && typeof options.authorize !== 'function')
    throw new ConfigError(
      'events(options).authorize',
      options.authorize,
      'a function (request, channels) => boolean',
    );
  const heartbeatMs =
    options.heartbeat === false
      ? 0
      : (parseDuration(options.heartbeat ?? 15, 'events(options).heartbeat') ?? 0);
  const retryMs =
    options.retry === undefined
      ? undefined
      : (parseDuration(options.retry, 'events(options).retry') ?? undefined);
  const maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
  if (!Number.isInteger(maxBuffered) || maxBuffered < 1024)
    throw new ConfigError(
      'events(options).maxBufferedBytes',
      maxBuffered,
      'a whole number of bytes, at least 1024',
    );

  async function open(request: Req, lastEventId: string | undefined): Promise<EventOpening> {
    let names: string[];
    try {
      const chosen = typeof channels === 'function' ? await channels(request) : channels;
      names = [...new Set(chosen)];
      if (names.length === 0) {
        return {
          kind: 'response',
          response: problemResponse({
            type: 'about:blank',
            title: 'Not Found',
            status: 404,
            detail: 'No channels to follow.',
          }),
        };
      }
      for (const name of names) checkChannel(name);
      if (options.authorize && !(await options.authorize(request, names))) {
        return {
          kind: 'response',
          response: problemResponse({
            type: 'about:blank',
            title: 'Forbidden',
            status: 403,
            detail: 'You may not follow these channels.',
          }),
        };
      }
    } catch (error) {
      if (error instanceof LarderError && error.status !== undefined)
        return { kind: 'response', response: errorResponse(error) };
      throw error;
    }
    const resume = parseLastEventId(lastEventId, names);
    const stream = new Stream(larder, names, resume, heartbeatMs, retryMs, maxBuffered);
    try {
      await stream.join();
    } catch (error) {
      stream.close();
      if (error instanceof LarderError && error.status !== undefined)
        return { kind: 'response', response: errorResponse(error) };
      throw error;
    }
    return {
      kind: 'stream',
      headers: { ...EVENT_STREAM_HEADERS },
      start: (sink) => {
        stream.start(sink);
        return stream;
      },
    };
  }
  return { open };
}

/** Where each channel resumes: an id, nothing (join live), or `invalid` (send a gap). */
interface Resume {
  after: Map<string, string>;
  invalid: boolean;
  raw: string | undefined;
}

/**
 * Reads `Last-Event-ID` for `channels`: a plain id (one channel) or `name=id,…`. Anything
 * else — too long, malformed, ids past 2^64 — is `invalid`, never an error.
 */
export function parseLastEventId(header: string | undefined, channels: readonly string[]): Resume {
  const after = new Map<string, string>();
  const raw = header?.trim();
  if (!raw) return { after, invalid: false, raw: undefined };
  const invalid = { after: new Map<string, string>(), invalid: true, raw };
  if (raw.length > MAX_ID_HEADER) return invalid;
  if (!raw.includes('=')) {
    const id = parseId(raw);
    if (id === undefined || channels.length !== 1) return invalid;
    after.set(channels[0]!, id);
    return { after, invalid: false, raw };
  }
  for (const part of raw.split(',')) {
    const eq = part.lastIndexOf('=');
    if (eq <= 0) return invalid;
    let name: string;
    try {
      name = decodeURIComponent(part.slice(0, eq));
    } catch {
      return invalid;
    }
    const id = parseId(part.slice(eq + 1));
    if (id === undefined) return invalid;
    // Channels this response does not follow are ignored; new ones join live.
    if (channels.includes(name)) after.set(name, id);
  }
  return { after, invalid: false, raw };
}

/** One event-stream response. */
class Stream implements EventSession {
  #followers = new Map<string, Follower>();
  /** Each channel's position as the browser will know it. */
  #cursors = new Map<string, string>();
  #sink: EventSink | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Counted in `larder.metrics`' open SSE connections (from start to close). */
  #counted = false;

  constructor(
    readonly larder: Larder,
    readonly channels: string[],
    readonly resume: Resume,
    readonly heartbeatMs: number,
    readonly retryMs: number | undefined,
    readonly maxBuffered: number,
  ) {}

  /** Joins every channel's feed (subscriptions live) before the response starts. */
  async join(): Promise<void> {
    const feeds = this.larder.pubsub.feeds;
    for (const channel of this.channels) {
      const follower = await feeds.follow(
        channel,
        {
          event: (event) => this.#event(channel, event),
          gap: (reason, cursor) => this.#gap(channel, reason, cursor),
          end: (reason) => this.#drop(reason),
        },
        this.maxBuffered,
      );
      if (this.#closed) {
        follower.stop();
        return;
      }
      this.#followers.set(channel, follower);
      this.#cursors.set(channel, this.resume.after.get(channel) ?? follower.cursor);
    }
  }

  start(sink: EventSink): void {
    this.#sink = sink;
    if (this.#closed) {
      sink.end();
      return;
    }
    const metrics = this.larder.metrics.pubsub();
    if (metrics) {
      metrics.sseClients++;
      this.#counted = true;
    }
    this.#write(this.retryMs === undefined ? ':ok\n\n' : `retry: ${this.retryMs}\n\n`);
    if (this.heartbeatMs > 0) {
      this.#timer = setInterval(() => this.#write(':\n\n'), this.heartbeatMs);
      this.#timer.unref();
    }
    void this.#replay();
  }

  async #replay(): Promise<void> {
    try {
      for (const [channel, follower] of this.#followers) {
        if (this.#closed) return;
        if (this.resume.invalid) {
          this.#gap(channel, 'unknown-id', follower.cursor);
          await follower.start(undefined);
        } else {
          await follower.start(this.resume.after.get(channel));
        }
      }
      if (!this.#closed) this.#write(`id: ${this.#id()}\n\n`);
    } catch (error) {
      // The log could not be read: end; the browser resumes from its Last-Event-ID.
      this.larder.log('warn', `larder events: replay failed, ending the stream: ${String(error)}`);
      this.close();
    }
  }

  #event(channel: string, event: StoredEvent): void {
    this.#cursors.set(channel, event.id);
    let frame = `id: ${this.#id()}\n`;
    if (event.type !== 'message') frame += `event: ${event.type}\n`;
    const data = event.data;
    // JSON from larder is one line; data XADDed by another program may not be.
    frame +=
      data.includes('\n') || data.includes('\r')
        ? `data: ${data.split(/\r\n|\r|\n/).join('\ndata: ')}\n\n`
        : `data: ${data}\n\n`;
    this.#write(frame);
  }

  #gap(channel: string, reason: GapReason, cursor: string): void {
    this.#cursors.set(channel, cursor);
    const requested = this.resume.raw === undefined ? null : this.resume.raw.slice(0, 200);
    const data = JSON.stringify({ channel, reason, lastEventId: requested });
    this.#write(`id: ${this.#id()}\nevent: gap\ndata: ${data}\n\n`);
  }

  #id(): string {
    if (this.channels.length === 1) return this.#cursors.get(this.channels[0]!)!;
    let id = '';
    for (const [channel, cursor] of this.#cursors)
      id += `${id ? ',' : ''}${encodeURIComponent(channel)}=${cursor}`;
    return id;
  }

  #write(chunk: string): void {
    const sink = this.#sink;
    if (this.#closed || !sink) return;
    sink.write(chunk);
    if (sink.buffered() > this.maxBuffered) this.#drop('the client is not reading fast enough');
  }

  #drop(reason: string): void {
    if (this.#closed) return;
    this.larder.log(
      'warn',
      `larder events: dropping a client (${reason}); it will resume from its Last-Event-ID.`,
    );
    const sink = this.#sink;
    this.#sink = undefined;
    sink?.destroy();
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#counted) this.larder.metrics.pubsub()!.sseClients--;
    clearInterval(this.#timer);
    for (const follower of this.#followers.values()) follower.stop();
    this.#followers.clear();
    this.#sink?.end();
  }
}

/**
 * A sink over a Node response (Express, Fastify's `reply.raw`): `buffered()` counts the
 * response's own buffer and its socket's.
 *
 * @example const session = opening.start(nodeEventSink(res));
 */
export function nodeEventSink(res: ServerResponse): EventSink {
  return {
    write: (chunk) => {
      res.write(chunk);
    },
    buffered: () => res.writableLength,
    end: () => {
      if (!res.writableEnded) res.end();
    },
    destroy: () => res.destroy(),
  };
}

/**
 * Starts `opening` on a Node response: writes the head, wires `close`, and returns the
 * session. Used by the Express and Fastify adapters.
 */
export function startOnNodeResponse(
  opening: Extract<EventOpening, { kind: 'stream' }>,
  res: ServerResponse,
  headers: Record<string, string | number | string[] | undefined> = {},
): EventSession {
  const head: Record<string, string | number | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) head[name] = value;
  res.writeHead(200, { ...head, ...opening.headers });
  if (res.req?.method === 'HEAD') return headOnly(opening, nodeEventSink(res));
  // Events are small and latency matters more than packet count.
  res.socket?.setNoDelay(true);
  const session = opening.start(nodeEventSink(res));
  // The client may have gone while the feeds were joined: 'close' has then fired already.
  if (res.destroyed || res.socket?.destroyed !== false) session.close();
  else res.once('close', () => session.close());
  return session;
}

/**
 * A HEAD answered with the stream's headers and no body: the session is started (its feeds
 * were joined by `open`) and closed at once, which ends the response. Kept open, Node would
 * never send the head of a bodiless response (it goes out with `end()`), and Hono drops the
 * body of a HEAD unread, so the stream would hold its feeds and timer for nobody.
 */
function headOnly(opening: Extract<EventOpening, { kind: 'stream' }>, sink: EventSink): EventSession {
  const session = opening.start(sink);
  session.close();
  return session;
}

/**
 * A sink feeding a web `ReadableStream` (Hono and other Fetch runtimes): `buffered()` is
 * what the stream holds plus, under @hono/node-server, the Node response's buffer.
 *
 * @example const { body, sink } = webEventSink(() => session.close(), c.env?.outgoing);
 */
export function webEventBody(
  opening: Extract<EventOpening, { kind: 'stream' }>,
  outgoing?: { writableLength?: number; req?: { method?: string } } | undefined,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  // @hono/node-server's response knows the method; Hono answers a HEAD from the GET route.
  if (outgoing?.req?.method === 'HEAD') {
    headOnly(opening, { write() {}, buffered: () => 0, end() {}, destroy() {} });
    return new ReadableStream({ start: (c) => c.close() });
  }
  let session: EventSession | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let done = false;
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      cancel() {
        done = true;
        session?.close();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 0 }),
  );
  session = opening.start({
    write: (chunk) => {
      if (!done) controller.enqueue(encoder.encode(chunk));
    },
    buffered: () => Math.max(0, -(controller.desiredSize ?? 0)) + (outgoing?.writableLength ?? 0),
    end: () => {
      if (done) return;
      done = true;
      controller.close();
    },
    destroy: () => {
      if (done) return;
      done = true;
      // Closing (not erroring) keeps the Node server from logging a stack trace; the
      // queued bytes are discarded with the socket.
      (outgoing as { destroy?: () => void } | undefined)?.destroy?.();
      controller.close();
    },
  });
  return body;
}
