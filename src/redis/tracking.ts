/**
 * RESP3 client tracking in BCAST mode for the `tiered` cache: one tracking socket per
 * server that can be read from (the standalone server; the primary and every replica;
 * every Cluster primary), each registered with `CLIENT TRACKING ON BCAST PREFIX …` on
 * every (re)connect. Redis then pushes the name of every key written under those prefixes
 * — by any client, `redis-cli` included, and by this process (no NOLOOP) — and `null` on
 * FLUSHDB / FLUSHALL.
 *
 * No stale read survives a gap: the moment any tracking socket errors, closes or starts
 * reconnecting, or the Cluster's primaries change, every subscriber forgets everything and
 * refuses fills until every socket is registered again. A socket that goes silent without
 * closing (a half-open TCP connection, a partition: no FIN, no RST, no error) is caught by a
 * heartbeat — one interval per hub PINGs every socket, and one that has not answered its
 * PING by the next beat but one is replaced — and sooner when the command connection
 * replaces its own socket to that server for missing a deadline. Either way the tier is
 * flushed first, so invalidations lost on the silent socket cannot leave a stale copy.
 */
import { redactUrl } from '../config/location.js';
import type { HostPort, RedisLocation, StandaloneLocation } from '../config/types.js';
import { BackendUnavailableError, ConfigError } from '../errors.js';
import { type ConnectionOptions, type RedisCommands, RedisConnection } from './connection.js';

/** What a tracking hub drives: an in-process tier (`LocalTier` implements it). */
export interface TrackedStore {
  /** `key` was written or deleted in Redis. */
  invalidate(key: string): void;
  /** The database was flushed. */
  forgetAll(): void;
  /** Tracking is established (`true`) or lost (`false`); both flush, `false` refuses fills. */
  setTracking(up: boolean): void;
}

/** Options of `TrackingHub`. */
export interface TrackingHubOptions {
  log?: ConnectionOptions['log'];
  /**
   * The command connection of the same location. On Cluster (required there) it is asked
   * `CLUSTER SLOTS` for the primaries; everywhere, a socket it replaces for missing a
   * deadline makes the tracking socket to that server be replaced too.
   */
  commands?: RedisConnection;
  /**
   * How often every tracking socket is PINGed, in ms; a PING still unanswered two beats
   * later marks its socket dead (it is replaced and the tier flushed). @default 500
   */
  heartbeatMs?: number;
  /** Cluster only: how often the primaries are re-read, in ms. @default 1000 */
  topologyPollMs?: number;
  /** Called when the last subscriber has left, as the hub starts closing itself. */
  onIdle?: () => void;
}

interface Subscriber {
  /** Keys this store holds start with it; `undefined` = any key (a custom keyFunction). */
  prefix: string | undefined;
  store: TrackedStore;
}

interface TrackedNode {
  address: string;
  loc: StandaloneLocation;
  conn: RedisConnection;
  client: RedisCommands | undefined;
  registered: boolean;
  /** Bumped on every ready/lost, so a late registration reply for an old socket is ignored. */
  generation: number;
  /** The heartbeat PING in flight on this socket: the beat it was sent at. */
  pingBeat: number | undefined;
}

/** The name tracking sockets give themselves (`CLIENT LIST` shows it). */
export const TRACKING_CLIENT_NAME = 'larder:tracking';

/** How long `CLIENT TRACKING` may take before the registration is retried. */
const REGISTER_TIMEOUT_MS = 2_000;
const RETRY_MS = 1_000;
/** Heartbeat period: a silent socket is caught after two to three of these. */
const HEARTBEAT_MS = 500;

/**
 * The tracking sockets of one location, shared by every tiered cache on it.
 *
 * @example
 * const hub = new TrackingHub(parseLocation('redis://127.0.0.1:6379/0', 'redis'));
 * const unsubscribe = hub.subscribe({ prefix: 'shop:', store: tier });
 * // … later
 * unsubscribe();
 */
export class TrackingHub {
  readonly location: RedisLocation;
  readonly #log: NonNullable<ConnectionOptions['log']>;
  readonly #commands: RedisConnection | undefined;
  readonly #pollMs: number;
  readonly #onIdle: (() => void) | undefined;
  readonly #subscribers = new Set<Subscriber>();
  readonly #nodes = new Map<string, TrackedNode>();
  /** The `PREFIX` arguments the sockets are registered with (`[]` = every key). */
  #prefixes: string[] | undefined;
  #up = false;
  #started = false;
  #closed = false;
  #poll: NodeJS.Timeout | undefined;
  #lastProblem: string | undefined;
  readonly #heartbeatMs: number;
  #heartbeat: NodeJS.Timeout | undefined;
  #beat = 0;
  #unlistenStalls: (() => void) | undefined;

  constructor(location: RedisLocation, options: TrackingHubOptions = {}) {
    if (location.kind === 'sentinel' || location.kind === 'external') {
      throw new ConfigError(
        'backend',
        'tiered',
        `a standalone, replicated or Cluster location for the tiered backend (got a ${location.kind} location: ` +
          'its tracking sockets need server addresses larder can open connections to)',
      );
    }
    if (location.kind === 'cluster' && !options.commands) {
      throw new TypeError('TrackingHub: a Cluster location needs options.commands to discover its primaries');
    }
    this.location = location;
    this.#log = options.log ?? (() => {});
    this.#commands = options.commands;
    this.#pollMs = options.topologyPollMs ?? 1_000;
    this.#heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.#onIdle = options.onIdle;
  }

  /** True while every tracking socket is registered (subscribers accept fills). */
  get isUp(): boolean {
    return this.#up;
  }

  /** The tracking connections open now, for health. */
  connections(): RedisConnection[] {
    return [...this.#nodes.values()].map((n) => n.conn);
  }

  /**
   * Starts delivering invalidations for keys under `prefix` (`undefined`: every key) to
   * `store`; connects on the first subscriber. Returns the unsubscribe function.
   */
  subscribe(subscriber: Subscriber): () => void {
    // A closed hub stays closed (its owner dropped it): subscribers get a fresh one from
    // `larder.connections.tracking(location)`, as the tiered backend does on each subscribe.
    if (this.#closed)
      throw new BackendUnavailableError(
        this.#name(),
        'this tracking hub was closed (its last cache left, or larder.close()); ' +
          'get a new one from larder.connections.tracking(location).',
      );
    this.#subscribers.add(subscriber);
    subscriber.store.setTracking(false);
    const wanted = bcastPrefixes(this.#subscribers);
    if (!this.#started) {
      this.#started = true;
      this.#prefixes = wanted;
      void this.#start();
    } else if (!samePrefixes(wanted, this.#prefixes)) {
      // A prefix the sockets do not cover yet: re-register everywhere (a gap for everyone).
      this.#prefixes = wanted;
      this.#setUp(false);
      for (const node of this.#nodes.values()) if (node.client) this.#register(node, node.client);
    } else if (this.#up) {
      subscriber.store.setTracking(true);
    }
    return () => {
      if (!this.#subscribers.delete(subscriber)) return;
      subscriber.store.setTracking(false);
      if (this.#subscribers.size === 0) {
        this.#onIdle?.();
        void this.close();
      }
    };
  }

  /** Closes every tracking socket; subscribers are told tracking is down. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#poll);
    clearInterval(this.#heartbeat);
    this.#unlistenStalls?.();
    this.#setUp(false);
    const nodes = [...this.#nodes.values()];
    this.#nodes.clear();
    await Promise.all(nodes.map((n) => n.conn.close()));
  }

  async #start(): Promise<void> {
    const loc = this.location;
    this.#heartbeat = setInterval(() => this.#beatAll(), this.#heartbeatMs);
    this.#heartbeat.unref();
    this.#unlistenStalls = this.#commands?.onStalled((address) => this.#commandsStalled(address));
    if (loc.kind === 'standalone') this.#reconcile([loc]);
    else if (loc.kind === 'replicas') this.#reconcile([loc.primary, ...loc.replicas]);
    else if (loc.kind === 'cluster') {
      await this.#discover();
      this.#poll = setInterval(() => void this.#discover(), this.#pollMs);
      this.#poll.unref();
    }
  }

  /** Cluster: reads the primaries and follows any change. */
  async #discover(): Promise<void> {
    const loc = this.location;
    if (loc.kind !== 'cluster' || this.#closed) return;
    let primaries: HostPort[];
    try {
      primaries = parsePrimaries(await this.#commands!.send(['CLUSTER', 'SLOTS']));
    } catch (error) {
      this.#problem(`could not read the Cluster's primaries (${(error as Error).message})`);
      return;
    }
    if (this.#closed || primaries.length === 0) return;
    this.#reconcile(
      primaries.map(
        (p): StandaloneLocation => ({
          kind: 'standalone',
          host: p.host,
          port: p.port,
          db: 0,
          tls: loc.tls,
          connectTimeout: loc.connectTimeout,
          commandTimeout: loc.commandTimeout,
          poolSize: 1,
          ...(loc.tlsOptions ? { tlsOptions: loc.tlsOptions } : {}),
          ...(loc.username ? { username: loc.username } : {}),
          ...(loc.password ? { password: loc.password } : {}),
        }),
      ),
    );
  }

  /** Opens sockets to new servers, closes those to servers that left; any change is a gap. */
  #reconcile(locations: StandaloneLocation[]): void {
    const wanted = new Map(locations.map((l) => [l.path ?? `${l.host}:${l.port}`, l]));
    let changed = false;
    for (const [address, node] of this.#nodes) {
      if (wanted.has(address)) continue;
      changed = true;
      this.#nodes.delete(address);
      void node.conn.close();
    }
    for (const [address, loc] of wanted) {
      if (this.#nodes.has(address)) continue;
      changed = true;
      this.#open(address, { ...loc, poolSize: 1 });
    }
    if (changed) {
      if (this.#up)
        this.#log('info', `${this.#name()}: the servers changed; the in-process tier was flushed.`);
      this.#setUp(false);
    }
  }

  #open(address: string, loc: StandaloneLocation): void {
    const node: TrackedNode = {
      address,
      loc,
      conn: undefined as unknown as RedisConnection,
      client: undefined,
      registered: false,
      generation: 0,
      pingBeat: undefined,
    };
    node.conn = new RedisConnection(loc, {
      name: `${redactUrl(loc)} (tracking)`,
      tracking: true,
      log: this.#log,
      onTrackingReady: (client) => {
        node.client = client;
        node.pingBeat = undefined;
        this.#register(node, client);
      },
      onTrackingLost: (why) => this.#lost(node, why),
    });
    node.conn.onInvalidate((keys) => this.#invalidate(keys));
    this.#nodes.set(address, node);
    // node-redis keeps retrying until the first connection; 'ready' registers it.
    node.conn.ready().catch((error: Error) => this.#problem(error.message));
  }

  #register(node: TrackedNode, client: RedisCommands): void {
    const generation = ++node.generation;
    node.registered = false;
    this.#setUp(false);
    const prefixes = this.#prefixes ?? [];
    const on = ['CLIENT', 'TRACKING', 'ON', 'BCAST', ...prefixes.flatMap((p) => ['PREFIX', p])];
    // node-redis' handshake turned tracking on in default mode; BCAST needs it off first.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no reply within ${REGISTER_TIMEOUT_MS} ms`)),
        REGISTER_TIMEOUT_MS,
      );
      timer.unref();
    });
    // A name operators can find in CLIENT LIST (an ACL may refuse it: not needed to track).
    client.sendCommand(['CLIENT', 'SETNAME', TRACKING_CLIENT_NAME]).catch(() => {});
    Promise.race([
      Promise.all([client.sendCommand(['CLIENT', 'TRACKING', 'OFF']), client.sendCommand(on)]),
      deadline,
    ])
      .then(
        () => {
          if (node.generation !== generation || this.#closed || this.#nodes.get(node.address) !== node)
            return;
          node.registered = true;
          this.#lastProblem = undefined;
          this.#refresh();
        },
        (error: Error) => {
          if (node.generation !== generation || this.#closed) return;
          this.#problem(`CLIENT TRACKING on ${node.address} failed (${error.message}); retrying`);
          setTimeout(() => {
            if (node.generation === generation && client.isReady) this.#register(node, client);
          }, RETRY_MS).unref();
        },
      )
      .finally(() => clearTimeout(timer));
  }

  #lost(node: TrackedNode, why: string): void {
    node.generation++;
    node.registered = false;
    node.pingBeat = undefined;
    // A socket of a server that left the Cluster closing: its gap was already taken.
    if (this.#closed || this.#nodes.get(node.address) !== node) return;
    if (this.#up) {
      this.#log(
        'warn',
        `${node.conn.name}: ${why}; the in-process tier is flushed and refuses fills until tracking is back.`,
      );
    }
    this.#setUp(false);
    // An error on a socket that stays open (a reply it could not parse): pushes may have
    // been lost, so register again from scratch rather than wait for a reconnect.
    const client = node.client;
    if (client?.isReady) {
      const generation = node.generation;
      setTimeout(() => {
        if (node.generation === generation && client.isReady && this.#nodes.get(node.address) === node)
          this.#register(node, client);
      }, 50).unref();
    }
  }

  /**
   * One heartbeat: PINGs every ready socket that has no PING in flight, and replaces each
   * whose PING, sent two beats ago or more, is still unanswered. A socket that is not ready
   * is reconnecting: node-redis' own events took the gap already.
   */
  #beatAll(): void {
    const beat = ++this.#beat;
    for (const node of [...this.#nodes.values()]) {
      const client = node.client;
      if (!client?.isReady) continue;
      if (node.pingBeat !== undefined) {
        if (beat - node.pingBeat >= 2) {
          this.#replace(
            node,
            `no reply to a PING within ${2 * this.#heartbeatMs} ms (the socket went silent)`,
          );
        }
        continue;
      }
      node.pingBeat = beat;
      const clear = () => {
        if (node.pingBeat === beat) node.pingBeat = undefined;
      };
      // A failed PING is the socket failing: its 'error'/'end' events take the gap.
      (client.sendCommand(['PING']) as Promise<unknown>).then(clear, clear);
    }
  }

  /** The command connection replaced its socket to `address`: doubt the tracking socket there too. */
  #commandsStalled(address: string): void {
    if (this.#closed) return;
    const node = this.#nodes.get(address);
    // An address the hub does not know (a Cluster node it has not discovered yet): all of them.
    const suspects = node ? [node] : [...this.#nodes.values()];
    for (const suspect of suspects)
      this.#replace(suspect, `the command connection to ${suspect.address} stopped answering`);
  }

  /**
   * Drops `node`'s socket without waiting for it (a silent socket would never answer a
   * QUIT), flushes every subscriber and opens a fresh socket to the same server; tracking
   * is up again once that one is registered.
   */
  #replace(node: TrackedNode, why: string): void {
    if (this.#closed || this.#nodes.get(node.address) !== node) return;
    this.#log(
      'warn',
      `${node.conn.name}: ${why}; reconnecting. The in-process tier is flushed and refuses fills until tracking is back.`,
    );
    this.#nodes.delete(node.address);
    node.generation++;
    node.registered = false;
    this.#setUp(false);
    try {
      node.client?.destroy();
    } catch {
      // Already gone.
    }
    void node.conn.close().catch(() => {});
    this.#open(node.address, node.loc);
  }

  #invalidate(keys: Array<Buffer | string> | null): void {
    if (keys === null) {
      for (const s of this.#subscribers) s.store.forgetAll();
      return;
    }
    for (const raw of keys) {
      const key = typeof raw === 'string' ? raw : raw.toString();
      for (const s of this.#subscribers) {
        if (s.prefix === undefined || key.startsWith(s.prefix)) s.store.invalidate(key);
      }
    }
  }

  #refresh(): void {
    if (this.#nodes.size === 0) return;
    for (const node of this.#nodes.values()) if (!node.registered) return;
    this.#setUp(true);
  }

  #setUp(up: boolean): void {
    if (up === this.#up) return;
    this.#up = up;
    for (const s of this.#subscribers) s.store.setTracking(up);
  }

  #problem(message: string): void {
    if (message === this.#lastProblem) return;
    this.#lastProblem = message;
    this.#log('warn', `${this.#name()}: ${message}`);
  }

  #name(): string {
    return `tracking ${this.location.kind === 'external' ? 'external' : redactUrl(this.location)}`;
  }
}

/** The fewest `PREFIX`es covering every subscriber: `[]` (every key) if one has none. */
function bcastPrefixes(subscribers: Iterable<Subscriber>): string[] {
  const all = [...subscribers].map((s) => s.prefix);
  if (all.some((p) => p === undefined || p === '')) return [];
  // Redis refuses overlapping prefixes: keep only those no shorter one already covers.
  const sorted = [...new Set(all as string[])].sort((a, b) => a.length - b.length);
  const kept: string[] = [];
  for (const p of sorted) if (!kept.some((k) => p.startsWith(k))) kept.push(p);
  return kept.sort();
}

function samePrefixes(a: string[], b: string[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((p, i) => p === b[i]);
}

/** The primaries in a `CLUSTER SLOTS` reply (`[start, end, [host, port, id, …], …replicas]`). */
function parsePrimaries(reply: unknown): HostPort[] {
  const seen = new Map<string, HostPort>();
  if (!Array.isArray(reply)) return [];
  for (const range of reply) {
    const primary = Array.isArray(range) ? range[2] : undefined;
    if (!Array.isArray(primary)) continue;
    const host = String(primary[0]);
    const port = Number(primary[1]);
    if (!host || !Number.isInteger(port)) continue;
    seen.set(`${host}:${port}`, { host, port });
  }
  return [...seen.values()];
}
