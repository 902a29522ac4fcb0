/**
 * `larder.pubsub` (DESIGN §4.6): publish/subscribe with JSON messages, and durable event
 * streams for browsers, on the memory driver (one process) or Redis (every process).
 *
 * The facade owns policy — name checks, JSON encoding, one driver subscription per name
 * and kind however many handlers share it (so a process holds one subscriber connection
 * with one SUBSCRIBE per channel) — and the drivers translate (`broker.ts`).
 */
import { PubSubError, SerializationError } from '../errors.js';
import type { PubSubMetrics } from '../metrics/types.js';
import type { Broker, EventLog, StoredEvent, SubscriptionKind } from './broker.js';
import { Feeds } from './feeds.js';
import { compareIds, parseId } from './ids.js';

/** Receives one message; a thrown error or rejected promise is logged, never rethrown. */
export type MessageHandler<T = unknown> = (message: T, channel: string) => void | Promise<void>;

/** Stops one subscription; resolves once the server was told (if this was the last handler). */
export type Unsubscribe = () => Promise<void>;

/** Options of `publish` and `subscribe`. */
export interface ChannelOptions {
  /**
   * On Redis Cluster, plain channels travel over sharded pub/sub (SPUBLISH/SSUBSCRIBE), which
   * pattern subscriptions never hear (Redis matches patterns on the classic bus only). Pass
   * `false` on both sides for a channel that pattern subscribers must hear. No effect
   * elsewhere.
   * @default true
   */
  sharded?: boolean;
}

/** An event read back from a channel's stream. */
export interface ChannelEvent<T = unknown> {
  id: string;
  /** The SSE event type (`'message'` by default). */
  event: string;
  data: T;
}

/** Largest message or event data, in bytes of JSON. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
const MAX_NAME = 1024;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f]/;
/** SSE `event:` values larder sends: no line breaks, nothing exotic. */
const EVENT_TYPE = /^[A-Za-z][\w.:-]{0,63}$/;
/** Redis glob characters: a name with one of them is a pattern. */
const GLOB = /[*?[]/;

/** Throws `PubSubError` unless `name` is a usable channel name. */
export function checkChannel(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME)
    throw new PubSubError(name, `is not a channel name: use a string of 1 to ${MAX_NAME} characters.`);
  if (CONTROL.test(name)) throw new PubSubError(name, 'is not a channel name: it has control characters.');
}

function encode(message: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(message);
  } catch (error) {
    throw new SerializationError(
      `${what} is not JSON-safe (${(error as Error).message}). Send plain data: objects, arrays, strings, numbers, booleans, null.`,
      { cause: error },
    );
  }
  if (text === undefined)
    throw new SerializationError(`${what} is ${typeof message}, which JSON cannot carry. Send plain data.`);
  if (text.length > MAX_MESSAGE_BYTES / 3 && Buffer.byteLength(text) > MAX_MESSAGE_BYTES)
    throw new SerializationError(
      `${what} is ${Buffer.byteLength(text)} bytes of JSON, over the ${MAX_MESSAGE_BYTES}-byte limit. Send an id and let the receiver fetch the rest.`,
    );
  return text;
}

/** JSON back to a value; text that is not JSON (another program's PUBLISH) stays a string. */
function decode(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

interface Entry {
  handlers: Set<{ fn: MessageHandler<any> }>;
  ready: Promise<() => Promise<void>>;
}

/**
 * Publish/subscribe and event streams over one broker and one event log.
 *
 * @example
 * const stop = await larder.pubsub.subscribe('orders', (order) => console.log(order));
 * await larder.pubsub.publish('orders', { id: 7, total: 42 });
 * await larder.pubsub.sendEvent('orders', { sku: 'mug' }, { event: 'bought' }); // SSE, replayable
 * await stop();
 */
export class PubSub {
  /** The per-process fan-out behind `web.events()`. */
  readonly feeds: Feeds;
  #entries = new Map<string, Entry>();
  #log: (level: 'info' | 'warn' | 'error', message: string) => void;
  readonly #metrics: PubSubMetrics | undefined;
  #closed = false;

  /** `metrics`: the counters `larder.metrics` reads (published, delivered, events); absent: not counted. */
  constructor(
    readonly broker: Broker,
    readonly eventLog: EventLog,
    log: (level: 'info' | 'warn' | 'error', message: string) => void = () => {},
    metrics?: PubSubMetrics,
  ) {
    this.#log = log;
    this.#metrics = metrics;
    this.feeds = new Feeds(eventLog, broker);
  }

  /**
   * Publishes `message` (JSON-safe data) on `channel`: every subscriber that is listening
   * now gets it once; nobody else ever will (use `sendEvent` for history and replay).
   *
   * @throws {SerializationError} when `message` is not JSON-safe or over 1 MiB
   * @example await larder.pubsub.publish('orders', { id: 7 });
   */
  async publish(channel: string, message: unknown, options: ChannelOptions = {}): Promise<void> {
    checkChannel(channel);
    const payload = encode(message, 'the message');
    await this.broker.publish(this.#shard(options) ? 'shard' : 'channel', channel, payload);
    if (this.#metrics) this.#metrics.published++;
  }

  /**
   * Calls `handler` with every message published on `channelOrPattern` from now on. A name
   * with `*`, `?` or `[` is a Redis glob pattern (`'orders.*'`); `handler` gets the message
   * and the channel it came on. Resolves once the subscription is live, with the function
   * that ends it.
   *
   * @example
   * const unsubscribe = await larder.pubsub.subscribe('orders.*', (msg, channel) => console.log(channel, msg));
   * await unsubscribe();
   */
  async subscribe<T = unknown>(
    channelOrPattern: string,
    handler: MessageHandler<T>,
    options: ChannelOptions = {},
  ): Promise<Unsubscribe> {
    checkChannel(channelOrPattern);
    if (typeof handler !== 'function')
      throw new PubSubError(handler, 'is not a handler: pass a function (message, channel) => void.');
    if (this.#closed) throw new PubSubError(channelOrPattern, 'cannot be subscribed: larder was closed.');
    const kind: SubscriptionKind = GLOB.test(channelOrPattern)
      ? 'pattern'
      : this.#shard(options)
        ? 'shard'
        : 'channel';
    const key = `${kind}\u0000${channelOrPattern}`;
    let entry = this.#entries.get(key);
    if (!entry) {
      const created: Entry = {
        handlers: new Set(),
        ready: this.broker.subscribe(kind, channelOrPattern, (payload, channel) =>
          this.#dispatch(created, payload, channel),
        ),
      };
      entry = created;
      this.#entries.set(key, created);
      created.ready.catch(() => {
        if (this.#entries.get(key) === created) this.#entries.delete(key);
      });
    }
    const token = { fn: handler as MessageHandler<any> };
    entry.handlers.add(token);
    const current = entry;
    try {
      await current.ready;
    } catch (error) {
      current.handlers.delete(token);
      throw error;
    }
    let done: Promise<void> | undefined;
    return () => {
      done ??= (async () => {
        current.handlers.delete(token);
        if (current.handlers.size > 0) return;
        if (this.#entries.get(key) === current) this.#entries.delete(key);
        await (await current.ready)();
      })();
      return done;
    };
  }

  /**
   * Appends an event to `channel`'s stream (about `pubsub.streamMaxLen` kept) and delivers
   * it live to every `web.events()` response following the channel, in every process.
   * Resolves with the event's id (`<ms>-<seq>`), which browsers send back as `Last-Event-ID`.
   *
   * @throws {SerializationError} when `data` is not JSON-safe or over 1 MiB
   * @example const id = await larder.pubsub.sendEvent('orders', { sku: 'mug' }, { event: 'bought' });
   */
  async sendEvent(channel: string, data: unknown, options: { event?: string } = {}): Promise<string> {
    checkChannel(channel);
    const type = options.event ?? 'message';
    if (typeof type !== 'string' || !EVENT_TYPE.test(type))
      throw new PubSubError(type, 'is not an event type: use a letter then up to 63 of [A-Za-z0-9_.:-].');
    const id = await this.eventLog.append(channel, type, encode(data, 'the event data'));
    if (this.#metrics) this.#metrics.events++;
    return id;
  }

  /**
   * Reads `channel`'s stream after `after` (default: from the oldest kept), at most `limit`
   * events (default 100, at most 1000). `gap` is true when events after `after` were
   * trimmed; `last` is the newest id the channel has had.
   *
   * @example const { events } = await larder.pubsub.history('orders', { after: lastSeen });
   */
  async history<T = unknown>(
    channel: string,
    options: { after?: string; limit?: number } = {},
  ): Promise<{ events: Array<ChannelEvent<T>>; gap: boolean; last: string }> {
    checkChannel(channel);
    const after = options.after === undefined ? '0-0' : parseId(options.after);
    if (after === undefined) throw new PubSubError(options.after, 'is not an event id (<ms>-<seq>).');
    const limit = Math.min(Math.max(1, Math.trunc(options.limit ?? 100)), 1000);
    const page = await this.eventLog.read(channel, after, limit);
    return {
      events: page.events.map((e: StoredEvent) => ({ id: e.id, event: e.type, data: decode(e.data) as T })),
      gap: compareIds(after, page.trimmed) < 0,
      last: page.last,
    };
  }

  /** Ends every event stream and subscription. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.feeds.close();
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(entries.map((e) => e.ready.then((stop) => stop()).catch(() => {})));
    await this.broker.close();
  }

  #shard(options: ChannelOptions): boolean {
    return this.broker.sharded && options.sharded !== false;
  }

  #dispatch(entry: Entry, payload: string, channel: string): void {
    if (entry.handlers.size === 0) return;
    const message = decode(payload);
    if (this.#metrics) this.#metrics.delivered += entry.handlers.size;
    for (const { fn } of entry.handlers) {
      try {
        const result = fn(message, channel);
        if (result && typeof (result as Promise<void>).then === 'function')
          (result as Promise<void>).catch((error) => this.#failed(channel, error));
      } catch (error) {
        this.#failed(channel, error);
      }
    }
  }

  #failed(channel: string, error: unknown): void {
    this.#log('error', `larder pubsub: a handler for ${JSON.stringify(channel)} failed: ${String(error)}`);
  }
}
