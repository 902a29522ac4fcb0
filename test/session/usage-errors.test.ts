/**
 * Calling the session API wrongly — `login` without a user id, `setExpiry` with a value no
 * cookie carries, `cookieValue()` on a server-side engine, listing sessions on an engine that
 * cannot — throws a `SessionUsageError` (`E_SESSION_USAGE`) at the call, before anything
 * changed: one type an app can tell from a store outage or an interrupted session. (They were
 * plain `LarderError`s.)
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { LarderError, SessionUsageError } from '../../src/errors.js';
import { forEngines } from './support.js';

/** A check for `assert.throws`/`rejects`: a SessionUsageError whose message matches `pattern`. */
function usage(pattern: RegExp) {
  return (error: unknown) =>
    error instanceof SessionUsageError &&
    error instanceof LarderError &&
    error.code === 'E_SESSION_USAGE' &&
    pattern.test(error.message);
}

forEngines('session usage errors', ['memory', 'redis', 'cache', 'signed-cookie'], ({ engine, make }) => {
  it('login without a non-empty string id, and setExpiry with fractional seconds, change nothing', async () => {
    const { request } = make();
    const answer = await request(undefined, async (s) => {
      await s.set('cart', ['sku-1']);
      await assert.rejects(s.login(''), usage(/non-empty string user id/));
      await assert.rejects(s.login(42 as unknown as string), usage(/got number/));
      await assert.rejects(s.setExpiry(1.5), usage(/Math\.round\(1\.5\)/));
      assert.equal(await s.userId(), undefined, 'no user was recorded');
      assert.equal(s.hasCustomExpiry(), false, 'no expiry was set');
    });
    assert.equal(answer.error, undefined, 'the session still saves');
    const next = await request(answer.cookie, async (s) => {
      assert.deepEqual(await s.get('cart'), ['sku-1']);
    });
    assert.equal(next.error, undefined);
  });

  if (engine === 'signed-cookie') {
    it('sessions.count and forUser name the engine to use', async () => {
      const { sessions } = make();
      await assert.rejects(sessions.count(), usage(/'signed-cookie'/));
      assert.throws(() => sessions.forUser('42'), usage(/'redis' or 'memory'/));
    });
  } else {
    it('cookieValue() on a server-side engine says what the cookie holds instead', async () => {
      const { request } = make();
      await request(undefined, async (s) => {
        assert.throws(() => s.cookieValue(), usage(/signed-cookie engine/));
      });
    });
  }
  if (engine === 'cache') {
    it('forUser names the engines that keep a per-user index', async () => {
      const { sessions } = make();
      assert.throws(() => sessions.forUser('42'), usage(/'redis' or 'memory'/));
    });
  }
});
