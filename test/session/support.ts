/**
 * @module Fixtures for the session regression tests: each case runs on the engines named, on
 * their real targets (memory; redis on Redis standalone and Cluster; cache over a memory
 * cache and over Redis standalone), through `createLarder` and a `SessionManager` on a fake
 * clock, and one request at a time through the neutral middleware (`Exchange`), as an
 * adapter drives it.
 */
import { after, describe } from 'node:test';
import type { SessionsConfig } from '../../src/config/index.js';
import { Exchange, type SessionCommit } from '../../src/http/session.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { SessionManager } from '../../src/session/manager.js';
import type { Session } from '../../src/session/session.js';
import {
  fakeClock,
  type SessionEngine,
  sessionConfig,
  type TestClock,
} from '../conformance/session.suite.js';
import { redisUrlFor, type Target, uniquePrefix } from '../support/conformance.js';

/** Where each engine runs in these tests. */
const TARGETS: Record<SessionEngine, Target[]> = {
  memory: ['memory'],
  redis: ['standalone', 'cluster'],
  cache: ['memory', 'standalone'],
  'signed-cookie': ['memory'],
};

/** One request's outcome: what the response carried and the cookie the client holds next. */
export interface Answer {
  commit: SessionCommit;
  setCookie: string | undefined;
  /** The session cookie's value for the next request (`undefined`: none). */
  cookie: string | undefined;
  session: Session;
  /** What `persist` threw, if it did. */
  error?: unknown;
}

/** A manager on a fake clock, and a way to send requests through the middleware. */
export interface Fixture {
  larder: Larder;
  sessions: SessionManager;
  clock: TestClock;
  /** One request with `cookie` (the session cookie's value): `handler`, then commit and persist. */
  request(
    cookie: string | undefined,
    handler: (session: Session) => Promise<void>,
    status?: number,
  ): Promise<Answer>;
}

/** What a case body is handed: `make` builds a fixture (closed after the describe). */
export interface Engine {
  engine: SessionEngine;
  target: Target;
  make(overrides?: Partial<SessionsConfig>): Fixture;
}

/**
 * Runs `body` once per engine and target, in a `describe` named after both.
 * @example forEngines('cycleKey', ['memory', 'redis'], ({ make }) => { it('…', async () => { … }) });
 */
export function forEngines(title: string, engines: SessionEngine[], body: (engine: Engine) => void): void {
  for (const engine of engines) {
    for (const target of TARGETS[engine]) {
      describe(`${title} [${engine} on ${target}]`, () => {
        const larders: Larder[] = [];
        after(async () => {
          for (const larder of larders) await larder.close();
        });
        body({
          engine,
          target,
          make(overrides = {}) {
            const url = redisUrlFor(target);
            const larder = createLarder(
              sessionConfig(engine, target, url, uniquePrefix(`reg-${engine}`), overrides),
              {},
            );
            larders.push(larder);
            const clock = fakeClock();
            const sessions = new SessionManager(larder, { now: clock.now });
            const name = sessions.config.cookie.name;
            return {
              larder,
              sessions,
              clock,
              async request(cookie, handler, status = 200) {
                const header = cookie === undefined ? undefined : `${name}=${cookie}`;
                const exchange = new Exchange(sessions, header, 'test-agent');
                if (exchange.ready) await exchange.ready;
                await handler(exchange.session);
                const commit = exchange.commit(status);
                const setCookie = commit.setCookie;
                const match = setCookie === undefined ? null : /^[^=]+=([^;]*)/.exec(setCookie);
                const next = match ? (match[1] === '' ? undefined : decodeURIComponent(match[1]!)) : cookie;
                try {
                  await commit.persist?.();
                } catch (error) {
                  return { commit, setCookie, cookie: next, session: exchange.session, error };
                }
                return { commit, setCookie, cookie: next, session: exchange.session };
              },
            };
          },
        });
      });
    }
  }
}
