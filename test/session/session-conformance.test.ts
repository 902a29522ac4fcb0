/**
 * Runs the session conformance suite (`test/conformance/session.suite.ts`) on every engine
 * and topology, through `createLarder` as an application would: memory; redis on
 * standalone and Cluster; cache over a memory cache and over a Redis cache on standalone
 * and Cluster; signed-cookie. Each Redis run has a prefix of its own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionUsageError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { SessionManager } from '../../src/session/manager.js';
import {
  engineTargets,
  fakeClock,
  type SessionEngine,
  type SessionFixture,
  sessionConfig,
  sessionSuites,
  type TestClock,
} from '../conformance/session.suite.js';
import { type Exclusions, runConformance, type Target, uniquePrefix } from '../support/conformance.js';

interface Built extends SessionFixture {
  larders: Larder[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function build(engine: SessionEngine, target: Target, url: string | undefined): Built {
  const prefix = uniquePrefix(`session-${engine}`);
  const larder = createLarder(sessionConfig(engine, target, url, prefix), {});
  const larders = [larder];
  return {
    engine,
    target,
    larder,
    larders,
    sleep,
    make(overrides = {}, clock: TestClock = fakeClock()) {
      const other = createLarder(sessionConfig(engine, target, url, prefix, overrides), {});
      larders.push(other);
      // On Redis, the same store (server and prefix); in memory, a store of its own on this clock.
      const store = target === 'memory' ? undefined : larder.sessions.store;
      const sessions = new SessionManager(other, { now: clock.now, ...(store ? { store } : {}) });
      return { sessions, clock };
    },
  };
}

const NO_INDEX =
  "no per-user index on this engine: larder.sessions.forUser needs the 'redis' or 'memory' engine (DESIGN §4.3)";
const COOKIE_NO_STORE =
  'signed-cookie keeps nothing on the server: save() only encodes the cookie value, and the middleware sends no cookie for an empty session';
// Django's CookieSessionTests give the same reasons for the same cases.
const COOKIE_NO_REVOKE =
  'a signed cookie cannot be invalidated server-side: a copy of an earlier value stays valid until it expires';
const COOKIE_WHOLE =
  'the whole session travels in the cookie: concurrent requests each answer with a cookie of their own and the last one wins';

const signedCookieExclusions: Exclusions = {
  'saving an empty session stores nothing and gives it no key': COOKIE_NO_STORE,
  'saving a session emptied by delete removes it from the store': COOKIE_NO_STORE,
  'deleting the stored session ends it: the next request finds nothing': COOKIE_NO_REVOKE,
  'flush deletes the stored session: its old id finds nothing': COOKIE_NO_REVOKE,
  'cycleKey gives a new key for the same data; the old key stops working': COOKIE_NO_REVOKE,
  'loading an unknown key creates no record':
    'signed-cookie has no external store to create records in (Django: CookieSessionTests)',
  'a session deleted in another request is not resurrected by a save':
    'the session is stored in the client; another request cannot delete it (Django: CookieSessionTests)',
  'only changed fields are written: two requests editing different fields keep both': COOKIE_WHOLE,
  'concurrent saves of different fields keep both': COOKIE_WHOLE,
  'incr is atomic: 50 concurrent requests each add 1': COOKIE_WHOLE,
  'delete wins: a save after another request flushed the session is refused': COOKIE_NO_REVOKE,
  'a request still holding a cycled id cannot save it back': COOKIE_NO_REVOKE,
  'login lists the session under its user, with the User-Agent': NO_INDEX,
  'revoke ends one session of the user; an id that is not theirs is refused and kept': NO_INDEX,
  'revokeAll ends every session of the user, except the one kept': NO_INDEX,
  "flush (logout) takes the session off its user's list": NO_INDEX,
  'maxBytes: a new session over the limit gets no key and leaves nothing in the store':
    'signed-cookie has no store to leave anything in; the size limit is the cookie limit (the other maxBytes case)',
  'the store drops a session idle past maxAge by itself (real time)':
    'signed-cookie has no store; Session checks the expiry carried in the cookie (the next real-time case)',
};

const cacheExclusions: Exclusions = {
  'login lists the session under its user, with the User-Agent': NO_INDEX,
  'revoke ends one session of the user; an id that is not theirs is refused and kept': NO_INDEX,
  'revokeAll ends every session of the user, except the one kept': NO_INDEX,
  "flush (logout) takes the session off its user's list": NO_INDEX,
};

const exclusions: Record<SessionEngine, Exclusions | undefined> = {
  memory: undefined,
  redis: undefined,
  cache: cacheExclusions,
  'signed-cookie': signedCookieExclusions,
};

for (const engine of Object.keys(sessionSuites) as SessionEngine[]) {
  runConformance<Built>(sessionSuites[engine], (target, url) => build(engine, target, url), {
    targets: engineTargets[engine],
    close: async (built) => {
      for (const larder of built.larders) await larder.close();
    },
    exclude: exclusions[engine],
  });
}

describe('sessions.forUser on an engine without a per-user index', () => {
  for (const engine of ['cache', 'signed-cookie'] as const) {
    it(`${engine}: throws a SessionUsageError that names the engine`, async () => {
      const larder = createLarder(sessionConfig(engine, 'memory', undefined, 'unused'), {});
      try {
        assert.throws(
          () => larder.sessions.forUser('42'),
          (error: unknown) => error instanceof SessionUsageError && error.message.includes(`'${engine}'`),
        );
      } finally {
        await larder.close();
      }
    });
  }
});
