/**
 * The two contracts under `larder.pubsub` — a message broker (fire-and-forget pub/sub) and
 * an event log (durable, ordered, bounded history per channel, for event streams) — each
 * with a memory and a Redis driver (`memory.ts`, `redis.ts`). The facade (`pubsub.ts`)
 * owns policy: JSON encoding, name checks, one driver subscription per name however many
 * handlers share it.
 */

/** How a name is subscribed: a plain channel, a glob pattern, or a Cluster shard channel. */
export type SubscriptionKind = 'channel' | 'pattern' | 'shard';

/** Receives one raw message (`channel` is the channel it was published on). */
export type RawListener = (payload: string, channel: string) => void;

/** What a broker tells about its subscriber connection. */
export interface ReconnectListener {
  lost(): void;
  restored(): void;
}

/** A message broker: Redis pub/sub semantics (no history, at most once). */
export interface Broker {
  /** True when plain channels are sharded (SPUBLISH / SSUBSCRIBE: Redis Cluster). */
  readonly sharded: boolean;
  /** Publishes `payload` on `channel`; `kind` says which bus (classic or shard). */
  publish(kind: 'channel' | 'shard', channel: string, payload: string): Promise<void>;
  /**
   * Adds `listener` to `name`. Resolves once the subscription is live: a message published
   * after that reaches it. The function returned removes this listener only.
   */
  subscribe(kind: SubscriptionKind, name: string, listener: RawListener): Promise<() => Promise<void>>;
  /**
   * Tells `listener` when the subscriber connection drops (`lost`: messages published from
   * now on may never arrive) and when its subscriptions are restored (`restored`). Returns
   * a function that stops telling.
   */
  onReconnect(listener: ReconnectListener): () => void;
  /** Drops every subscription. */
  close(): Promise<void>;
}

/** One event of a channel's log. */
export interface StoredEvent {
  /** `<ms>-<seq>`, increasing within a channel. */
  id: string;
  /** The SSE event type (`message` unless the sender named one). */
  type: string;
  /** The data, JSON text. */
  data: string;
}

/** What `EventLog.read` finds after an id. */
export interface ReadResult {
  /** Up to `count` events after the id, oldest first. */
  events: StoredEvent[];
  /** The newest id the channel ever had (`'0-0'` for none). */
  last: string;
  /**
   * The newest id trimmed (or deleted) from the channel (`'0-0'` for none): events after
   * an id older than this one are lost.
   */
  trimmed: string;
}

/** A channel's durable history, appended and published in one atomic step. */
export interface EventLog {
  /**
   * Appends an event (retention: about `maxLen` events per channel) and publishes it on
   * `liveChannel(channel)` in the same atomic step, so the live order is the log's order.
   * Resolves with its id.
   */
  append(channel: string, type: string, data: string): Promise<string>;
  /** Up to `count` events after `after` (`''`: none, only `last` and `trimmed`). */
  read(channel: string, after: string, count: number): Promise<ReadResult>;
  /** Where appends are announced: `<id>\n<type>\n<data>` on this channel of the broker. */
  liveChannel(channel: string): { kind: 'channel' | 'shard'; name: string };
}

/** Encodes a live announcement. */
export function encodeLive(id: string, type: string, data: string): string {
  return `${id}\n${type}\n${data}`;
}

/** Decodes a live announcement, or `undefined` for a message that is not one. */
export function decodeLive(payload: string): StoredEvent | undefined {
  const first = payload.indexOf('\n');
  const second = first === -1 ? -1 : payload.indexOf('\n', first + 1);
  if (second === -1) return undefined;
  return {
    id: payload.slice(0, first),
    type: payload.slice(first + 1, second),
    data: payload.slice(second + 1),
  };
}
