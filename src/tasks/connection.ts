/**
 * @module larder/tasks/connection — plain node-redis clients for BullMQ. Not larder's own
 * `RedisConnection`: BullMQ blocks (BZPOPMIN, XREAD BLOCK), relies on the offline queue
 * while reconnecting and runs its own timeouts, which that connection deliberately turns off.
 */
import { createClient } from 'redis';
import { DEFAULT_CONNECT_TIMEOUT, redactUrl } from '../config/location.js';
import type { RedisLocation, StandaloneLocation } from '../config/types.js';
import { BackendUnavailableError, ConfigError } from '../errors.js';
import { within } from '../within.js';

/** The node-redis client calls larder makes itself (BullMQ drives the rest through its adapter). */
export interface RawRedisClient {
  isOpen: boolean;
  /** Connected and past the handshake: commands are sent, not queued offline. */
  isReady: boolean;
  connect(): Promise<unknown>;
  close?(): Promise<void>;
  destroy(): void;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options?: Record<string, unknown>): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

/** Throws `ConfigError` unless BullMQ on node-redis can use `location`. */
export function checkBrokerLocation(location: RedisLocation): void {
  if (location.kind === 'cluster' || location.kind === 'sentinel') {
    throw new ConfigError(
      'tasks.broker',
      redactUrl(location),
      `one Redis server (redis://, rediss://, unix://) or a primary + replicas list: BullMQ ${'6'}'s ` +
        `node-redis adapter has no ${location.kind === 'cluster' ? 'Redis Cluster' : 'Sentinel'} support yet ` +
        "(it reports isCluster = false and sends single-node commands). Point tasks.broker at a standalone server, or use driver 'eager'",
    );
  }
  if (
    location.kind === 'external' &&
    typeof (location.client as { duplicate?: unknown }).duplicate !== 'function'
  ) {
    throw new ConfigError(
      'tasks.broker',
      'an external client',
      'a node-redis client with duplicate() (BullMQ needs connections of its own for blocking commands)',
    );
  }
}

/** A new, unconnected client for `location` (checked by `checkBrokerLocation`). */
export function rawClient(location: RedisLocation): RawRedisClient {
  if (location.kind === 'external') {
    return (location.client as unknown as { duplicate(): RawRedisClient }).duplicate();
  }
  const loc: StandaloneLocation =
    location.kind === 'replicas' ? location.primary : (location as StandaloneLocation);
  return createClient({
    ...(loc.username !== undefined ? { username: loc.username } : {}),
    ...(loc.password !== undefined ? { password: loc.password } : {}),
    database: loc.db,
    disableClientInfo: true,
    socket: {
      connectTimeout: loc.connectTimeout,
      ...(loc.path ? { path: loc.path } : { host: loc.host, port: loc.port }),
      ...(loc.tls ? { tls: true, ...(loc.tlsOptions ?? {}) } : {}),
    },
  } as Parameters<typeof createClient>[0]) as unknown as RawRedisClient;
}

/**
 * Closes a client we made, whatever state it is in: gracefully when it is connected, at
 * once when it is not (a graceful close would wait for ever on commands queued offline).
 */
export async function closeRaw(client: RawRedisClient): Promise<void> {
  try {
    if (client.isReady && client.close) await client.close();
    else client.destroy();
  } catch {
    // Already closed or never connected: nothing to release.
  }
}

/** How long a caller waits on the broker for one operation: a connect, then a command. */
export function brokerBudget(location: RedisLocation): number {
  const connect = 'connectTimeout' in location ? location.connectTimeout : DEFAULT_CONNECT_TIMEOUT;
  return connect + location.commandTimeout;
}

/**
 * Runs `op` once `client` is ready, within {@link brokerBudget} in all; past it, rejects
 * with `BackendUnavailableError` (DESIGN §1.5: fail fast with a typed error). node-redis
 * queues commands offline and BullMQ waits for its connection, so a broker that is down
 * would otherwise leave the caller waiting for ever. `op` is not started before the client
 * is ready, so a call refused that early sent nothing.
 *
 * @example await withBroker(ctx.commands, location, 'enqueue job 42', () => queue.add(name, data, opts));
 */
export async function withBroker<T>(
  client: RawRedisClient,
  location: RedisLocation,
  what: string,
  op: () => Promise<T>,
): Promise<T> {
  const budget = brokerBudget(location);
  const deadline = Date.now() + budget;
  // A caller's own wait: its timer keeps the process alive (within's keepAlive).
  const bounded = <R>(promise: Promise<R>, detail: string) =>
    within(
      promise,
      Math.max(0, deadline - Date.now()),
      (): R => {
        throw new BackendUnavailableError(
          `tasks.broker ${redactUrl(location)}`,
          `could not ${what}: ${detail} within ${budget} ms (connectTimeout + commandTimeout). ` +
            'Check that Redis is running and reachable there.',
        );
      },
      { keepAlive: true },
    );
  if (!client.isReady) {
    let onReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      onReady = resolve;
      client.on('ready', onReady);
    });
    try {
      await bounded(ready, 'no connection to Redis (nothing was sent)');
    } finally {
      client.off('ready', onReady);
    }
  }
  return bounded(op(), 'no answer from Redis (it may still take effect once Redis answers)');
}
