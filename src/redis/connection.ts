/**
 * One logical Redis connection for every topology: standalone, primary + read replicas,
 * Sentinel and Cluster — on node-redis v6.
 *
 * - Lazy: nothing connects until the first command (or `ready()`).
 * - Deadlines without a timer per command (see `deadline.ts`); node-redis's own
 *   per-command timeout is turned off.
 * - A circuit breaker turns a dead server into fast `BackendUnavailableError`s.
 * - No offline queue: while reconnecting, commands fail at once instead of piling up.
 * - Unrecoverable failures (wrong password, unknown user) stop reconnecting and say so.
 */
import { createClient, createCluster, createSentinel, ErrorReply, RESP_TYPES } from 'redis';
import { redactUrl } from '../config/location.js';
import type { RedisLocation, StandaloneLocation } from '../config/types.js';
import { BackendUnavailableError } from '../errors.js';
import { within } from '../within.js';
import { CircuitBreaker } from './breaker.js';
import { DeadlineTracker } from './deadline.js';
import { ReplyOrderDeadlines } from './reply-order.js';

/**
 * The command surface larder uses. node-redis's client, cluster and sentinel types differ
 * in their generics but share the typed commands; larder treats them through this one
 * loose type and routes raw commands through `RedisConnection.send`.
 */
export type RedisCommands = any;

export type Topology = 'standalone' | 'replicas' | 'sentinel' | 'cluster' | 'external';

/** What `health()` reports for one connection. */
export interface ConnectionHealth {
  name: string;
  topology: Topology;
  /** `down` on Cluster when any primary does not answer (its slots cannot be served). */
  status: 'up' | 'down' | 'idle';
  /** Round-trip time of a PING, in milliseconds (when up; on Cluster the slowest primary's). */
  latencyMs?: number;
  /** Servers behind this connection (cluster primaries, replicas). */
  nodes?: string[];
  /** Cluster and primary + replicas: each server PINGed on its own. */
  servers?: ServerHealth[];
  error?: string;
  breaker: 'closed' | 'open' | 'half-open';
  /** What the connection is for (`larder.connections` sets it): plain commands, pub/sub, client tracking. */
  role?: 'commands' | 'subscriber' | 'tracking';
  /**
   * Whether serving requests needs this connection (`larder.health()` sets it): false when
   * everything configured on its location degrades by design (caches with `ignoreErrors`,
   * rate limits with their insurance limiter). A required connection that is down makes
   * the report `down` (the health route answers 503); an optional one makes it `degraded`.
   */
  required?: boolean;
  /** The configured capabilities on this connection's location (`cache:default`, `sessions`, …). */
  usedBy?: string[];
}

/** One server of a Cluster or a primary + replicas connection, as `health()` reports it. */
export interface ServerHealth {
  address: string;
  role: 'primary' | 'replica';
  status: 'up' | 'down';
  latencyMs?: number;
  error?: string;
}

/** One server behind a connection, for per-node commands (`larder info`). */
export interface ServerNode {
  address: string;
  role: 'primary' | 'replica';
  /** The node's client; absent when it could not be reached (`error` says why). */
  client?: RedisCommands;
  error?: string;
}

/** Options of `RedisConnection.send`. */
export interface SendOptions {
  /** The command's first key: picks the Cluster node. */
  key?: string | Buffer;
  /** May run on a replica. */
  readonly?: boolean;
  /** Return blob strings as Buffers. */
  binary?: boolean;
  /** Deadline in ms. @default the connection's commandTimeout */
  timeout?: number;
}

export interface ConnectionOptions {
  /** How this connection appears in errors and health (default: the redacted URL). */
  name?: string;
  /** Overrides the location's command timeout (ms). */
  commandTimeout?: number;
  /** Called on connection-level events worth a log line. */
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** RESP3 client tracking with `invalidate` events (tiered cache). */
  tracking?: boolean;
  /**
   * Tracking connections only: called with the node-redis client each time it is ready
   * (first connect and every reconnect), before any invalidation can be trusted.
   */
  onTrackingReady?: (client: RedisCommands) => void;
  /** Tracking connections only: the socket errored, closed or is reconnecting. */
  onTrackingLost?: (why: string) => void;
}

/** Redis reply errors that mean "this server can't serve you now", not "bad command". */
const UNAVAILABLE_REPLY = /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|BUSY)\b/;
/**
 * `args` sent on a probe client (a Cluster replica, for health and `larder info`), bounded by
 * `timeoutMs`, outside any connection's breaker and deadlines.
 */
function probe<T>(client: RedisCommands, args: string[], timeoutMs: number): Promise<T> {
  return within(client.sendCommand(args) as Promise<T>, timeoutMs, () => {
    throw new Error(`no reply within ${timeoutMs} ms`);
  });
}

/** Node's TLS errors for a certificate it does not trust (self-signed, unknown CA, wrong host, expired). */
const TLS_REFUSAL = /certificate|self[- ]signed|unable to verify|altnames|CERT_|SSL routines/i;
const AUTH_FAILURE = /^(WRONGPASS|NOAUTH|NOPERM)|invalid username-password|AUTH.*without any password/i;

/** True when `error` means the server is out of reach rather than the command was wrong. */
export function isAvailabilityError(error: unknown): boolean {
  if (error instanceof BackendUnavailableError) return true;
  if (error instanceof ErrorReply) return UNAVAILABLE_REPLY.test(error.message);
  // A bad argument (node-redis' encoder throws a TypeError before anything is sent) is the
  // caller's mistake, not an outage: no breaker strike, no "check that the server is running".
  if (error instanceof TypeError || error instanceof RangeError) return false;
  return error instanceof Error;
}

/**
 * A lazily connected Redis connection with deadlines and a circuit breaker.
 *
 * @example
 * const conn = new RedisConnection(parseLocation('redis://127.0.0.1:6379/0', 'redis'));
 * const value = await conn.run((c) => c.get('k'), true);
 * await conn.close();
 */
export class RedisConnection {
  readonly location: RedisLocation;
  readonly name: string;
  readonly topology: Topology;
  readonly commandTimeout: number;
  readonly breaker: CircuitBreaker;
  readonly deadlines = new DeadlineTracker();

  #clients: RedisCommands[] = [];
  #replicas: RedisCommands[] = [];
  #next = 0;
  #nextReplica = 0;
  #ready = false;
  #connecting: Promise<void> | undefined;
  #firstConnect: Promise<unknown> | undefined;
  #fatal: BackendUnavailableError | undefined;
  #lastError: string | undefined;
  #closed = false;
  #log: NonNullable<ConnectionOptions['log']>;
  #tracking: boolean;
  #timeoutError: (timeoutMs: number) => Error;
  #invalidateListeners = new Set<(keys: Buffer[] | null) => void>();
  #stallListeners = new Set<(address: string) => void>();
  #onTrackingReady: ConnectionOptions['onTrackingReady'];
  #onTrackingLost: ConnectionOptions['onTrackingLost'];

  constructor(location: RedisLocation, options: ConnectionOptions = {}) {
    this.location = location;
    this.topology = location.kind === 'external' ? 'external' : location.kind;
    // A Cluster is one connection over many servers: one dead primary must not make calls
    // to the healthy ones fail fast. There, failures never open the breaker (commands to a
    // node that is down still fail at once — no offline queue — or at their deadline).
    this.breaker = new CircuitBreaker({
      threshold: location.kind === 'cluster' ? Number.POSITIVE_INFINITY : 3,
      cooldownMs: 500,
    });
    this.name =
      options.name ?? (location.kind === 'external' ? 'external redis client' : redactUrl(location));
    this.commandTimeout = options.commandTimeout ?? location.commandTimeout;
    this.#log = options.log ?? (() => {});
    this.#tracking = options.tracking ?? false;
    this.#onTrackingReady = options.onTrackingReady;
    this.#onTrackingLost = options.onTrackingLost;
    this.#timeoutError = (timeoutMs) =>
      new BackendUnavailableError(
        this.name,
        `no reply within ${timeoutMs} ms (commandTimeout). The server may be overloaded, paused or unreachable.`,
      );
  }

  /** True once connected and not failed for good. */
  get isReady(): boolean {
    return this.#ready;
  }

  /** The primary client (writes). Only valid after `ready()`. */
  get client(): RedisCommands {
    const clients = this.#clients;
    if (clients.length === 1) return clients[0];
    this.#next = (this.#next + 1) % clients.length;
    return clients[this.#next];
  }

  /** A client for reads: a replica when there are any that are up, else the primary. */
  get reader(): RedisCommands {
    const replicas = this.#replicas;
    for (let i = 0; i < replicas.length; i++) {
      this.#nextReplica = (this.#nextReplica + 1) % replicas.length;
      const candidate = replicas[this.#nextReplica];
      if (candidate.isReady) return candidate;
    }
    return this.client;
  }

  /** Connects (once) and resolves when commands can be sent; bounded by connectTimeout. */
  ready(waitMs?: number): Promise<void> {
    if (this.#ready) return Promise.resolve();
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#closed)
      return Promise.reject(
        new BackendUnavailableError(this.name, 'the connection was closed (larder.close()).'),
      );
    // While a connection attempt has just failed, fail at once instead of waiting again.
    if (this.#firstConnect && this.breaker.state === 'open') return Promise.reject(this.#openError());
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    if (waitMs === undefined) return this.#connecting;
    // A call waits for the connection no longer than its own deadline; the attempt goes on.
    return this.deadlines.track(
      this.#connecting,
      waitMs,
      (ms) =>
        new BackendUnavailableError(
          this.name,
          `not connected within ${ms} ms (commandTimeout); still trying.${this.#lastError ? ` ${this.#lastError}.` : ''}${
            TLS_REFUSAL.test(this.#lastError ?? '') ? ` ${this.#connectAdvice()}` : ''
          }`,
        ),
    );
  }

  /**
   * Runs `fn` with a client, under this connection's deadline and circuit breaker.
   * `readonly` sends it to a replica when there is one; `binary` gives a client that
   * returns blob strings as Buffers.
   */
  run<T>(
    fn: (client: RedisCommands) => Promise<T>,
    readonly = false,
    timeoutMs = this.commandTimeout,
    binary = false,
    on?: RedisCommands,
  ): Promise<T> {
    if (!this.#ready) {
      const started = performance.now();
      return this.ready(timeoutMs).then(() =>
        this.run(fn, readonly, Math.max(1, timeoutMs - (performance.now() - started)), binary, on),
      );
    }
    // Past PACE calls in this event-loop turn, a call waits for a later turn (in order).
    if (this.#paced >= PACE || this.#waiting.length > 0)
      return new Promise<T>((resolve, reject) => {
        this.#waiting.push({ fn, readonly, timeoutMs, binary, on, resolve, reject });
      });
    this.#paced++;
    if (!this.#turning) {
      this.#turning = true;
      setImmediate(this.#nextTurn);
    }
    return this.#dispatch(fn, readonly, timeoutMs, binary, on);
  }

  /** Calls sent in this event-loop turn (see PACE). */
  #paced = 0;
  /** A `setImmediate` will start the next turn. */
  #turning = false;
  /** Calls waiting for a later turn, oldest first. */
  #waiting: Waiting[] = [];

  /** A new turn: the next slice of waiting calls goes out, and this turn ends too if any did. */
  readonly #nextTurn = (): void => {
    this.#turning = false;
    this.#paced = 0;
    if (this.#waiting.length === 0) return;
    const slice = this.#waiting.splice(0, PACE);
    this.#paced = slice.length;
    this.#turning = true;
    setImmediate(this.#nextTurn);
    for (const call of slice)
      this.#dispatch(call.fn, call.readonly, call.timeoutMs, call.binary, call.on).then(
        call.resolve,
        call.reject,
      );
  };

  /** `run`'s send: breaker, client choice, deadline. */
  #dispatch<T>(
    fn: (client: RedisCommands) => Promise<T>,
    readonly: boolean,
    timeoutMs: number,
    binary: boolean,
    on: RedisCommands | undefined,
  ): Promise<T> {
    if (!this.breaker.allow()) return Promise.reject(this.#openError());
    // `on`: a specific node (SCAN per node), so the deadline lands on that socket's ring.
    const client = on ?? (readonly ? this.reader : this.client);
    let promise: Promise<T>;
    try {
      promise = fn(binary ? this.#binary(client) : client);
    } catch (error) {
      // Nothing was sent: were this the half-open probe, no reply would ever settle it and
      // the breaker would refuse every later call for good.
      this.breaker.release();
      return Promise.reject(error);
    }
    const slot: RingSlot | undefined = client[RING];
    if (slot === undefined)
      return this.deadlines.track(promise, timeoutMs, this.#timeoutError, this.#observer);
    // One socket, replies in order: two numbers in a ring, no wrapper promise.
    if (timeoutMs > 0) slot.ring.push(this.#tick, Math.ceil(timeoutMs / SWEEP_MS), timeoutMs);
    else slot.ring.push(this.#tick, Number.POSITIVE_INFINITY, 0);
    if (this.#sweepTimer === undefined) this.#startSweep();
    return promise.then(slot.ok, slot.fail);
  }

  #tick = 0;
  #sweepTimer: NodeJS.Timeout | undefined;

  #startSweep(): void {
    this.#sweepTimer = setInterval(() => this.#sweep(), SWEEP_MS);
    this.#sweepTimer.unref();
  }

  /** Every SWEEP_MS while commands are in flight: replace sockets that missed a deadline. */
  #sweep(): void {
    this.#tick++;
    let busy = false;
    for (const clients of [this.#clients, this.#replicas]) {
      for (let i = 0; i < clients.length; i++) {
        const slot: RingSlot | undefined = clients[i][RING];
        if (!slot || slot.ring.size === 0) continue;
        busy = true;
        const missed = slot.ring.expired(this.#tick);
        if (missed !== undefined) this.#replaceStalled(clients, i, missed);
      }
    }
    if (!busy) {
      clearInterval(this.#sweepTimer);
      this.#sweepTimer = undefined;
    }
  }

  /**
   * A socket missed a deadline: swap in a fresh client (it connects in the background;
   * until then calls fail fast) and destroy the stalled one, which fails everything in
   * flight on it with a deadline error.
   */
  #replaceStalled(clients: RedisCommands[], index: number, missedMs: number): void {
    const stalled = clients[index];
    const slot: RingSlot = stalled[RING];
    slot.ring.stalledAfterMs = missedMs;
    const fresh = this.#standalone(slot.location);
    this.#waited.add(fresh);
    clients[index] = fresh;
    fresh.connect().catch(() => {});
    this.#log('warn', `${this.name}: no reply within ${missedMs} ms; replacing the connection.`);
    try {
      stalled.destroy();
    } catch {
      // Already closed: its commands were failed by node-redis.
    }
    const address = addressOf(slot.location);
    for (const listener of this.#stallListeners) listener(address);
  }

  /** The ring and its two settle handlers for one owned single-socket client. */
  #attachRing(client: RedisCommands, location: StandaloneLocation): void {
    const ring = new ReplyOrderDeadlines();
    // A read replica's replies say nothing about the primary: a replica that is down or
    // stalled must not open the breaker for writes (reads fall back to the primary once its
    // socket is gone or replaced), as one dead Cluster primary must not for the others.
    const replica = this.location.kind === 'replicas' && this.location.replicas.includes(location);
    const slot: RingSlot = {
      ring,
      location,
      ok: (value: unknown) => {
        ring.shift();
        if (replica) this.breaker.release();
        else this.breaker.success();
        return value;
      },
      fail: (error: unknown) => {
        ring.shift();
        if (ring.stalledAfterMs !== undefined) {
          if (replica) this.breaker.release();
          else this.breaker.failure();
          throw this.#timeoutError(ring.stalledAfterMs);
        }
        throw this.#classify(error, !replica);
      },
    };
    client[RING] = slot;
  }

  /** Breaker bookkeeping for every tracked command, settled in the same step. */
  readonly #observer = {
    succeeded: () => this.breaker.success(),
    failed: (error: unknown) => this.#classify(error),
  };

  #binaryOf = new WeakMap<object, RedisCommands>();

  /** The same client, returning blob strings as Buffers (made once per client). */
  #binary(client: RedisCommands): RedisCommands {
    let bin = this.#binaryOf.get(client);
    if (!bin) {
      bin = client.withTypeMapping(BINARY);
      this.#binaryOf.set(client, bin);
    }
    return bin;
  }

  /**
   * Sends a raw command. On Cluster, `key` picks the node (the first key of the command);
   * `readonly` may go to a replica; `binary` returns blob strings as Buffers.
   */
  send<T = unknown>(args: Array<string | Buffer>, options: SendOptions = {}): Promise<T> {
    const readonly = options.readonly ?? false;
    const timeout = options.timeout ?? this.commandTimeout;
    const binary = options.binary ?? false;
    switch (this.topology) {
      case 'cluster':
        return this.run((c) => c.sendCommand(options.key, readonly, args), readonly, timeout, binary);
      case 'sentinel':
        return this.run((c) => c.sendCommand(readonly, args), readonly, timeout, binary);
      default:
        return this.run((c) => c.sendCommand(args), readonly, timeout, binary);
    }
  }

  /**
   * One client per primary node (Cluster), or the one primary. For SCAN and other
   * per-node commands. Each returned function runs a command on that node.
   */
  async nodes(): Promise<RedisCommands[]> {
    await this.ready();
    if (this.topology !== 'cluster') return [this.#clients[0]];
    const cluster = this.#clients[0];
    return Promise.all(cluster.masters.map((m: unknown) => cluster.nodeClient(m)));
  }

  /** Server addresses behind this connection, for health and messages. */
  describeNodes(): string[] {
    const loc = this.location;
    switch (loc.kind) {
      case 'cluster': {
        const cluster = this.#clients[0];
        if (cluster?.masters?.length) return cluster.masters.map((m: { address: string }) => m.address);
        return loc.nodes.map((n) => `${n.host}:${n.port}`);
      }
      case 'replicas':
        return [loc.primary, ...loc.replicas].map(addressOf);
      case 'sentinel':
        return loc.sentinels.map((n) => `${n.host}:${n.port}`);
      case 'standalone':
        return [addressOf(loc)];
      default:
        return [];
    }
  }

  /**
   * PINGs the server and reports this connection's state and round-trip time. On Cluster
   * every primary and replica is PINGed (down when a primary does not answer); with read
   * replicas each server is (down only when the primary does not answer: reads fall back
   * to it).
   */
  async health(): Promise<ConnectionHealth> {
    const base = {
      name: this.name,
      topology: this.topology,
      nodes: this.describeNodes(),
      breaker: this.breaker.state,
    };
    try {
      await this.ready();
      if (this.topology === 'cluster' || this.topology === 'replicas') {
        const servers = await Promise.all((await this.servers()).map((s) => this.#pingServer(s)));
        const primaries = servers.filter((s) => s.role === 'primary');
        const down = primaries.filter((s) => s.status === 'down');
        const slowest = Math.max(0, ...primaries.map((s) => s.latencyMs ?? 0));
        return {
          ...base,
          nodes: this.describeNodes(),
          servers,
          ...(down.length === 0
            ? { status: 'up', latencyMs: slowest }
            : {
                status: 'down',
                error: down.map((s) => `${s.address}: ${s.error}`).join('; '),
              }),
        };
      }
      const started = performance.now();
      await this.run((c) => c.ping());
      return { ...base, status: 'up', latencyMs: roundMs(performance.now() - started) };
    } catch (error) {
      return { ...base, status: 'down', error: (error as Error).message };
    }
  }

  async #pingServer(server: ServerNode): Promise<ServerHealth> {
    const { address, role } = server;
    if (!server.client) return { address, role, status: 'down', error: server.error ?? 'not connected' };
    const started = performance.now();
    try {
      await this.sendTo(server, ['PING']);
      return { address, role, status: 'up', latencyMs: roundMs(performance.now() - started) };
    } catch (error) {
      return { address, role, status: 'down', error: (error as Error).message };
    }
  }

  /**
   * Every server behind this connection with its role: the Cluster's primaries and
   * replicas, the primary and its read replicas, Sentinel's current primary, or the one
   * server. For per-node commands (`larder info` runs INFO on each) through `sendTo`.
   *
   * @example
   * for (const server of await conn.servers()) console.log(server.address, await conn.sendTo(server, ['DBSIZE']));
   */
  async servers(): Promise<ServerNode[]> {
    await this.ready();
    const loc = this.location;
    const client = this.#clients[0];
    switch (loc.kind) {
      case 'cluster': {
        const primaries = Promise.all(
          client.masters.map(async (node: { address: string }): Promise<ServerNode> => {
            try {
              return { address: node.address, role: 'primary', client: await client.nodeClient(node) };
            } catch (error) {
              return { address: node.address, role: 'primary', error: (error as Error).message };
            }
          }),
        );
        return [...(await primaries), ...(await this.#clusterReplicas(loc))];
      }
      case 'replicas':
        return [
          { address: addressOf(loc.primary), role: 'primary', client },
          ...(await Promise.all(
            loc.replicas.map(async (r, i): Promise<ServerNode> => {
              const replica = this.#replicas[i];
              // Replicas connect in the background: the first look waits for one still connecting.
              const ready = replica && (await this.#firstReady(replica, loc.connectTimeout));
              return ready
                ? { address: addressOf(r), role: 'replica', client: replica }
                : { address: addressOf(r), role: 'replica', error: this.#lastError ?? 'not connected' };
            }),
          )),
        ];
      case 'sentinel': {
        const primary = client.getMasterNode?.() as { host: string; port: number } | undefined;
        const address = primary ? `${primary.host}:${primary.port}` : `${loc.masterName} (via Sentinel)`;
        return [{ address, role: 'primary', client }];
      }
      case 'standalone':
        return [{ address: addressOf(loc), role: 'primary', client }];
      default:
        return [{ address: this.name, role: 'primary', client }];
    }
  }

  /**
   * Clients `#firstReady` answers at once for: looked at before, ready before (a replica that
   * went down is not making its first connection), or swapped in for a stalled socket.
   */
  #waited = new WeakSet<object>();

  /**
   * True when `client` is ready; the first time it is looked at still making its first
   * connection, waits up to `ms` for it (see `#waited` for the clients never waited for).
   */
  #firstReady(client: RedisCommands, ms: number): Promise<boolean> {
    const first = !this.#waited.has(client);
    this.#waited.add(client);
    if (client.isReady || !first) return Promise.resolve(client.isReady === true);
    return new Promise((resolve) => {
      const done = (ready: boolean) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        resolve(ready);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      client.on('ready', onReady);
    });
  }

  /** Clients of Cluster replicas, made on demand for `servers()` (node-redis tracks none with useReplicas off). */
  #replicaClients = new Map<string, RedisCommands>();

  /** The Cluster's replicas (from CLUSTER NODES), each with a client of its own when it answers. */
  async #clusterReplicas(loc: Extract<RedisLocation, { kind: 'cluster' }>): Promise<ServerNode[]> {
    const text = String(await this.send(['CLUSTER', 'NODES']));
    const replicas: Array<{ address: string; host: string; port: number }> = [];
    for (const line of text.split('\n')) {
      // <id> <ip:port@cport[,hostname]> <flags> <primary id> …
      const [, endpoint, flags] = line.split(' ');
      if (!endpoint || !flags?.split(',').includes('slave')) continue;
      const address = endpoint.split(/[@,]/)[0]!;
      const colon = address.lastIndexOf(':');
      replicas.push({ address, host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    }
    // Replicas that left the Cluster: stop probing them.
    const current = new Set(replicas.map((r) => r.address));
    for (const [address, client] of this.#replicaClients) {
      if (current.has(address)) continue;
      this.#replicaClients.delete(address);
      client.destroy?.();
    }
    return Promise.all(
      replicas.map(async ({ address, host, port }): Promise<ServerNode> => {
        let client = this.#replicaClients.get(address);
        if (!client) {
          const { kind: _, nodes: __, ...common } = loc;
          client = this.#standalone({ ...common, kind: 'standalone', host, port, db: 0, poolSize: 1 }, true);
          this.#replicaClients.set(address, client);
          try {
            await within(client.connect(), loc.connectTimeout, () => {
              throw new Error(`not connected within ${loc.connectTimeout} ms`);
            });
          } catch (error) {
            this.#replicaClients.delete(address);
            client.destroy?.();
            return { address, role: 'replica', error: (error as Error).message };
          }
        }
        return { address, role: 'replica', client };
      }),
    );
  }

  /** Sends a raw command to one server from `servers()`, under this connection's deadline. */
  sendTo<T = unknown>(server: ServerNode, args: string[], timeout = this.commandTimeout): Promise<T> {
    const client = server.client;
    if (!client)
      return Promise.reject(new BackendUnavailableError(server.address, server.error ?? 'not connected'));
    if (this.topology === 'cluster' && server.role === 'replica') return probe<T>(client, args, timeout);
    const sentinel = this.topology === 'sentinel';
    return this.run(
      (c) => (sentinel ? c.sendCommand(false, args) : c.sendCommand(args)),
      false,
      timeout,
      false,
      client,
    );
  }

  /** Listens for RESP3 tracking invalidations (`null` = flush everything). */
  onInvalidate(listener: (keys: Buffer[] | null) => void): () => void {
    this.#invalidateListeners.add(listener);
    return () => this.#invalidateListeners.delete(listener);
  }

  /**
   * Hears each socket this connection replaces because it missed a deadline, with the
   * server's address (`host:port` or a socket path). A tiered cache's tracking hub listens:
   * a socket to that server gone silent is a reason to doubt its tracking socket too.
   */
  onStalled(listener: (address: string) => void): () => void {
    this.#stallListeners.add(listener);
    return () => this.#stallListeners.delete(listener);
  }

  /** Quits every client; pending commands settle; safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Calls paced into a later turn were accepted before close(): send them now, while the
    // clients are still here, so they settle as those already sent do (the quit drains them).
    for (const call of this.#waiting.splice(0))
      this.#dispatch(call.fn, call.readonly, call.timeoutMs, call.binary, call.on).then(
        call.resolve,
        call.reject,
      );
    this.#ready = false;
    const owned = this.location.kind !== 'external';
    const all = [...this.#clients, ...this.#replicas, ...this.#replicaClients.values()];
    this.#clients = [];
    this.#replicas = [];
    this.#replicaClients.clear();
    this.deadlines.stop();
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    if (!owned) return;
    // A client still trying its first connection would wait for it in close(): destroy it.
    this.#firstConnect?.catch(() => {});
    await Promise.all(
      all.map(async (c) => {
        try {
          if (c.isReady) await c.close();
          else if (c.isOpen) await c.destroy();
        } catch {
          c.destroy?.();
        }
      }),
    );
  }

  /** What to check when connecting fails: a refused certificate is not a server that is down. */
  #connectAdvice(): string {
    return TLS_REFUSAL.test(this.#lastError ?? '')
      ? "The server's TLS certificate was refused: give the CA that signed it (the location's `tls: { ca }`), " +
          'and check that the host name in the URL is one the certificate names.'
      : `Check that redis-server is running at ${this.describeNodes().join(', ')} and that the URL is right.`;
  }

  #openError(): BackendUnavailableError {
    const why = this.#lastError ? ` Last error: ${this.#lastError}.` : '';
    return new BackendUnavailableError(
      this.name,
      `the server is not answering; calls fail fast for ${this.breaker.cooldownMs} ms before the next try.${why.replace(/\.\.$/, '.')}`,
    );
  }

  /** The error a caller sees for `error`; `strikes`: it counts for (or against) the breaker. */
  #classify(error: unknown, strikes = true): unknown {
    if (!strikes) this.breaker.release();
    if (error instanceof BackendUnavailableError) {
      // A missed deadline or a dropped socket: one strike for the breaker per command.
      if (strikes) this.breaker.failure();
      this.#lastError = error.message;
      return error;
    }
    if (isAvailabilityError(error)) {
      if (strikes) this.breaker.failure();
      const message = (error as Error).message;
      this.#lastError = message;
      return new BackendUnavailableError(
        this.name,
        `${message}. Check that the server is running and reachable.`,
        {
          cause: error,
        },
      );
    }
    // A programming error never reached the server: it says nothing about its health.
    if (error instanceof TypeError || error instanceof RangeError) this.breaker.release();
    else if (strikes) this.breaker.success();
    return error;
  }

  async #connect(): Promise<void> {
    if (this.#clients.length === 0) this.#create();
    // node-redis' connect() resolves on the first successful connection and keeps retrying
    // until then, so it is started once and every later ready() waits on the same promise.
    // Replicas that are down must not hold up the primary: they connect in the background
    // and take reads once they are ready (reads fall back to the primary until then).
    if (!this.#firstConnect) {
      for (const replica of this.#replicas) if (!replica.isReady) replica.connect().catch(() => {});
      this.#firstConnect = Promise.all(this.#clients.map((c) => (c.isReady ? undefined : c.connect())));
    }
    const connectTimeout =
      this.location.kind === 'external' ? this.commandTimeout : this.location.connectTimeout;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const why = this.#lastError ? ` (${this.#lastError})` : '';
        reject(
          new BackendUnavailableError(
            this.name,
            `could not connect within ${connectTimeout} ms${why}. ${this.#connectAdvice()}`,
          ),
        );
      }, connectTimeout);
      timer.unref();
    });
    try {
      await Promise.race([this.#firstConnect, deadline]);
      if (this.#fatal) throw this.#fatal;
      this.#ready = true;
      this.breaker.success();
    } catch (error) {
      if (this.#fatal) throw this.#fatal;
      this.breaker.trip();
      throw error instanceof BackendUnavailableError ? error : this.#classify(error);
    } finally {
      clearTimeout(timer);
    }
  }

  #create(): void {
    const loc = this.location;
    switch (loc.kind) {
      case 'external': {
        this.#clients = [loc.client];
        return;
      }
      case 'standalone':
        // One socket carries every invalidation; a pool would deliver each one poolSize times.
        this.#clients = Array.from({ length: this.#tracking ? 1 : loc.poolSize }, () =>
          this.#standalone(loc),
        );
        return;
      case 'replicas':
        this.#clients = Array.from({ length: loc.poolSize }, () => this.#standalone(loc.primary));
        this.#replicas = loc.replicas.map((r) => this.#standalone(r));
        return;
      case 'sentinel': {
        const client = createSentinel({
          name: loc.masterName,
          sentinelRootNodes: loc.sentinels,
          nodeClientOptions: {
            ...this.#auth(loc),
            database: loc.db,
            RESP: 3,
            disableClientInfo: true,
            socket: this.#socket(loc),
          } as any,
          sentinelClientOptions: { socket: this.#socket(loc), disableClientInfo: true } as any,
          masterPoolSize: loc.poolSize,
          replicaPoolSize: 0,
          scanInterval: 1000,
          commandOptions: { timeout: 0 },
        } as any);
        this.#watch(client);
        this.#clients = [client];
        return;
      }
      case 'cluster': {
        const client = createCluster({
          rootNodes: loc.nodes.map((n) => ({ socket: { host: n.host, port: n.port } })),
          defaults: {
            ...this.#auth(loc),
            RESP: 3,
            disableClientInfo: true,
            disableOfflineQueue: true,
            socket: this.#socket(loc),
            commandOptions: { timeout: 0 },
          } as any,
          commandOptions: { timeout: 0 },
          useReplicas: false,
          maxCommandRedirections: 16,
        } as any);
        this.#watch(client);
        this.#clients = [client];
        return;
      }
    }
  }

  #standalone(loc: StandaloneLocation, probe = false): RedisCommands {
    const client = createClient({
      ...this.#auth(loc),
      database: loc.db,
      RESP: 3,
      disableClientInfo: true,
      disableOfflineQueue: true,
      commandsQueueMaxLength: 100_000,
      commandOptions: { timeout: 0 },
      emitInvalidate: this.#tracking || undefined,
      socket: {
        ...this.#socket(loc),
        ...(loc.path ? { path: loc.path } : { host: loc.host, port: loc.port }),
      },
    } as any);
    if (probe) {
      // A health probe of a Cluster replica: its failures are its own, never this
      // connection's (no breaker strike, no failing of in-flight commands, no fatal auth).
      client.on('error', () => {});
      return client;
    }
    this.#watch(client);
    // A tracking connection carries invalidation pushes as well as replies; it stays on
    // the general deadline path.
    if (!this.#tracking) this.#attachRing(client, loc);
    return client;
  }

  #auth(loc: { username?: string; password?: string }): { username?: string; password?: string } {
    const auth: { username?: string; password?: string } = {};
    if (loc.username) auth.username = loc.username;
    if (loc.password) auth.password = loc.password;
    return auth;
  }

  #socket(
    loc: StandaloneLocation | { tls: boolean; tlsOptions?: Record<string, unknown>; connectTimeout: number },
  ) {
    return {
      connectTimeout: loc.connectTimeout,
      ...(loc.tls ? { tls: true, ...(loc.tlsOptions ?? {}) } : {}),
      // Back off 50 ms → 2 s; stop for good on errors a retry cannot fix.
      reconnectStrategy: (retries: number, cause: Error) => {
        if (this.#closed) return false;
        if (cause && AUTH_FAILURE.test(cause.message ?? '')) {
          this.#fail(
            `authentication failed (${cause.message}). Check the username and password in the URL ` +
              '(redis://user:password@host:port/db) or the ACL on the server.',
            cause,
          );
          return false;
        }
        return Math.min(50 * 2 ** Math.min(retries, 6), 2000);
      },
    };
  }

  #fail(message: string, cause: unknown): void {
    this.#fatal = new BackendUnavailableError(this.name, message, { cause });
    this.#ready = false;
    this.breaker.trip();
  }

  #watch(client: RedisCommands): void {
    client.on('ready', () => this.#waited.add(client));
    // node-redis emits 'error' on every failed (re)connect; without a listener Node would
    // crash the process. Record it for messages and health instead.
    client.on('error', (error: Error) => {
      const message = error?.message ?? String(error);
      if (message !== this.#lastError) this.#log('warn', `${this.name}: ${message}`);
      this.#lastError = message;
      if (AUTH_FAILURE.test(message)) {
        this.#fail(
          `authentication failed (${message}). Check the username and password in the URL ` +
            '(redis://user:password@host:port/db) or the ACL on the server.',
          error,
        );
      }
    });
    client.on('end', () => {
      // Fail what is in flight at once rather than waiting for deadlines.
      this.deadlines.failAll();
    });
    if (this.#tracking) {
      // node-redis emits one event per key of a push, and `null` for a flush.
      client.on('invalidate', (key: Buffer | null) => {
        const keys = key === null ? null : [key];
        for (const listener of this.#invalidateListeners) listener(keys);
      });
      const lost = this.#onTrackingLost;
      if (lost) {
        client.on('error', (error: Error) => lost(error?.message ?? String(error)));
        client.on('end', () => lost('the connection closed'));
        client.on('reconnecting', () => lost('reconnecting'));
      }
      const ready = this.#onTrackingReady;
      if (ready) client.on('ready', () => ready(client));
    }
  }
}

const roundMs = (ms: number) => Math.round(ms * 1000) / 1000;

function addressOf(loc: StandaloneLocation): string {
  return loc.path ?? `${loc.host}:${loc.port}`;
}

/** Sweep period of the reply-order deadlines (deadlines fire up to this late). */
const SWEEP_MS = 10;

/**
 * Calls written per event-loop turn per connection; the rest go out on the next turns, in
 * order. node-redis writes all a turn's commands in one write, and redis-server runs all it
 * has read (up to 16 KiB) before answering any of it: with many calls in flight the two
 * processes then take turns, each idle while the other works. Sent in slices, Redis answers
 * the first slice while Node makes the next (bench/ratelimit.ts, bench/cache.ts). A turn with
 * PACE calls or fewer — any sequential caller, any light load — sends each at once. Pacing
 * changes when a call is written, never what it does; its deadline starts when it is sent.
 */
export const PACE = 25;

/** A call waiting for a later turn. */
interface Waiting {
  fn: (client: RedisCommands) => Promise<any>;
  readonly: boolean;
  timeoutMs: number;
  binary: boolean;
  on: RedisCommands | undefined;
  resolve: (value: any) => void;
  reject: (error: unknown) => void;
}

/** Where an owned single-socket client keeps its deadline ring. */
const RING = Symbol('larder.replyOrder');

interface RingSlot {
  ring: ReplyOrderDeadlines;
  location: StandaloneLocation;
  ok: (value: any) => any;
  fail: (error: unknown) => never;
}

/** Type mapping that returns Redis blob strings as Buffers (binary-safe payloads). */
export const BINARY = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;
