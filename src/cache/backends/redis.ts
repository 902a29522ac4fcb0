/**
 * The Redis cache backend: one round trip per call (multi-key calls: one per Cluster slot
 * group, sent together), reads on replicas when the location has them, integers stored as
 * plain Redis integers (the codec's job) so `incr` is one atomic INCRBY.
 */
import calculateSlot from 'cluster-key-slot';
import { CacheValueError } from '../../errors.js';
import type { RedisCommands, RedisConnection } from '../../redis/connection.js';
import { defineScript } from '../../redis/script.js';
import type { CacheBackend, Payload, ReadEntry, StoredEntry, TtlMs } from '../backend.js';

export interface RedisBackendOptions {
  /** The shared connection (`larder.connection(location)`). */
  connection: RedisConnection;
  /** Deadline per command in ms (a cache may be stricter than its connection). @default the connection's */
  commandTimeout?: number;
  /**
   * Read values as bytes. Needed when payloads may be binary (msgpack, compression);
   * plain JSON text reads faster as strings (node-redis' Buffer type mapping costs up to
   * ~2x in throughput, measured in bench/cache.ts). @default false
   */
  binary?: boolean;
}

// incr: missing key → nil (Django raises on incr of a missing key, INCRBY would create it);
// a result outside JavaScript's safe integers is undone and reported, so no client ever
// reads back a number it cannot represent. The result travels as text: node-redis decodes
// integer replies near 2^53 inexactly (9007199254740991 arrives as …992).
const INCR = defineScript(
  1,
  `if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n > 9007199254740991 or n < -9007199254740991 then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  return redis.error_reply('ERR larder: result out of the safe integer range')
end
return redis.call('GET', KEYS[1])`,
);

// getEntry: value and remaining life in one round trip.
const GET_ENTRY = defineScript(1, `return { redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]) }`);

// read: the value, its remaining life and — when the value is an entry envelope naming
// tags (envelope.ts: 0x03, a JSON header, a newline) — the tags' current tokens, in one
// round trip. The tag keys are not declared in KEYS: this script runs only where every
// key lives on one server (never on Cluster, where the backend reads the tokens next).
const READ = defineScript(
  1,
  `local v = redis.call('GET', KEYS[1])
if not v then return false end
local pttl = redis.call('PTTL', KEYS[1])
if string.byte(v, 1) ~= 3 then return { v, pttl } end
local nl = string.find(v, '\\n', 2, true)
if not nl then return { v, pttl } end
local ok, h = pcall(cjson.decode, string.sub(v, 2, nl - 1))
if not ok or type(h) ~= 'table' or type(h.t) ~= 'table' or #h.t == 0 then return { v, pttl } end
local keys = {}
for i, pair in ipairs(h.t) do keys[i] = tostring(pair[1]) end
return { v, pttl, redis.call('MGET', unpack(keys)) }`,
);

// The grace period (ms) of an entry envelope (envelope.ts: 0x03, a JSON header with "g", a
// newline), 0 for anything else: the store keeps such a value timeout + grace (graceOf).
const GRACE_OF = `local function grace_of(v)
  if type(v) ~= 'string' or string.byte(v, 1) ~= 3 then return 0 end
  local nl = string.find(v, '\\n', 2, true)
  if not nl then return 0 end
  local ok, h = pcall(cjson.decode, string.sub(v, 2, nl - 1))
  if ok and type(h) == 'table' and type(h.g) == 'number' and h.g > 0 then return h.g end
  return 0
end
`;

// touch/persist: true when the key exists, whatever its previous expiry (PERSIST alone
// answers 0 for a key that had no expiry). A new timeout is the value's fresh life: an
// envelope's grace is added, as getOrSet stored it (GET via pcall: a key of another type
// has no envelope).
const TOUCH = defineScript(
  1,
  `${GRACE_OF}if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '' then redis.call('PERSIST', KEYS[1]) return 1 end
local ms = tonumber(ARGV[1]) + grace_of(redis.pcall('GET', KEYS[1]))
redis.call('PEXPIRE', KEYS[1], string.format('%d', ms))
return 1`,
);

// ttl: PTTL (-2 missing, -1 no expiry), less an envelope's grace: the value's fresh life
// (-2 once only the grace is left, a miss for get).
const TTL = defineScript(
  1,
  `${GRACE_OF}local pttl = redis.call('PTTL', KEYS[1])
if pttl < 0 then return pttl end
local fresh = pttl - grace_of(redis.pcall('GET', KEYS[1]))
if fresh <= 0 then return -2 end
return fresh`,
);

// Lock release: delete only if the key still holds this holder's token.
const DELETE_IF_EQUALS = defineScript(
  1,
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);

class RedisBackend implements CacheBackend {
  readonly name: string;
  readonly #conn: RedisConnection;
  readonly #timeout: number;
  readonly #cluster: boolean;
  readonly #binary: boolean;

  constructor(options: RedisBackendOptions) {
    this.#binary = options.binary ?? false;
    this.#conn = options.connection;
    this.#timeout = options.commandTimeout ?? options.connection.commandTimeout;
    this.#cluster = options.connection.topology === 'cluster';
    this.name = `redis ${options.connection.name}`;
  }

  // Resolves null on a miss (the contract allows it): mapping it here would cost a
  // promise per call on the hottest path.
  get(key: string): Promise<Payload | undefined> {
    return this.#read<Payload | undefined>((c) => c.get(key));
  }

  async getEntry(key: string): Promise<StoredEntry | undefined> {
    const [payload, pttl] = await this.#script<[Payload | null, number]>(GET_ENTRY, key, []);
    if (payload === null || payload === undefined) return undefined;
    return { payload, expiresAt: pttl < 0 ? null : Date.now() + pttl };
  }

  async read(key: string): Promise<ReadEntry | undefined> {
    if (this.#cluster) {
      // GET and PTTL leave in the same tick: one round trip to the key's node.
      const [payload, pttl] = await Promise.all([
        this.#read<Payload | null>((c) => c.get(key)),
        this.#read<number>((c) => c.pTTL(key)),
      ]);
      if (payload === null || payload === undefined || pttl === -2) return undefined;
      return { payload, pttl: pttl < 0 ? null : pttl };
    }
    const reply = await READ.run<[Payload, number, Array<Payload | null>?] | null>(this.#conn, [key], [], {
      binary: this.#binary,
      timeout: this.#timeout,
      readonly: true,
    });
    if (!reply) return undefined;
    const [payload, pttl, tokens] = reply;
    const entry: ReadEntry = { payload, pttl: pttl < 0 ? null : pttl };
    if (tokens) entry.tagTokens = tokens.map((t) => (t === null || t === undefined ? null : t.toString()));
    return entry;
  }

  set(key: string, payload: Payload, ttl: TtlMs): Promise<void> {
    return this.#write((c) => (ttl === null ? c.set(key, payload) : c.set(key, payload, { PX: ttl }))).then(
      noop,
    );
  }

  add(key: string, payload: Payload, ttl: TtlMs): Promise<boolean> {
    const options = ttl === null ? { NX: true } : { NX: true, PX: ttl };
    return this.#write((c) => c.set(key, payload, options)).then((reply) => reply !== null);
  }

  addOrGet(key: string, payload: Payload, ttl: TtlMs): Promise<Payload | undefined> {
    const options = ttl === null ? { condition: 'NX', GET: true } : { condition: 'NX', GET: true, PX: ttl };
    return this.#write<Payload | null>((c) => c.set(key, payload, options)).then((old) => old ?? undefined);
  }

  delete(key: string): Promise<boolean> {
    return this.#write((c) => c.del(key)).then((n) => n === 1);
  }

  async getMany(keys: readonly string[]): Promise<Array<Payload | undefined>> {
    const out = new Array<Payload | undefined>(keys.length);
    await Promise.all(
      this.#groups(keys).map(async (indexes) => {
        const replies: Array<Payload | null> = await this.#read((c) => c.mGet(indexes.map((i) => keys[i]!)));
        for (let j = 0; j < indexes.length; j++) out[indexes[j]!] = replies[j] ?? undefined;
      }),
    );
    return out;
  }

  async setMany(entries: ReadonlyArray<readonly [string, Payload]>, ttl: TtlMs): Promise<string[]> {
    // One SET per key, all sent in the same tick (node-redis pipelines them: one round trip
    // per node), each settling on its own — so the keys that failed are exactly reported
    // (a MULTI pipeline rejects with its first error and hides which others landed).
    const results = await Promise.allSettled(
      entries.map(([key, payload]) =>
        this.#write((c) => (ttl === null ? c.set(key, payload) : c.set(key, payload, { PX: ttl }))),
      ),
    );
    const failed: string[] = [];
    results.forEach((result, i) => {
      if (result.status === 'rejected') failed.push(entries[i]![0]);
    });
    return failed;
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    const counts = await Promise.all(
      this.#groups(keys).map((indexes) => this.#write<number>((c) => c.del(indexes.map((i) => keys[i]!)))),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  async incr(key: string, delta: number): Promise<number | undefined> {
    try {
      const n = await this.#script<Buffer | string | null>(INCR, key, [String(delta)]);
      return n === null ? undefined : Number(n.toString());
    } catch (error) {
      const message = (error as Error)?.message ?? '';
      if (/not an integer|out of range|overflow|safe integer/.test(message)) {
        throw new CacheValueError(
          key,
          /safe integer|overflow/.test(message)
            ? 'the result would leave the safe integer range (±2^53-1).'
            : 'the stored value is not an integer; incr/decr need an integer value (set it with a number).',
          { cause: error },
        );
      }
      throw error;
    }
  }

  touch(key: string, ttl: TtlMs): Promise<boolean> {
    return this.#script<number>(TOUCH, key, [ttl === null ? '' : String(ttl)]).then((n) => n === 1);
  }

  async ttl(key: string): Promise<number | null> {
    const ms = await TTL.run<number>(this.#conn, [key], [], { timeout: this.#timeout, readonly: true });
    if (ms === -2) return 0;
    if (ms === -1) return null;
    return ms;
  }

  persist(key: string): Promise<boolean> {
    return this.touch(key, null);
  }

  async *scan(pattern: string, batchSize: number): AsyncIterable<string[]> {
    for (const node of await this.#conn.nodes()) {
      let cursor = '0';
      do {
        const reply: { cursor: string | number; keys: Array<string | Buffer> } = await this.#conn.run(
          (c) => c.scan(cursor, { MATCH: pattern, COUNT: batchSize }),
          false,
          this.#timeout,
          false,
          node,
        );
        cursor = String(reply.cursor);
        if (reply.keys.length > 0) yield reply.keys.map(String);
      } while (cursor !== '0');
    }
  }

  async deletePattern(pattern: string): Promise<number> {
    let deleted = 0;
    for await (const batch of this.scan(pattern, 500)) deleted += await this.deleteMany(batch);
    return deleted;
  }

  async clear(pattern: string): Promise<void> {
    await this.deletePattern(pattern);
  }

  deleteIfEquals(key: string, payload: Payload): Promise<boolean> {
    return this.#script<number>(DELETE_IF_EQUALS, key, [payload]).then((n) => n === 1);
  }

  /** Indexes of `keys` grouped by Cluster slot (one group when not on Cluster). */
  #groups(keys: readonly string[]): number[][] {
    if (!this.#cluster) return keys.length ? [keys.map((_, i) => i)] : [];
    const bySlot = new Map<number, number[]>();
    keys.forEach((key, i) => {
      const slot = calculateSlot(key);
      const group = bySlot.get(slot);
      if (group) group.push(i);
      else bySlot.set(slot, [i]);
    });
    return [...bySlot.values()];
  }

  #read<T>(fn: (c: RedisCommands) => Promise<T>): Promise<T> {
    return this.#conn.run(fn, true, this.#timeout, this.#binary);
  }

  #write<T>(fn: (c: RedisCommands) => Promise<T>): Promise<T> {
    return this.#conn.run(fn, false, this.#timeout, this.#binary);
  }

  #script<T>(script: typeof INCR, key: string, args: Array<string | Buffer>): Promise<T> {
    return script.run<T>(this.#conn, [key], args, { binary: this.#binary, timeout: this.#timeout });
  }
}

function noop(): void {}

/**
 * The Redis backend on a shared connection.
 *
 * @example
 * const backend = redisBackend({ connection: larder.connection() });
 */
export const redisBackend = (options: RedisBackendOptions): CacheBackend => new RedisBackend(options);
