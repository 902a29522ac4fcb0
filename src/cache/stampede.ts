/**
 * @module larder/cache/stampede — the parts of `getOrSet`'s stampede protection that are
 * not the cache facade: waking the callers that wait for another caller's load, and the
 * probabilistic early refresh.
 *
 * How a cold key is loaded once across processes (`Cache.getOrSet`):
 * 1. In one process, concurrent callers share one load (a promise per key).
 * 2. Across processes, the load takes a lock in the cache's own store (`add` of a random
 *    token with the lock timeout as TTL, so a crashed loader frees it). The winner loads,
 *    stores, releases the lock (only if it still holds its token) and publishes a wake-up.
 * 3. Losers subscribe before they look at the key once more, then sleep until the wake-up
 *    (or, if the winner died without one, until its lock expires) and read the value — no
 *    polling. If there is still no value, they compete for the lock again.
 *
 * On Redis the wake-up is one PUBLISH on the `larder:wake` channel (message: the store key),
 * heard by one subscriber connection per process. For in-process stores (memory) it is a
 * direct call.
 */

import type { RedisConnection } from '../redis/connection.js';
import type { CacheBackend } from './backend.js';

/** Wakes the callers waiting for a key's load. */
export interface Waker {
  /**
   * Resolves once a wake-up for `key` can no longer be missed (the subscription is live),
   * with a `wait` that resolves on the next wake-up for `key` or after `timeoutMs`, and a
   * `cancel` for a caller that no longer waits.
   */
  listen(key: string, timeoutMs: number): Promise<{ wait: Promise<void>; cancel: () => void }>;
  /** Wakes every process's callers waiting for `key`. Never throws. */
  wake(key: string): Promise<void>;
}

/** The Redis channel wake-ups travel on. */
export const WAKE_CHANNEL = 'larder:wake';

class Listeners {
  readonly #byKey = new Map<string, Set<() => void>>();

  add(key: string, timeoutMs: number): { wait: Promise<void>; cancel: () => void } {
    let done!: () => void;
    const wait = new Promise<void>((resolve) => {
      done = resolve;
    });
    let set = this.#byKey.get(key);
    if (!set) {
      set = new Set();
      this.#byKey.set(key, set);
    }
    // Referenced: a caller awaits it, bounded by the lock's timeout.
    const timer = setTimeout(() => finish(), timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      const current = this.#byKey.get(key);
      current?.delete(finish);
      if (current?.size === 0) this.#byKey.delete(key);
      done();
    };
    set.add(finish);
    return { wait, cancel: finish };
  }

  fire(key: string): void {
    const set = this.#byKey.get(key);
    if (!set) return;
    for (const finish of [...set]) finish();
  }
}

/** Wake-ups for stores that live in this process: one registry per store. */
const localRegistries = new WeakMap<CacheBackend, Listeners>();

/**
 * The waker of an in-process store (memory): callers sharing the store share the registry.
 *
 * @example const waker = localWaker(memoryBackend());
 */
export function localWaker(backend: CacheBackend): Waker {
  let registry = localRegistries.get(backend);
  if (!registry) {
    registry = new Listeners();
    localRegistries.set(backend, registry);
  }
  return {
    listen: async (key, timeoutMs) => registry.add(key, timeoutMs),
    wake: async (key) => registry.fire(key),
  };
}

/** One subscription per subscriber connection, shared by every cache on it. */
const redisRegistries = new WeakMap<RedisConnection, { listeners: Listeners; subscribed: Promise<void> }>();

/**
 * The waker of a Redis store: PUBLISH on `publisher`, SUBSCRIBE once on `subscriber` (a
 * dedicated connection; on Cluster, node-redis routes the subscription and PUBLISH reaches
 * every node).
 *
 * @example const waker = redisWaker(larder.connection(loc), larder.connection(loc, 'subscriber'));
 */
export function redisWaker(publisher: RedisConnection, subscriber: RedisConnection): Waker {
  const registry = (): { listeners: Listeners; subscribed: Promise<void> } => {
    let entry = redisRegistries.get(subscriber);
    if (!entry) {
      const listeners = new Listeners();
      const subscribed = subscriber
        .ready()
        .then(() =>
          subscriber.client.subscribe(WAKE_CHANNEL, (message: string | Buffer) =>
            listeners.fire(String(message)),
          ),
        )
        .then(() => undefined);
      entry = { listeners, subscribed };
      redisRegistries.set(subscriber, entry);
      // A failed subscription is retried by the next waiter.
      subscribed.catch(() => redisRegistries.delete(subscriber));
    }
    return entry;
  };
  return {
    async listen(key, timeoutMs) {
      const { listeners, subscribed } = registry();
      const handle = listeners.add(key, timeoutMs);
      try {
        await subscribed;
      } catch {
        // No subscription (the server is down): the caller still waits, bounded by the
        // lock's timeout, as if the wake-up were lost.
      }
      return handle;
    },
    async wake(key) {
      try {
        await publisher.run((c) => c.publish(WAKE_CHANNEL, key));
      } catch {
        // Waiters fall back to the lock's expiry.
      }
    },
  };
}

/**
 * XFetch (Vattani, Chierichetti, Lowenstein 2015): refresh early with a probability that
 * grows as the expiry nears, scaled by how long the load took (`deltaMs`) and `beta`
 * (1 = the paper's default; larger refreshes earlier).
 *
 * @example if (refreshEarly(5000, 120, 1)) void refresh();
 */
export function refreshEarly(
  freshMsLeft: number,
  deltaMs: number,
  beta: number,
  random = Math.random,
): boolean {
  if (deltaMs <= 0 || beta <= 0) return false;
  const r = random();
  return r > 0 && -deltaMs * beta * Math.log(r) >= freshMsLeft;
}
