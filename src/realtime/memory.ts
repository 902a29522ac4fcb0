/**
 * The in-process drivers of `larder.pubsub`: a broker that calls listeners on the next
 * microtask (never inside `publish`, as over a network), and an event log that keeps the
 * last `maxLen` events of each channel with Redis-style ids and the same gap bookkeeping.
 * One process only: other processes see nothing of it.
 */
import { globMatcher } from '../cache/glob.js';
import {
  type Broker,
  type EventLog,
  encodeLive,
  type RawListener,
  type ReadResult,
  type StoredEvent,
  type SubscriptionKind,
} from './broker.js';
import { compareIds, nextId, ZERO_ID } from './ids.js';

interface PatternEntry {
  match: (channel: string) => boolean;
  listeners: Set<RawListener>;
}

/**
 * A broker inside this process. Plain and shard channels are one bus here.
 *
 * @example const broker = memoryBroker();
 */
export function memoryBroker(): Broker {
  const channels = new Map<string, Set<RawListener>>();
  const patterns = new Map<string, PatternEntry>();
  const deliver = (channel: string, payload: string): void => {
    for (const listener of channels.get(channel) ?? []) listener(payload, channel);
    for (const entry of patterns.values()) {
      if (!entry.match(channel)) continue;
      for (const listener of entry.listeners) listener(payload, channel);
    }
  };
  return {
    sharded: false,
    async publish(_kind, channel, payload) {
      queueMicrotask(() => deliver(channel, payload));
    },
    async subscribe(kind: SubscriptionKind, name: string, listener: RawListener) {
      if (kind === 'pattern') {
        let entry = patterns.get(name);
        if (!entry) {
          entry = { match: globMatcher(name), listeners: new Set() };
          patterns.set(name, entry);
        }
        entry.listeners.add(listener);
        return async () => {
          entry.listeners.delete(listener);
          if (entry.listeners.size === 0 && patterns.get(name) === entry) patterns.delete(name);
        };
      }
      let set = channels.get(name);
      if (!set) {
        set = new Set();
        channels.set(name, set);
      }
      set.add(listener);
      return async () => {
        set.delete(listener);
        if (set.size === 0 && channels.get(name) === set) channels.delete(name);
      };
    },
    onReconnect: () => () => {},
    async close() {
      channels.clear();
      patterns.clear();
    },
  };
}

interface MemoryStream {
  events: StoredEvent[];
  last: string;
  trimmed: string;
}

/**
 * An event log inside this process, announcing appends on `broker`. Trims exactly to
 * `maxLen` (Redis trims about there).
 *
 * @example const log = memoryEventLog(broker, { maxLen: 1000 });
 */
export function memoryEventLog(broker: Broker, options: { maxLen: number; now?: () => number }): EventLog {
  const streams = new Map<string, MemoryStream>();
  const now = options.now ?? Date.now;
  const liveChannel = (channel: string) => ({ kind: 'channel' as const, name: `larder:live:${channel}` });
  return {
    liveChannel,
    async append(channel, type, data) {
      let stream = streams.get(channel);
      if (!stream) {
        stream = { events: [], last: ZERO_ID, trimmed: ZERO_ID };
        streams.set(channel, stream);
      }
      const id = nextId(stream.last, now());
      stream.last = id;
      stream.events.push({ id, type, data });
      if (stream.events.length > options.maxLen) {
        const removed = stream.events.splice(0, stream.events.length - options.maxLen);
        stream.trimmed = removed.at(-1)!.id;
      }
      await broker.publish('channel', liveChannel(channel).name, encodeLive(id, type, data));
      return id;
    },
    async read(channel, after, count): Promise<ReadResult> {
      const stream = streams.get(channel);
      if (!stream) return { events: [], last: ZERO_ID, trimmed: ZERO_ID };
      if (after === '') return { events: [], last: stream.last, trimmed: stream.trimmed };
      // Binary search for the first event after `after`.
      let lo = 0;
      let hi = stream.events.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareIds(stream.events[mid]!.id, after) <= 0) lo = mid + 1;
        else hi = mid;
      }
      return { events: stream.events.slice(lo, lo + count), last: stream.last, trimmed: stream.trimmed };
    },
  };
}
