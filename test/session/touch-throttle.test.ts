/**
 * Regression (review of the session code, finding 3): the touch throttle (`touchAfter`, 60 s by
 * default) was not capped by the session's own lifetime, so a visitor active more often than
 * that lifetime was still logged out: with `setExpiry(30)`, with `cookie.maxAge` at or under
 * `touchAfter` (the browser dropped the cookie before any touch renewed it), or with an idle
 * timeout under twice `touchAfter`. An unchanged session is now touched once half of the
 * shortest of those has passed, and the config refuses a `touchAfter` the cookie cannot outlive.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { resolveConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import type { Fixture } from './support.js';
import { forEngines } from './support.js';

/**
 * A browser on the fixture's clock: it keeps the session cookie until its Max-Age runs out
 * (then sends none), and takes whatever each response sets.
 */
function browser(fixture: Fixture) {
  let cookie: string | undefined;
  let expiresAt = Number.POSITIVE_INFINITY;
  return {
    async visit(handler: Parameters<Fixture['request']>[1]) {
      const now = fixture.clock.now();
      const sent = now < expiresAt ? cookie : undefined;
      const answer = await fixture.request(sent, handler);
      assert.equal(answer.error, undefined);
      if (answer.setCookie !== undefined) {
        cookie = answer.cookie;
        const age = /;\s*Max-Age=(\d+)/i.exec(answer.setCookie)?.[1];
        expiresAt = age === undefined ? Number.POSITIVE_INFINITY : now + Number(age) * 1000;
      }
      return answer;
    },
  };
}

forEngines('an active visitor stays logged in', ['memory', 'redis', 'cache', 'signed-cookie'], ({ make }) => {
  it('setExpiry(30): a visit every 20 s keeps the session (touchAfter left at 60 s)', async () => {
    const fixture = make();
    const client = browser(fixture);
    await client.visit(async (s) => {
      await s.set('user', 'alice');
      await s.setExpiry(30);
    });
    for (let i = 1; i <= 4; i++) {
      fixture.clock.advance(20_000);
      const answer = await client.visit(async (s) =>
        assert.equal(await s.get('user'), 'alice', `visit ${i}`),
      );
      assert.match(answer.setCookie ?? '', /Max-Age=30\b/, `visit ${i}: the cookie is renewed`);
    }
  });

  it('cookie.maxAge 30 s under a 2 h maxAge: a visit every 20 s keeps the cookie, and so the session', async () => {
    const fixture = make({ maxAge: '2h', cookie: { maxAge: 30 } });
    const client = browser(fixture);
    await client.visit(async (s) => s.set('user', 'alice'));
    for (let i = 1; i <= 4; i++) {
      fixture.clock.advance(20_000);
      await client.visit(async (s) => assert.equal(await s.get('user'), 'alice', `visit ${i}`));
    }
  });

  it('maxAge 100 s with touchAfter 90 s: a visit every 35 s keeps the session', async () => {
    const fixture = make({ maxAge: 100, touchAfter: 90 });
    const client = browser(fixture);
    await client.visit(async (s) => s.set('user', 'alice'));
    for (let i = 1; i <= 4; i++) {
      fixture.clock.advance(35_000);
      await client.visit(async (s) => assert.equal(await s.get('user'), 'alice', `visit ${i}`));
    }
  });

  it('an unchanged session is still not touched before touchAfter when its lifetime is long', async () => {
    const fixture = make();
    const first = await fixture.request(undefined, async (s) => s.set('user', 'alice'));
    fixture.clock.advance(30_000);
    const early = await fixture.request(first.cookie, async (s) => void (await s.get('user')));
    assert.equal(early.setCookie, undefined, 'no touch 30 s in (touchAfter 60 s, maxAge two weeks)');
  });
});

it('config: a touchAfter the session cookie cannot outlive is refused, naming both options', () => {
  assert.throws(
    () =>
      resolveConfig({ redis: false, sessions: { maxAge: '2h', touchAfter: '1m', cookie: { maxAge: 30 } } }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.path === 'sessions.touchAfter' &&
      /sessions\.cookie\.maxAge/.test(error.message),
  );
  assert.throws(
    () => resolveConfig({ redis: false, sessions: { maxAge: '2h', touchAfter: 30, cookie: { maxAge: 30 } } }),
    ConfigError,
  );
});

it('config: the default touchAfter fits under half the cookie maxAge', () => {
  const { sessions } = resolveConfig({ redis: false, sessions: { maxAge: '2h', cookie: { maxAge: 30 } } });
  assert.equal(sessions.touchAfter, 15_000);
  assert.equal(resolveConfig({ redis: false }).sessions.touchAfter, 60_000);
});
