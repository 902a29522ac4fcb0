/**
 * A session store that counts and times what it does for `larder.metrics`: loads, writes
 * (creates, saves, touches, counters), deletes and errors, with the `load`, `save` and
 * `delete` latencies. It wraps whichever engine is configured, so every path — requests,
 * `forUser().revoke`, the express-session bridge — is counted once, where it reaches the store.
 */
import type { SessionCounters } from '../metrics/metrics.js';
import type { CookieSessionStore, ServerSessionStore, SessionStore } from './store.js';

/**
 * `store`, counting into `counters`; `store` itself when metrics are off.
 *
 * @example const store = instrumentSessionStore(redisSessionStore({ connection }), larder.metrics.sessions());
 */
export function instrumentSessionStore(
  store: SessionStore,
  counters: SessionCounters | undefined,
): SessionStore {
  if (counters === undefined) return store;
  return store.kind === 'server' ? server(store, counters) : cookie(store, counters);
}

function server(store: ServerSessionStore, m: SessionCounters): ServerSessionStore {
  const load = m.ops.get('load');
  const save = m.ops.get('save');
  const remove = m.ops.get('delete');
  /**
   * Runs the store call `call` timed as `timer`; `after` counts its result. A call that throws
   * instead of rejecting counts as a failure too. A `then` rather than an async wrapper: this
   * runs on every session load and save.
   */
  const run = <T>(timer: typeof load, call: () => Promise<T>, after: (result: T) => void): Promise<T> => {
    const start = performance.now();
    let pending: Promise<T>;
    try {
      pending = call();
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(
      (result) => {
        timer.done(start);
        after(result);
        return result;
      },
      (error: unknown) => {
        m.errors++;
        timer.fail();
        timer.done(start);
        throw error;
      },
    );
  };
  const wrote = () => {
    m.writes++;
  };
  const loaded = () => {
    m.loads++;
  };
  const created = (stored: boolean) => {
    if (!stored) return;
    m.created++;
    m.writes++;
  };
  const deleted = (existed: boolean) => {
    if (existed) m.deleted++;
  };
  return {
    ...store,
    load: (id) => run(load, () => store.load(id), loaded),
    create: (id, write) => run(save, () => store.create(id, write), created),
    update: (id, write) => run(save, () => store.update(id, write), wrote),
    incr: (id, field, delta, write) => run(save, () => store.incr(id, field, delta, write), wrote),
    touch: (id, lastSeen, ttl) => run(save, () => store.touch(id, lastSeen, ttl), wrote),
    destroy: (id) => run(remove, () => store.destroy(id), deleted),
  };
}

/** The signed-cookie engine: decoding a cookie is its load, encoding one its write. */
function cookie(store: CookieSessionStore, m: SessionCounters): CookieSessionStore {
  const load = m.ops.get('load');
  const save = m.ops.get('save');
  const timed = <T>(timer: typeof load, call: () => T): T => {
    const start = performance.now();
    try {
      return call();
    } catch (error) {
      m.errors++;
      timer.fail();
      throw error;
    } finally {
      timer.done(start);
    }
  };
  return {
    ...store,
    decode: (value, now) => {
      m.loads++;
      return timed(load, () => store.decode(value, now));
    },
    encode: (session, cookieName) => {
      const value = timed(save, () => store.encode(session, cookieName));
      m.writes++;
      return value;
    },
  };
}
