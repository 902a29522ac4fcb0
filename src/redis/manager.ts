/**
 * The connection budget of one Larder: every capability that names the same location
 * shares one `RedisConnection` (node-redis pipelines commands over one socket, so one
 * connection per server carries the whole request load). Dedicated connections are opened
 * only where Redis requires them: a subscriber for pub/sub, a tracking connection for the
 * tiered cache, and BullMQ's own for tasks. `connections()` lists them all.
 */
import type { RedisLocation } from '../config/types.js';
import { BackendUnavailableError } from '../errors.js';
import { type ConnectionHealth, type ConnectionOptions, RedisConnection } from './connection.js';
import { TrackingHub } from './tracking.js';

/** Purpose of a connection beyond plain commands; each purpose gets its own socket. */
export type ConnectionRole = 'commands' | 'subscriber' | 'tracking';

export class ConnectionManager {
  #byKey = new Map<string, RedisConnection>();
  #hubs = new Map<string, TrackingHub>();
  #externalIds = new WeakMap<object, number>();
  #externalCount = 0;
  #log: ConnectionOptions['log'];
  #closed = false;

  constructor(log?: ConnectionOptions['log']) {
    this.#log = log;
  }

  /**
   * The shared connection for `location` and `role`, created on first request (it still
   * connects lazily, on its first command).
   */
  get(
    location: RedisLocation,
    role: ConnectionRole = 'commands',
    options: ConnectionOptions = {},
  ): RedisConnection {
    const key = `${role}|${options.commandTimeout ?? ''}|${this.#identity(location)}`;
    let conn = this.#byKey.get(key);
    if (!conn) {
      conn = new RedisConnection(location, { log: this.#log, tracking: role === 'tracking', ...options });
      this.#byKey.set(key, conn);
    }
    return conn;
  }

  /**
   * The client-tracking hub for `location`, shared by every tiered cache on it (one
   * tracking socket per server, whatever the number of caches); it closes itself when its
   * last cache unsubscribes, and the next call makes a new one — so ask for the hub when
   * subscribing, not once ahead of time. Throws `BackendUnavailableError` after `close()`.
   *
   * @example
   * const unsubscribe = larder.connections.tracking(location).subscribe({ prefix: 'shop:', store: tier });
   */
  tracking(location: RedisLocation): TrackingHub {
    // After close(), a new hub would open sockets nothing closes.
    if (this.#closed)
      throw new BackendUnavailableError('larder', 'this Larder was closed; create a new one.');
    const key = this.#identity(location);
    let hub = this.#hubs.get(key);
    if (!hub) {
      const created: TrackingHub = new TrackingHub(location, {
        log: this.#log,
        // The shared command connection: Cluster discovery, and a socket it replaces for
        // missing a deadline makes the hub replace its tracking socket to that server too.
        commands: this.get(location),
        onIdle: () => {
          if (this.#hubs.get(key) === created) this.#hubs.delete(key);
        },
      });
      hub = created;
      this.#hubs.set(key, hub);
    }
    return hub;
  }

  /** Every connection made so far (tracking sockets included). */
  connections(): RedisConnection[] {
    return [...this.#byKey.values(), ...[...this.#hubs.values()].flatMap((h) => h.connections())];
  }

  /**
   * Health of every connection made so far, each with a measured PING round trip and its
   * role; `describe` may add fields from the connection (`larder.health()` adds `required`).
   */
  health(
    describe: (conn: RedisConnection) => Partial<ConnectionHealth> = () => ({}),
  ): Promise<ConnectionHealth[]> {
    // [connection, role, the connection `describe` is asked about]
    const roles: Array<[RedisConnection, ConnectionRole, RedisConnection]> = [
      ...[...this.#byKey].map(([key, c]): [RedisConnection, ConnectionRole, RedisConnection] => [
        c,
        key.slice(0, key.indexOf('|')) as ConnectionRole,
        c,
      ]),
      // A tracking socket's location is one server of the hub's (a Cluster primary), which no
      // configured capability names: it serves what the hub's location serves, so it is
      // described as that location's command connection is.
      ...[...this.#hubs.values()].flatMap((h) =>
        h
          .connections()
          .map((c): [RedisConnection, ConnectionRole, RedisConnection] => [
            c,
            'tracking',
            this.get(h.location),
          ]),
      ),
    ];
    return Promise.all(
      roles.map(async ([c, role, owner]) => ({ ...(await c.health()), role, ...describe(owner) })),
    );
  }

  /** The key under which connections to `location` are shared (one per server set and credentials). */
  identity(location: RedisLocation): string {
    return this.#identity(location);
  }

  /** Quits every connection; afterwards no socket or timer of larder's is left open. */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#byKey.values()];
    const hubs = [...this.#hubs.values()];
    this.#byKey.clear();
    this.#hubs.clear();
    await Promise.all([...hubs.map((h) => h.close()), ...all.map((c) => c.close())]);
  }

  #identity(location: RedisLocation): string {
    if (location.kind === 'external') {
      let id = this.#externalIds.get(location.client);
      if (id === undefined) {
        id = ++this.#externalCount;
        this.#externalIds.set(location.client, id);
      }
      return `external#${id}`;
    }
    return JSON.stringify(location);
  }
}
