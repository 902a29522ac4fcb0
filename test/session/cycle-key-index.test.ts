/**
 * Regression (review of the session code, finding 1): a logged-in session whose key is cycled
 * without a new login (step-up auth, "sudo mode") stayed logged in under its new id but fell
 * out of its user's index, so `forUser(id).list()`, `revoke` and `revokeAll` — "log out
 * everywhere" after a password change — missed it.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { forEngines } from './support.js';

forEngines('cycleKey keeps a logged-in session in its user index', ['memory', 'redis'], ({ make }) => {
  it('after cycleKey the new id is listed under the user, and revokeAll ends it', async () => {
    const { request, sessions, clock } = make();
    const user = `u-${Math.random().toString(36).slice(2)}`;
    const login = await request(undefined, async (s) => {
      await s.set('cart', []);
      await s.login(user);
    });
    assert.ok(login.cookie);
    assert.deepEqual(
      (await sessions.forUser(user).list()).map((s) => s.id),
      [login.cookie],
    );
    clock.advance(1000);
    const cycled = await request(login.cookie, async (s) => {
      await s.set('sudo', true);
      await s.cycleKey();
    });
    assert.ok(cycled.cookie && cycled.cookie !== login.cookie, 'a new id');
    assert.deepEqual(
      (await sessions.forUser(user).list()).map((s) => s.id),
      [cycled.cookie],
      'the new id replaces the old one in the index',
    );
    assert.equal(await sessions.forUser(user).revokeAll(), 1);
    await request(cycled.cookie, async (s) => {
      assert.equal(await s.userId(), undefined, 'revoked: no longer logged in');
      assert.equal(await s.get('sudo'), undefined);
    });
  });

  it('revoke(id) ends a session cycled twice in one request, by its final id', async () => {
    const { request, sessions } = make();
    const user = `u-${Math.random().toString(36).slice(2)}`;
    const login = await request(undefined, async (s) => s.login(user));
    const cycled = await request(login.cookie, async (s) => {
      await s.cycleKey();
      await s.cycleKey();
    });
    const [only, ...rest] = await sessions.forUser(user).list();
    assert.deepEqual(rest, []);
    assert.equal(only?.id, cycled.cookie);
    assert.equal(await sessions.forUser(user).revoke(cycled.cookie as string), true);
    await request(cycled.cookie, async (s) => assert.equal(await s.userId(), undefined));
  });
});
