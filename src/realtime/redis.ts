/**
 * The Redis drivers of `larder.pubsub`.
 *
 * - Broker: PUBLISH / SUBSCRIBE / PSUBSCRIBE; on Cluster, plain channels go over sharded
 *   pub/sub (SPUBLISH / SSUBSCRIBE: a message travels to one shard, not the whole cluster
 *   bus). Every subscription of a process shares one subscriber connection (the
 *   `'subscriber'` role, which the cache's stampede wake-ups use too); node-redis keeps one
 *   SUBSCRIBE per name on it and restores them all after a reconnect, and `onReconnect`
 *   tells the event streams so they can read what the outage hid.
 * - Event log: one Redis Stream per channel (`larder:events:{<channel>}`), trimmed with
 *   `XADD … MAXLEN ~ <streamMaxLen>`. `APPEND` adds the entry and announces it on
 *   `larder:live:{<channel>}` in one script — atomic, so announcements leave in the
 *   stream's order — and the two names share their hash tag, so on Cluster the script may
 *   SPUBLISH on the stream's own shard.
 */
import type { RedisConnection } from '../redis/connection.js';
import { defineScript } from '../redis/script.js';
import type {
  Broker,
  EventLog,
  RawListener,
  ReadResult,
  ReconnectListener,
  StoredEvent,
  SubscriptionKind,
} from './broker.js';
import { compareIds, ZERO_ID } from './ids.js';

/**
 * Adds one event and announces it (KEYS[1] the stream; ARGV: max length, type, data, the
 * publish command, the live channel). Returns the new id.
 */
const APPEND = defineScript(
  1,
  `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 't', ARGV[2], 'd', ARGV[3])
-- In the same script: no other append can come between the entry and its announcement.
redis.call(ARGV[4], ARGV[5], id .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[3])
return id`,
);

/**
 * Reads after an id (KEYS[1] the stream; ARGV: the id, '' for none, and a count). Returns
 * { last-generated-id, max-deleted-entry-id, first entry id or false, whether any entry
 * was ever removed, entries }, read in one atomic step, so the gap verdict and the entries
 * agree. Trimming does not move max-deleted-entry-id (only XDEL does, Redis 7.0); it
 * removes from the head, so everything trimmed is older than the first entry left.
 */
const READ = defineScript(
  1,
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'0-0', '0-0', false, 0, {}} end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local last, deleted, first, length, added = '0-0', '0-0', false, 0, false
for i = 1, #info, 2 do
  local k = info[i]
  if k == 'last-generated-id' then last = info[i + 1]
  elseif k == 'max-deleted-entry-id' then deleted = info[i + 1]
  elseif k == 'length' then length = info[i + 1]
  elseif k == 'entries-added' then added = info[i + 1]
  elseif k == 'first-entry' and info[i + 1] then first = info[i + 1][1] end
end
-- Redis < 7 does not count additions: assume entries were removed.
local removed = 1
if added and added <= length then removed = 0 end
if ARGV[1] == '' then return {last, deleted, first, removed, {}} end
-- pcall: an id at the very top of the range has no exclusive successor.
local entries = redis.pcall('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
if type(entries) == 'table' and entries.err then entries = {} end
return {last, deleted, first, removed, entries}`,
);

/**
 * The id just before `id`: the newest id trimming may have removed when `id` is the first
 * left (the exact one is gone, so a client exactly there gets a gap it did not need).
 */
function previousId(id: string): string {
  const [ms, seq] = id.split('-') as [string, string];
  if (seq !== '0') return `${ms}-${BigInt(seq) - 1n}`;
  return ms === '0' ? ZERO_ID : `${BigInt(ms) - 1n}-18446744073709551615`;
}

/** The stream key of a channel. */
export function streamKey(channel: string): string {
  return `larder:events:{${channel}}`;
}

/**
 * A broker on Redis: commands on `commands`, subscriptions on `subscriber` (a dedicated
 * connection: a subscribed socket carries pushes).
 *
 * @example const broker = redisBroker(larder.connection(loc), larder.connection(loc, 'subscriber'));
 */
export function redisBroker(commands: RedisConnection, subscriber: RedisConnection): Broker {
  const sharded = commands.topology === 'cluster';
  const listeners = new Set<ReconnectListener>();
  let client: Promise<any> | undefined;
  const lost = () => {
    for (const listener of listeners) listener.lost();
  };
  const restored = () => {
    for (const listener of listeners) listener.restored();
  };
  // Standalone: the socket's 'error' / 'reconnecting' come before anything of the new
  // socket; node-redis restores the subscriptions before 'ready'. Cluster: the same per
  // node client (the pub/sub ones included), as node-* events.
  const events = sharded
    ? { lost: ['node-error', 'node-reconnecting'], restored: 'node-ready' }
    : { lost: ['error', 'reconnecting'], restored: 'ready' };
  // One pinned client: an unsubscribe must reach the socket its subscribe went to.
  const subscriberClient = (): Promise<any> => {
    client ??= subscriber.ready().then(() => {
      const c = subscriber.client;
      for (const name of events.lost) c.on(name, lost);
      c.on(events.restored, restored);
      return c;
    });
    client.catch(() => {
      client = undefined;
    });
    return client;
  };
  return {
    sharded,
    async publish(kind, channel, payload) {
      if (kind === 'shard' && sharded) await commands.send(['SPUBLISH', channel, payload], { key: channel });
      // On Cluster any node relays a PUBLISH to all; always the channel's node, so one
      // channel's messages keep their order over the cluster bus.
      else await commands.send(['PUBLISH', channel, payload], { key: channel });
    },
    async subscribe(kind: SubscriptionKind, name: string, listener: RawListener) {
      const c = await subscriberClient();
      // node-redis passes (message, channel) for all three kinds.
      const handler = (message: string, channel: string) => listener(String(message), String(channel));
      if (kind === 'pattern') await c.pSubscribe(name, handler);
      else if (kind === 'shard' && sharded) await c.sSubscribe(name, handler);
      else await c.subscribe(name, handler);
      return async () => {
        try {
          if (kind === 'pattern') await c.pUnsubscribe(name, handler);
          else if (kind === 'shard' && sharded) await c.sUnsubscribe(name, handler);
          else await c.unsubscribe(name, handler);
        } catch {
          // The socket is down: the subscription died with it, and node-redis forgot the
          // listener, so it is not restored on reconnect.
        }
      };
    },
    onReconnect(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
      const c = await client?.catch(() => undefined);
      if (!c) return;
      for (const name of events.lost) c.off(name, lost);
      c.off(events.restored, restored);
    },
  };
}

/**
 * The event log on Redis Streams: about `maxLen` entries per channel, announced on the
 * broker's bus (sharded on Cluster).
 *
 * @example const log = redisEventLog(larder.connection(loc), { maxLen: 10_000 });
 */
export function redisEventLog(commands: RedisConnection, options: { maxLen: number }): EventLog {
  const sharded = commands.topology === 'cluster';
  const maxLen = String(options.maxLen);
  const liveChannel = (channel: string) => ({
    kind: sharded ? ('shard' as const) : ('channel' as const),
    name: `larder:live:{${channel}}`,
  });
  return {
    liveChannel,
    append(channel, type, data) {
      return APPEND.run<string>(
        commands,
        [streamKey(channel)],
        [maxLen, type, data, sharded ? 'SPUBLISH' : 'PUBLISH', liveChannel(channel).name],
      ).then(String);
    },
    async read(channel, after, count): Promise<ReadResult> {
      const [last, deleted, first, removed, entries] = await READ.run<
        [string, string, string | null, number, unknown[]]
      >(commands, [streamKey(channel)], [after, count]);
      let trimmed = String(deleted ?? ZERO_ID);
      if (Number(removed) === 1 && first) {
        const beforeFirst = previousId(String(first));
        if (compareIds(beforeFirst, trimmed) > 0) trimmed = beforeFirst;
      }
      return { last: String(last), trimmed, events: (entries ?? []).map(toEvent) };
    },
  };
}

function toEvent(entry: unknown): StoredEvent {
  const [id, fields] = entry as [string, Array<string>];
  let type = 'message';
  let data = 'null';
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (String(fields[i]) === 't') type = String(fields[i + 1]);
    else if (String(fields[i]) === 'd') data = String(fields[i + 1]);
  }
  return { id: String(id), type, data };
}
