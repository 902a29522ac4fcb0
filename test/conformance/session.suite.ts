/**
 * @module The session conformance suite: Django's `tests/sessions_tests/tests.py`
 * `SessionTestsMixin` cases adapted to larder's `Session` (DESIGN §4.3), then larder's own
 * guarantees (field-level writes, atomic `incr`, delete-wins, fixation, the per-user index,
 * size limit, idle and absolute timeouts, value types). `test/session/session-conformance.test.ts`
 * runs it on every engine — memory, redis (standalone and Cluster), cache (a memory cache, a
 * Redis cache on standalone and Cluster) and signed-cookie.
 *
 * Every case says "save, then reopen" through one driver (`persist` / `reopen` below), so it
 * runs unchanged on both kinds of engine: a server engine's next request sends the session
 * id (`session.key` after `save()`); the signed-cookie engine's sends the cookie value the
 * previous response set (`save()` there is `cookieValue()`, which also becomes `key`).
 *
 * Django cases that do not apply to larder, and why:
 * - test_decode, test_decode_failure_logged_to_security, test_decode_serializer_exception,
 *   test_default_hashing_algorith_legacy_decode, test_unpickling_exception: Django's
 *   pickle/base64 session encoding; larder stores JSON per field (covered by the codec and
 *   signed-cookie store tests, and by "value types round-trip" here).
 * - test_custom_expiry_timedelta: no timedelta in JS; seconds and `Date` cover it.
 * - test_session_key_is_read_only: `key` is a plain property by design (DESIGN §4.3).
 * - test_pop_default_named_argument: no keyword arguments in JS.
 * - the `a*` async twins (aget, aset, asave…): every larder method is async already.
 * - test_sessionmanager_save, test_extra_session_field, test_clearsessions_command*: the
 *   database engine and its management command; larder's stores expire entries by TTL.
 * - get_expiry_age(modification=, expiry=) keyword forms: larder takes an injected clock
 *   (`new SessionManager(larder, { now })`) instead; the expiry cases use it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { LarderConfig, SessionsConfig } from '../../src/config/index.js';
import {
  CacheKeyError,
  CacheValueError,
  SessionInterruptedError,
  SessionTooLargeError,
} from '../../src/errors.js';
import type { Larder } from '../../src/larder.js';
import { newSessionId } from '../../src/session/ids.js';
import type { SessionManager } from '../../src/session/manager.js';
import type { Session, SessionData } from '../../src/session/session.js';
import { defineSuite, it, type Target } from '../support/conformance.js';

/** The engines the suite runs on. */
export type SessionEngine = 'memory' | 'redis' | 'cache' | 'signed-cookie';

/** A clock for a manager (epoch ms): a fake one the test moves by hand, or the real one. */
export interface TestClock {
  now: () => number;
  advance(ms: number): void;
}

/** What a target hands the suite. */
export interface SessionFixture {
  engine: SessionEngine;
  target: Target;
  /** The Larder under test; `larder.sessions` is the manager an application would use. */
  larder: Larder;
  /**
   * A manager with `sessions` config overrides and `clock` (default: a new fake clock), as
   * `new SessionManager(larder, { now })`. On Redis it shares the fixture's store (same
   * server and prefix); in memory it has a store of its own, on that clock.
   */
  make(
    overrides?: Partial<SessionsConfig>,
    clock?: TestClock,
  ): { sessions: SessionManager; clock: TestClock };
  /** A real sleep, for the store's own (real-time) expiry. */
  sleep(ms: number): Promise<void>;
}

/** Suite names, one per engine: `runConformance(sessionSuites.redis, …)`. */
export const sessionSuites = {
  memory: 'session:memory',
  redis: 'session:redis',
  cache: 'session:cache',
  'signed-cookie': 'session:signed-cookie',
} as const satisfies Record<SessionEngine, string>;

/** Where each engine runs: signed-cookie needs no server; the cache engine runs over every cache. */
export const engineTargets: Record<SessionEngine, Target[]> = {
  memory: ['memory'],
  redis: ['standalone', 'cluster'],
  cache: ['memory', 'standalone', 'cluster'],
  'signed-cookie': ['memory'],
};

/** A signing secret for the signed-cookie engine (32+ characters). */
export const TEST_SECRET = 'conformance-secret-0123456789abcdefghijklmnop';

/**
 * The `createLarder` config of `engine` on `target`: redis sessions at `url` under `prefix`;
 * the cache engine over a memory cache or a Redis cache (key prefix `prefix`). Nothing else
 * touches Redis (`redis: false`).
 * @example createLarder(sessionConfig('redis', 'cluster', url, uniquePrefix('s'), { maxAge: '1h' }), {});
 */
export function sessionConfig(
  engine: SessionEngine,
  target: Target,
  url: string | undefined,
  prefix: string,
  overrides: Partial<SessionsConfig> = {},
): LarderConfig {
  const base = { redis: false, logger: false } as const;
  switch (engine) {
    case 'memory':
      return { ...base, sessions: { engine, ...overrides } };
    case 'redis':
      return { ...base, sessions: { engine, location: url, prefix, ...overrides } };
    case 'cache':
      return {
        ...base,
        caches: {
          default:
            target === 'memory'
              ? { backend: 'memory' }
              : { backend: 'redis', location: url, keyPrefix: prefix },
        },
        sessions: { engine, prefix: 'session', ...overrides },
      };
    case 'signed-cookie':
      return { ...base, sessions: { engine, secret: TEST_SECRET, ...overrides } };
  }
}

/** A fake clock at the current time. */
export function fakeClock(start = Date.now()): TestClock {
  let now = start;
  return {
    now: () => now,
    advance(ms) {
      now += ms;
    },
  };
}

/** The real clock, for cases that wait for the store's own expiry. */
export const realClock: TestClock = {
  now: () => Date.now(),
  advance() {
    throw new Error('the real clock cannot be advanced; sleep instead');
  },
};

type AnySession = Session<SessionData>;

const MINUTE = 60_000;
const TWO_WEEKS_S = 1_209_600;

// ------------------------------------------------------------------------- the driver

/**
 * Ends this request: saves `session` and returns the cookie value the client holds for the
 * next request — the session id on a server engine, the signed value on signed-cookie — or
 * `undefined` when the session is empty (the response clears the cookie).
 */
async function persist(session: AnySession): Promise<string | undefined> {
  await session.save();
  if (await session.isEmpty()) return undefined;
  assert.ok(session.key, 'a saved session with data has a key');
  return session.key;
}

/** Like `persist`, for a session that has data: the cookie value is certain. */
async function persistKey(session: AnySession): Promise<string> {
  const cookie = await persist(session);
  assert.ok(cookie !== undefined, 'the saved session is not empty');
  return cookie;
}

/** The next request carrying `cookie`. */
function reopen(sessions: SessionManager, cookie: string | undefined, userAgent?: string): AnySession {
  return sessions.open({ cookie, userAgent });
}

/** Save, then reopen: the next request after this one. */
async function saveAndReopen(sessions: SessionManager, session: AnySession): Promise<AnySession> {
  return reopen(sessions, await persist(session));
}

/** A session holding `data`, saved; returns its cookie value. */
async function stored(sessions: SessionManager, data: SessionData): Promise<string> {
  const session = sessions.open();
  await session.update(data);
  return persistKey(session);
}

/** Asserts that the next request carrying `cookie` finds no session: it starts fresh. */
async function assertGone(sessions: SessionManager, cookie: string | undefined, label: string) {
  const again = reopen(sessions, cookie);
  assert.deepEqual(await again.entries(), [], `${label}: the session is gone`);
  assert.equal(again.key, null, `${label}: its id is not adopted`);
}

/** Asserts that the next request carrying `cookie` finds exactly `data`. */
async function assertHolds(
  sessions: SessionManager,
  cookie: string | undefined,
  data: SessionData,
  label: string,
) {
  const again = reopen(sessions, cookie);
  assert.deepEqual(new Map(await again.entries()), new Map(Object.entries(data)), label);
  assert.equal(again.key, cookie, `${label}: the same key`);
}

/** Whether a server store holds `id`, asked directly (no `Session` checks, nothing destroyed). */
async function inStore(sessions: SessionManager, id: string): Promise<boolean> {
  const store = sessions.store;
  assert.equal(store.kind, 'server', 'only server engines keep sessions under an id');
  return (await store.load(id)) !== undefined;
}

/**
 * What the middleware does for an unmodified session once `touchAfter` has passed: a
 * server engine refreshes the store's expiry (`touch`), signed-cookie re-signs the cookie.
 * Returns the cookie value the client then holds.
 */
async function refresh(sessions: SessionManager, session: AnySession): Promise<string> {
  assert.equal(session.pending(), 'touch', 'an unmodified session past touchAfter asks for a touch');
  if (sessions.store.kind === 'cookie') return session.cookieValue();
  assert.equal(await session.touch(), true, 'touch finds the session');
  return session.key as string;
}

const userIds = () => `user-${randomBytes(6).toString('hex')}`;

// ------------------------------------------------------------------------- the cases

function sessionCases({ driver }: { driver: () => SessionFixture }): void {
  const sessions = () => driver().larder.sessions;

  // ---------------------------------------------------------------- Django SessionTestsMixin

  // Django test_new_session
  it('a new session is neither modified nor accessed, and has no key', () => {
    const session = sessions().open();
    assert.equal(session.modified, false);
    assert.equal(session.accessed, false);
    assert.equal(session.key, null);
  });

  // Django test_get_empty
  it('get on an empty session returns undefined, or the default given', async () => {
    const session = sessions().open();
    assert.equal(await session.get('cat'), undefined);
    assert.equal(await session.get('cat', 'default'), 'default');
    assert.equal(session.accessed, true);
    assert.equal(session.modified, false);
  });

  // Django test_store
  it('set marks the session modified; pop returns the value', async () => {
    const session = sessions().open();
    await session.set('cat', 'dog');
    assert.equal(session.modified, true);
    assert.equal(await session.pop('cat'), 'dog');
  });

  // Django test_pop (the flags are fresh because the session is reopened, not reset by hand)
  it('pop of a stored field returns it, removes it and marks the session modified', async () => {
    const first = sessions().open();
    await first.set('some key', 'exists');
    const session = await saveAndReopen(sessions(), first);
    assert.equal(session.accessed, false);
    assert.equal(session.modified, false);
    assert.equal(await session.pop('some key'), 'exists');
    assert.equal(session.accessed, true);
    assert.equal(session.modified, true);
    assert.equal(await session.get('some key'), undefined);
    // The removal is saved.
    const again = await saveAndReopen(sessions(), session);
    assert.equal(await again.has('some key'), false);
  });

  // Django test_pop_default
  it('pop of a missing field returns the default and modifies nothing', async () => {
    const session = sessions().open();
    assert.equal(await session.pop('some key', 'does not exist'), 'does not exist');
    assert.equal(session.accessed, true);
    assert.equal(session.modified, false);
  });

  // Django test_pop_no_default_keyerror_raised (JS has no KeyError: undefined, nothing changed)
  it('pop of a missing field without a default returns undefined and modifies nothing', async () => {
    const session = sessions().open();
    assert.equal(await session.pop('some key'), undefined);
    assert.equal(session.modified, false);
  });

  // Django test_setdefault
  it('setDefault sets only an absent field and returns the value held', async () => {
    const session = sessions().open();
    assert.equal(await session.setDefault('foo', 'bar'), 'bar');
    assert.equal(await session.setDefault('foo', 'baz'), 'bar');
    assert.equal(session.accessed, true);
    assert.equal(session.modified, true);
    const again = await saveAndReopen(sessions(), session);
    assert.equal(await again.setDefault('foo', 'qux'), 'bar');
    assert.equal(again.modified, false, 'setDefault of a present field changes nothing');
  });

  // Django test_update
  it('update sets several fields', async () => {
    const session = sessions().open();
    await session.update({ 'update key': 1, other: 'two' });
    assert.equal(session.accessed, true);
    assert.equal(session.modified, true);
    assert.equal(await session.get('update key'), 1);
    const again = await saveAndReopen(sessions(), session);
    assert.deepEqual(Object.fromEntries(await again.entries()), { 'update key': 1, other: 'two' });
  });

  // Django test_has_key
  it('has reads the session without modifying it', async () => {
    const cookie = await stored(sessions(), { 'some key': 1 });
    const session = reopen(sessions(), cookie);
    assert.equal(await session.has('some key'), true);
    assert.equal(await session.has('other key'), false);
    assert.equal(session.accessed, true);
    assert.equal(session.modified, false);
  });

  // Django test_values (entries() holds the values: there is no values())
  it('the values of a stored session read back, without modifying it', async () => {
    const empty = sessions().open();
    assert.deepEqual(await empty.entries(), []);
    assert.equal(empty.accessed, true);
    const session = reopen(sessions(), await stored(sessions(), { 'some key': 1 }));
    assert.deepEqual(
      (await session.entries()).map(([, value]) => value),
      [1],
    );
    assert.equal(session.accessed, true);
    assert.equal(session.modified, false);
  });

  // Django test_keys
  it('keys lists the fields without modifying the session', async () => {
    const session = reopen(sessions(), await stored(sessions(), { 'some key': 1 }));
    assert.deepEqual(await session.keys(), ['some key']);
    assert.equal(session.accessed, true);
    assert.equal(session.modified, false);
  });

  // Django test_items
  it('entries lists the fields and values without modifying the session', async () => {
    const session = reopen(sessions(), await stored(sessions(), { 'some key': 1 }));
    assert.deepEqual(await session.entries(), [['some key', 1]]);
    assert.equal(session.accessed, true);
    assert.equal(session.modified, false);
  });

  // Django test_clear (+ the cleared session saved: the next request finds it empty)
  it('clear removes every field and marks the session modified', async () => {
    const session = reopen(sessions(), await stored(sessions(), { x: 1 }));
    assert.deepEqual(await session.entries(), [['x', 1]]);
    await session.clear();
    assert.deepEqual(await session.entries(), []);
    assert.equal(session.accessed, true);
    assert.equal(session.modified, true);
    const cookie = await persist(session);
    assert.equal(cookie, undefined, 'an emptied session keeps no cookie');
    await assertGone(sessions(), cookie, 'after clear and save');
  });

  it('clear then set keeps only the new fields', async () => {
    const session = reopen(sessions(), await stored(sessions(), { a: 1, b: 2 }));
    await session.clear();
    await session.set('c', 3);
    const again = await saveAndReopen(sessions(), session);
    assert.deepEqual(Object.fromEntries(await again.entries()), { c: 3 });
  });

  // Django test_save (larder stores a session only once it has data)
  it('save stores the session: the next request finds its data', async () => {
    const session = sessions().open();
    await session.set('cat', 'dog');
    await session.save();
    assert.ok(session.key, 'a saved session has a key');
    assert.equal(session.modified, true, 'modified reports the request, not the store');
    await assertHolds(sessions(), session.key ?? undefined, { cat: 'dog' }, 'reopened');
  });

  it('saving an empty session stores nothing and gives it no key', async () => {
    const session = sessions().open();
    assert.equal(await session.get('x'), undefined);
    await session.save();
    assert.equal(session.key, null);
    assert.equal(session.pending(), 'none', 'no cookie is sent for it');
  });

  it('saving a session emptied by delete removes it from the store', async () => {
    const id = await stored(sessions(), { only: 1 });
    const session = reopen(sessions(), id);
    assert.equal(await session.delete('only'), true);
    await session.save();
    assert.equal(session.key, null);
    assert.equal(await inStore(sessions(), id), false);
    await assertGone(sessions(), id, 'the old id');
  });

  // Django test_delete
  it('deleting the stored session ends it: the next request finds nothing', async () => {
    const id = await stored(sessions(), { foo: 'bar' });
    const store = sessions().store;
    assert.equal(store.kind, 'server');
    assert.equal(await store.destroy(id), true);
    assert.equal(await store.destroy(id), false, 'a second delete finds nothing');
    await assertGone(sessions(), id, 'deleted');
  });

  // Django test_flush (first half: the session object)
  it('flush empties the session, drops its key and marks it modified and accessed', async () => {
    const session = reopen(sessions(), await stored(sessions(), { foo: 'bar' }));
    const previous = session.key;
    await session.flush();
    assert.equal(session.key, null);
    assert.notEqual(session.key, previous);
    assert.deepEqual(await session.entries(), []);
    assert.equal(session.modified, true);
    assert.equal(session.accessed, true);
    assert.equal(await persist(session), undefined, 'a flushed session keeps no cookie');
  });

  // Django test_flush (second half: exists(prev_key) is False)
  it('flush deletes the stored session: its old id finds nothing', async () => {
    const id = await stored(sessions(), { foo: 'bar' });
    const session = reopen(sessions(), id);
    await session.flush();
    assert.equal(await inStore(sessions(), id), false);
    await assertGone(sessions(), id, 'flushed');
  });

  it('flush then set starts a new session under a new key', async () => {
    const id = await stored(sessions(), { foo: 'bar' });
    const session = reopen(sessions(), id);
    await session.flush();
    await session.set('fresh', true);
    const cookie = await persistKey(session);
    assert.notEqual(cookie, id);
    await assertHolds(sessions(), cookie, { fresh: true }, 'the new session');
  });

  // Django test_cycle
  it('cycleKey gives a new key for the same data; the old key stops working', async () => {
    const id = await stored(sessions(), { a: 'c', b: 'd' });
    const session = reopen(sessions(), id);
    const before = await session.entries();
    await session.cycleKey();
    const cookie = await persistKey(session);
    assert.notEqual(cookie, id);
    assert.deepEqual(await session.entries(), before);
    await assertGone(sessions(), id, 'the old key');
    await assertHolds(sessions(), cookie, { a: 'c', b: 'd' }, 'the new key');
  });

  // Django test_cycle_with_no_session_cache
  it('cycleKey on a session not loaded yet keeps its data', async () => {
    const id = await stored(sessions(), { a: 'c', b: 'd' });
    const session = reopen(sessions(), id);
    await session.cycleKey();
    assert.deepEqual(Object.fromEntries(await session.entries()), { a: 'c', b: 'd' });
    await assertHolds(sessions(), await persistKey(session), { a: 'c', b: 'd' }, 'after the cycle');
  });

  // Django test_save_doesnt_clear_data
  it('save keeps the data in the session object', async () => {
    const session = sessions().open();
    await session.set('a', 'b');
    await session.save();
    assert.equal(await session.get('a'), 'b');
    await session.save();
    assert.equal(await session.get('a'), 'b');
  });

  // Django test_invalid_key
  it('a key the store does not know starts a new session under a new key', async () => {
    for (const given of ['1', newSessionId()]) {
      const session = sessions().open({ cookie: given });
      assert.equal(await session.get('cat'), undefined);
      await session.set('cat', 'dog');
      const cookie = await persistKey(session);
      assert.notEqual(cookie, given, `the client's ${given.length}-character value is not adopted`);
      await assertHolds(sessions(), cookie, { cat: 'dog' }, 'the new session');
    }
  });

  // Django test_session_key_empty_string_invalid
  it('an empty cookie value is no key', async () => {
    const session = sessions().open({ cookie: '' });
    assert.equal(session.key, null);
    assert.equal(await session.isEmpty(), true);
  });

  // Django test_session_key_too_short_invalid (larder: anything but a stored id or a valid signed value)
  it('a short cookie value is no key', async () => {
    const session = sessions().open({ cookie: '1234567' });
    assert.deepEqual(await session.entries(), []);
    assert.equal(session.key, null);
  });

  // Django test_session_key_valid_string_saved (larder: only a key it issued and still holds)
  it('the key of a stored session is kept by the next request', async () => {
    const cookie = await stored(sessions(), { cat: 'dog' });
    const session = reopen(sessions(), cookie);
    assert.equal(session.key, cookie, 'the key before the load');
    assert.equal(await session.get('cat'), 'dog');
    assert.equal(session.key, cookie, 'the key after the load');
  });

  // Django test_default_expiry
  it('the default expiry age is sessions.maxAge, also when expiring at browser close', async () => {
    const session = sessions().open();
    assert.equal(session.getExpiryAge(), TWO_WEEKS_S);
    await session.setExpiry(0);
    assert.equal(session.getExpiryAge(), TWO_WEEKS_S);
  });

  // Django test_custom_expiry_seconds
  it('setExpiry(seconds) sets the expiry age and date', async () => {
    const { sessions: clocked, clock } = driver().make();
    const session = clocked.open();
    await session.setExpiry(10);
    assert.equal(session.getExpiryAge(), 10);
    assert.equal(session.getExpiryDate().getTime(), clock.now() + 10_000);
  });

  // Django test_custom_expiry_datetime
  it('setExpiry(Date) sets the expiry age and date', async () => {
    const { sessions: clocked, clock } = driver().make();
    const session = clocked.open();
    const at = new Date(clock.now() + 10_000);
    await session.setExpiry(at);
    assert.equal(session.getExpiryAge(), 10);
    assert.equal(session.getExpiryDate().getTime(), at.getTime());
  });

  // Django test_custom_expiry_reset
  it('setExpiry(null) returns to the configured expiry', async () => {
    const session = sessions().open();
    await session.setExpiry(null);
    await session.setExpiry(10);
    await session.setExpiry(null);
    assert.equal(session.getExpiryAge(), TWO_WEEKS_S);
  });

  // Django test_get_expire_at_browser_close
  it('expireAtBrowserClose follows setExpiry, else the config', async () => {
    for (const setting of [false, true]) {
      const { sessions: configured } = driver().make({ expireAtBrowserClose: setting });
      const session = configured.open();
      await session.setExpiry(10);
      assert.equal(session.expireAtBrowserClose(), false, `setting ${setting}, 10 s`);
      await session.setExpiry(0);
      assert.equal(session.expireAtBrowserClose(), true, `setting ${setting}, 0`);
      await session.setExpiry(null);
      assert.equal(session.expireAtBrowserClose(), setting, `setting ${setting}, null`);
    }
  });

  // Django test_actual_expiry
  it('a session whose expiry has passed is gone on the next request', async () => {
    // An expiry date in the past (Django's negative timedelta): the session expires at once.
    const past = sessions().open();
    await past.set('foo', 'bar');
    await past.setExpiry(new Date(Date.now() - 10_000));
    const pastCookie = await persistKey(past);
    await assertGone(sessions(), pastCookie, 'expired in the past');

    // Ten seconds of expiry, then eleven seconds on the clock.
    const { sessions: clocked, clock } = driver().make();
    const session = clocked.open();
    await session.set('foo', 'bar');
    await session.setExpiry(10);
    const cookie = await persistKey(session);
    clock.advance(9_000);
    await assertHolds(clocked, cookie, { foo: 'bar' }, 'before the expiry');
    clock.advance(2_000);
    await assertGone(clocked, cookie, 'after the expiry');
  });

  // Django test_session_load_does_not_create_record
  it('loading an unknown key creates no record', async () => {
    const unknown = newSessionId();
    const session = sessions().open({ cookie: unknown });
    assert.equal(await session.isEmpty(), true);
    assert.equal(session.key, null, 'the unknown key was cycled, not reused');
    assert.equal(await inStore(sessions(), unknown), false);
    await session.save();
    assert.equal(await inStore(sessions(), unknown), false, 'saving the empty session creates none either');
  });

  // Django test_session_save_does_not_resurrect_session_logged_out_in_other_context
  it('a session deleted in another request is not resurrected by a save', async () => {
    const id = await stored(sessions(), { test_data: 'value1' });
    const s1 = reopen(sessions(), id);
    assert.equal(await s1.get('test_data'), 'value1');
    // Logout in another request.
    await reopen(sessions(), id).flush();
    await s1.set('test_data', 'value2');
    await assert.rejects(s1.save(), SessionInterruptedError);
    await assertGone(sessions(), id, 'not resurrected');
  });

  // Django test_is_empty
  it('isEmpty: true for a new session (without loading it), false once it holds data', async () => {
    const session = sessions().open();
    assert.equal(await session.isEmpty(), true);
    assert.equal(session.accessed, false, 'isEmpty does not count as using the session');
    await session.set('foo', 'bar');
    assert.equal(await session.isEmpty(), false);
    await session.delete('foo');
    assert.equal(await session.isEmpty(), true);
    const cookie = await stored(sessions(), { foo: 'bar' });
    assert.equal(await reopen(sessions(), cookie).isEmpty(), false);
  });

  // ---------------------------------------------------------------- larder's guarantees

  it('only changed fields are written: two requests editing different fields keep both', async () => {
    const id = await stored(sessions(), { base: 1, gone: 'x' });
    const a = reopen(sessions(), id);
    const b = reopen(sessions(), id);
    assert.equal(await a.get('base'), 1);
    assert.equal(await b.get('base'), 1);
    await a.set('fromA', 'a');
    await b.set('fromB', 'b');
    await b.delete('gone');
    await a.save();
    await b.save();
    assert.equal(a.key, id);
    assert.equal(b.key, id);
    await assertHolds(sessions(), id, { base: 1, fromA: 'a', fromB: 'b' }, 'both writes kept');
  });

  it('concurrent saves of different fields keep both', async () => {
    const id = await stored(sessions(), { base: 1 });
    const writers = Array.from({ length: 10 }, () => reopen(sessions(), id));
    await Promise.all(writers.map((s) => s.load()));
    await Promise.all(writers.map((s, i) => s.set(`f${i}`, i)));
    await Promise.all(writers.map((s) => s.save()));
    const expected: SessionData = { base: 1 };
    for (let i = 0; i < 10; i++) expected[`f${i}`] = i;
    await assertHolds(sessions(), id, expected, 'every concurrent write kept');
  });

  it('incr is atomic: 50 concurrent requests each add 1', async () => {
    const id = await stored(sessions(), { n: 0 });
    const results = await Promise.all(Array.from({ length: 50 }, () => reopen(sessions(), id).incr('n')));
    assert.deepEqual(
      [...results].sort((x, y) => x - y),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.equal(await reopen(sessions(), id).get('n'), 50);
  });

  it('incr counts from 0, by any whole delta, and the count is saved', async () => {
    const session = sessions().open();
    assert.equal(await session.incr('views'), 1);
    assert.equal(await session.incr('views', 4), 5);
    assert.equal(await session.incr('views', -2), 3);
    assert.equal(await session.get('views'), 3);
    const again = await saveAndReopen(sessions(), session);
    assert.equal(await again.get('views'), 3);
    assert.equal(await again.incr('views'), 4);
    assert.equal(await (await saveAndReopen(sessions(), again)).get('views'), 4);
  });

  it('incr refuses a field that is not an integer, and a delta that is not whole', async () => {
    const session = reopen(sessions(), await stored(sessions(), { name: 'x', ratio: 1.5 }));
    await assert.rejects(session.incr('name'), CacheValueError);
    await assert.rejects(session.incr('ratio'), CacheValueError);
    await assert.rejects(session.incr('n', 1.5), CacheValueError);
    assert.equal(await session.get('name'), 'x', 'nothing changed');
  });

  it('delete wins: a save after another request flushed the session is refused', async () => {
    const id = await stored(sessions(), { cart: ['a'], n: 0 });
    const a = reopen(sessions(), id);
    assert.deepEqual(await a.get('cart'), ['a']);
    const counter = reopen(sessions(), id);
    await counter.load();
    const b = reopen(sessions(), id);
    await b.flush();
    await a.set('cart', ['a', 'b']);
    await assert.rejects(a.save(), SessionInterruptedError);
    await assert.rejects(a.save(), SessionInterruptedError, 'still refused: nothing was written');
    await assert.rejects(counter.incr('n'), SessionInterruptedError, 'incr is refused too');
    await assertGone(sessions(), id, 'after the refused save');
  });

  it('a request still holding a cycled id cannot save it back', async () => {
    const id = await stored(sessions(), { a: 1 });
    const late = reopen(sessions(), id);
    assert.equal(await late.get('a'), 1);
    const cycling = reopen(sessions(), id);
    await cycling.cycleKey();
    const cookie = await persistKey(cycling);
    await late.set('b', 2);
    await assert.rejects(late.save(), SessionInterruptedError);
    await assertGone(sessions(), id, 'the cycled id');
    await assertHolds(sessions(), cookie, { a: 1 }, 'the new id');
  });

  it('fixation: an unknown well-formed id is never adopted', async () => {
    const planted = newSessionId();
    const session = sessions().open({ cookie: planted });
    await session.set('user', 'victim');
    const cookie = await persistKey(session);
    assert.notEqual(cookie, planted);
    await assertGone(sessions(), planted, 'the planted id');
    await assertHolds(sessions(), cookie, { user: 'victim' }, 'the issued id');
  });

  it('fixation: a malformed id is never adopted, whatever it looks like', async () => {
    const id = newSessionId();
    const malformed = [
      'x',
      id.slice(1),
      `${id}A`,
      `${id.slice(0, 42)}=`,
      `${id.slice(0, 42)}/`,
      ` ${id.slice(1)}`,
      `user:${id.slice(5)}`,
      '../../../etc/passwd',
      '\u0000'.repeat(43),
      'é'.repeat(43),
      'a'.repeat(9000),
    ];
    const store = sessions().store;
    for (const cookie of malformed) {
      const label = JSON.stringify(cookie.slice(0, 20));
      // On a server engine the store even holds a session under it: still never looked up.
      let planted = false;
      if (store.kind === 'server') {
        const now = Date.now();
        const write = {
          set: new Map([['planted', '"by the attacker"']]),
          delete: new Set<string>(),
          replace: true,
          meta: { created: now, lastSeen: now },
          ttl: 60_000,
        };
        try {
          planted = await store.create(cookie, write);
          assert.equal(planted, true, `${label} planted`);
        } catch (error) {
          // A cache refuses keys with control characters: such an id cannot be planted at all.
          assert.ok(error instanceof CacheKeyError, `${label}: ${String(error)}`);
        }
      }
      const session = sessions().open({ cookie });
      if (store.kind === 'server') assert.equal(session.key, null, `${label}: not even looked up`);
      assert.equal(await session.get('planted'), undefined, `${label} is not loaded`);
      await session.set('k', 'v');
      const issued = await persistKey(session);
      assert.notEqual(issued, cookie, `${label} is not adopted`);
      if (planted && store.kind === 'server') await store.destroy(cookie);
    }
  });

  it('login gives a new key, keeps the data and records the user', async () => {
    const user = userIds();
    const before = await stored(sessions(), { cart: ['a'] });
    const session = reopen(sessions(), before, 'UA-login');
    await session.login(user);
    assert.equal(await session.userId(), user);
    const after = await persistKey(session);
    assert.notEqual(after, before);
    const again = reopen(sessions(), after);
    assert.deepEqual(await again.get('cart'), ['a']);
    assert.equal(await again.userId(), user);
    // A logged-in session without data is still a session.
    const bare = sessions().open();
    await bare.login(userIds());
    assert.equal(await bare.isEmpty(), false);
    await assertHolds(sessions(), await persistKey(bare), {}, 'a bare login');
  });

  it('login lists the session under its user, with the User-Agent', async () => {
    const user = userIds();
    const before = await stored(sessions(), { cart: ['a'] });
    const session = reopen(sessions(), before, 'Mozilla/5.0 (conformance)');
    await session.login(user);
    const id = await persistKey(session);
    await assertGone(sessions(), before, 'the pre-login id');
    const list = await sessions().forUser(user).list();
    assert.equal(list.length, 1);
    assert.equal(list[0].id, id);
    assert.equal(list[0].userAgent, 'Mozilla/5.0 (conformance)');
    assert.ok(list[0].created instanceof Date && list[0].lastSeen instanceof Date);
    assert.ok(Math.abs(list[0].lastSeen.getTime() - Date.now()) < 60_000, 'lastSeen is now');
    assert.deepEqual(await sessions().forUser(userIds()).list(), [], 'another user has none');
  });

  it('revoke ends one session of the user; an id that is not theirs is refused and kept', async () => {
    const user = userIds();
    const ids = await Promise.all([1, 2].map((n) => loggedIn(sessions(), user, `device-${n}`)));
    const stranger = await loggedIn(sessions(), userIds(), 'stranger');
    const mine = sessions().forUser(user);
    assert.equal(await mine.revoke(stranger), false);
    await assertHolds(sessions(), stranger, { device: 'stranger' }, "the stranger's session");
    assert.equal(await mine.revoke(newSessionId()), false, 'an unknown id');
    assert.equal(await mine.revoke(ids[0]), true);
    assert.equal(await mine.revoke(ids[0]), false, 'already revoked');
    await assertGone(sessions(), ids[0], 'the revoked session');
    await assertHolds(sessions(), ids[1], { device: 'device-2' }, 'the other device');
    assert.deepEqual(
      (await mine.list()).map((s) => s.id),
      [ids[1]],
    );
  });

  it('revokeAll ends every session of the user, except the one kept', async () => {
    const user = userIds();
    const ids = await Promise.all([1, 2, 3].map((n) => loggedIn(sessions(), user, `device-${n}`)));
    const other = await loggedIn(sessions(), userIds(), 'other');
    const mine = sessions().forUser(user);
    assert.equal(await mine.revokeAll({ keep: ids[2] }), 2);
    await assertGone(sessions(), ids[0], 'revoked 1');
    await assertGone(sessions(), ids[1], 'revoked 2');
    await assertHolds(sessions(), ids[2], { device: 'device-3' }, 'the kept session');
    assert.equal(await mine.revokeAll(), 1);
    await assertGone(sessions(), ids[2], 'revoked 3');
    assert.deepEqual(await mine.list(), []);
    await assertHolds(sessions(), other, { device: 'other' }, "another user's session");
  });

  it("flush (logout) takes the session off its user's list", async () => {
    const user = userIds();
    const id = await loggedIn(sessions(), user, 'phone');
    const keep = await loggedIn(sessions(), user, 'laptop');
    await reopen(sessions(), id).flush();
    assert.deepEqual(
      (await sessions().forUser(user).list()).map((s) => s.id),
      [keep],
    );
  });

  it('maxBytes: a session over the limit is refused with SessionTooLargeError, nothing stored', async () => {
    const { sessions: small } = driver().make({ maxBytes: 1024 });
    // Random text: a compressing engine (signed-cookie) cannot shrink it under the limit.
    const big = randomBytes(1200).toString('base64');
    const fresh = small.open();
    await fresh.set('big', big);
    await assert.rejects(fresh.save(), SessionTooLargeError);
    const cookie = await stored(small, { note: 'small' });
    const session = reopen(small, cookie);
    await session.set('big', big);
    await assert.rejects(session.save(), SessionTooLargeError);
    await assertHolds(small, cookie, { note: 'small' }, 'the stored session is unchanged');
  });

  it('maxBytes: a new session over the limit gets no key and leaves nothing in the store', async () => {
    const { sessions: small } = driver().make({ maxBytes: 1024 });
    const before = await storedIds(small);
    const fresh = small.open();
    await fresh.set('big', 'x'.repeat(2000));
    await assert.rejects(fresh.save(), SessionTooLargeError);
    assert.equal(fresh.key, null);
    assert.deepEqual(await storedIds(small), before, 'no session was added');
  });

  it('idle timeout: a session unused for maxAge is gone; use keeps it alive', async () => {
    const { sessions: clocked, clock } = driver().make({ maxAge: '1h' });
    const session = clocked.open();
    await session.set('a', 1);
    let cookie = await persistKey(session);
    clock.advance(59 * MINUTE);
    const used = reopen(clocked, cookie);
    assert.equal(await used.get('a'), 1);
    await used.set('b', 2);
    cookie = await persistKey(used);
    clock.advance(59 * MINUTE);
    await assertHolds(clocked, cookie, { a: 1, b: 2 }, '118 min after creation, 59 idle');
    clock.advance(2 * MINUTE);
    await assertGone(clocked, cookie, '61 min idle');
  });

  it('touch: an unmodified session past touchAfter is refreshed, which keeps it alive', async () => {
    const { sessions: clocked, clock } = driver().make({ maxAge: '1h', touchAfter: '10m' });
    const first = clocked.open();
    await first.set('a', 1);
    let cookie = await persistKey(first);
    clock.advance(5 * MINUTE);
    const early = reopen(clocked, cookie);
    assert.equal(await early.get('a'), 1);
    assert.equal(early.pending(), 'none', 'no touch before touchAfter');
    clock.advance(6 * MINUTE);
    const reader = reopen(clocked, cookie);
    assert.equal(await reader.get('a'), 1);
    cookie = await refresh(clocked, reader);
    clock.advance(55 * MINUTE);
    await assertHolds(clocked, cookie, { a: 1 }, '66 min after the save, 55 after the touch');
  });

  it('absolute timeout: a session older than absoluteMaxAge is gone however active', async () => {
    const { sessions: clocked, clock } = driver().make({ maxAge: '1h', absoluteMaxAge: '90m' });
    const session = clocked.open();
    await session.set('n', 0);
    let cookie = await persistKey(session);
    for (let n = 1; n <= 2; n++) {
      clock.advance(40 * MINUTE);
      const active = reopen(clocked, cookie);
      assert.equal(await active.get('n'), n - 1, `alive at ${40 * n} min`);
      await active.set('n', n);
      cookie = await persistKey(active);
    }
    clock.advance(11 * MINUTE);
    await assertGone(clocked, cookie, '91 min after creation, 11 idle');
  });

  it('the store drops a session idle past maxAge by itself (real time)', async () => {
    const { sessions: short } = driver().make({ maxAge: '300ms' }, realClock);
    const id = await stored(short, { a: 1 });
    assert.equal(await inStore(short, id), true);
    await driver().sleep(450);
    assert.equal(await inStore(short, id), false, 'the store expired it');
  });

  it('a session idle past maxAge is gone on the next request (real time)', async () => {
    const { sessions: short } = driver().make({ maxAge: '300ms' }, realClock);
    const cookie = await stored(short, { a: 1 });
    await assertHolds(short, cookie, { a: 1 }, 'at once');
    await driver().sleep(450);
    await assertGone(short, cookie, 'after 450 ms idle');
  });

  it('setExpiry(0): expires at browser close, and stays so after a reopen', async () => {
    const session = sessions().open();
    await session.set('a', 1);
    await session.setExpiry(0);
    assert.equal(session.expireAtBrowserClose(), true);
    const again = await saveAndReopen(sessions(), session);
    assert.equal(await again.get('a'), 1);
    assert.equal(again.expireAtBrowserClose(), true);
    assert.equal(again.getExpiryAge(), TWO_WEEKS_S, 'the server still expires it after maxAge');
  });

  it('setExpiry(seconds) is kept by the store and the next request', async () => {
    const { sessions: clocked, clock } = driver().make();
    const session = clocked.open();
    await session.set('a', 1);
    await session.setExpiry(600);
    const again = await saveAndReopen(clocked, session);
    assert.equal(await again.get('a'), 1);
    assert.equal(again.getExpiryAge(), 600);
    assert.equal(again.expireAtBrowserClose(), false);
    clock.advance(601_000);
    await assertGone(clocked, again.key ?? undefined, '601 s idle with a 600 s expiry');
  });

  it('setExpiry refuses negative, NaN and invalid dates', async () => {
    const session = sessions().open();
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, new Date(Number.NaN)]) {
      await assert.rejects(session.setExpiry(bad), /setExpiry/);
    }
    assert.equal(session.modified, false);
  });

  it('value types round-trip: Date, Map, Set, BigInt, nested objects, unicode', async () => {
    const data: SessionData = {
      date: new Date('2024-02-29T12:34:56.789Z'),
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, { b: [true, null] }],
      ]),
      set: new Set(['x', 'y']),
      big: 12345678901234567890n,
      nested: { list: [1, 'two', { three: [3] }], empty: {}, none: null },
      numbers: [0, -1.5, Number.MAX_SAFE_INTEGER],
      unicode: 'Iñtërnâtiônàlizætiøn — 清 — 🗝️𝄞',
      'ключ 🔑': 'значение',
      '': 'an empty field name',
    };
    const session = sessions().open();
    await session.update(data);
    const again = await saveAndReopen(sessions(), session);
    assert.deepEqual(Object.fromEntries(await again.entries()), data);
    assert.ok((await again.get('date')) instanceof Date);
    assert.ok((await again.get('map')) instanceof Map);
  });

  it('a field named __proto__ is a plain field and pollutes nothing', async () => {
    const session = sessions().open();
    await session.set('__proto__', { polluted: true });
    await session.set('constructor', 'c');
    await session.set('obj', JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}'));
    const again = await saveAndReopen(sessions(), session);
    assert.deepEqual(await again.get('__proto__'), { polluted: true });
    assert.equal(await again.get('constructor'), 'c');
    assert.deepEqual((await again.keys()).sort(), ['__proto__', 'constructor', 'obj']);
    const obj = (await again.get('obj')) as Record<string, unknown>;
    assert.equal(obj.ok, 1);
    assert.equal(Object.getPrototypeOf(obj), Object.prototype, 'no prototype was changed');
    assert.ok(Object.hasOwn(obj, '__proto__'), '__proto__ stays an own data field');
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is clean');
    assert.equal(await again.has('polluted'), false);
  });

  it('a value that cannot be stored is refused at set, and the session keeps the old value', async () => {
    const session = reopen(sessions(), await stored(sessions(), { a: 1 }));
    await assert.rejects(session.set('a', undefined), CacheValueError);
    await assert.rejects(
      session.set('a', () => 1),
      /session field 'a'/,
    );
    assert.equal(await session.get('a'), 1);
    assert.equal(session.modified, false);
  });

  it('a field name with a lone surrogate is refused, not stored under another name', async () => {
    const session = sessions().open();
    await assert.rejects(session.set('a\uD800b', 1), CacheValueError);
    await assert.rejects(session.update({ '\uDC00': 1 }), CacheValueError);
    await assert.rejects(session.incr('x\uDBFF'), CacheValueError);
    assert.deepEqual(await session.entries(), []);
    await session.set('a\uD800\uDC00b', 'a well-formed pair');
    const again = await saveAndReopen(sessions(), session);
    assert.deepEqual(await again.keys(), ['a\uD800\uDC00b']);
  });
}

/** A session logged in as `userId` on device `device`; returns its cookie value. */
async function loggedIn(sessions: SessionManager, userId: string, device: string): Promise<string> {
  const session = sessions.open({ userAgent: device });
  await session.set('device', device);
  await session.login(userId);
  return persistKey(session);
}

/** Every id a server store holds, sorted. */
async function storedIds(sessions: SessionManager): Promise<string[]> {
  const store = sessions.store;
  assert.ok(store.kind === 'server' && store.ids, 'a server store that lists its ids');
  const ids: string[] = [];
  for await (const id of store.ids()) ids.push(id);
  return ids.sort();
}

for (const name of Object.values(sessionSuites)) defineSuite<SessionFixture>(name, sessionCases);
