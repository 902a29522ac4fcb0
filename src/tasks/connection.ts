/**
 * @module larder/tasks/connection — plain node-redis clients for BullMQ. Not larder's own
 * `RedisConnection`: BullMQ blocks (BZPOPMIN, XREAD BLOCK), relies on the offline queue
 * while reconnecting and runs its own timeouts, which that connection deliberately turns off.
 */
import { createClient } from 'redis';
import { redactUrl } from '../config/location.js';
import type { RedisLocation, StandaloneLocation } from '../config/types.js';
import { ConfigError } from '../errors.js';

/** The node-redis client calls larder makes itself (BullMQ drives the rest through its adapter). */
export interface RawRedisClient {
  isOpen: boolean;
  connect(): Promise<unknown>;
  close?(): Promise<void>;
  destroy(): void;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options?: Record<string, unknown>): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
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

/** Closes a client we made, whatever state it is in. */
export async function closeRaw(client: RawRedisClient): Promise<void> {
  try {
    if (client.isOpen) await (client.close ? client.close() : client.destroy());
    else client.destroy();
  } catch {
    // Already closed or never connected: nothing to release.
  }
}
