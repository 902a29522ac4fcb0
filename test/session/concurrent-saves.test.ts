/**
 * Regression (review of the session code, finding 4): two saves of one `Session` could run at
 * once — `Promise.all([s.incr('a'), s.incr('b')])` saves a new session from both calls — so
 * one `create` collided with the other (an untyped "id collided… Retry" error: a 500 and a lost
 * count), and after `login()` the second save found the old id already gone and threw
 * `SessionInterruptedError` (a 400). A change made while a save was in flight was dropped with
 * it. Saves of one session now run one after another, each deciding afresh what to write.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { forEngines } from './support.js';

forEngines('saves of one session run one at a time', ['memory', 'redis', 'cache'], ({ engine, make }) => {
  it('two concurrent incr on a new session both count, and the session is stored once', async () => {
    const { request } = make();
    let counts: number[] = [];
    const first = await request(undefined, async (s) => {
      counts = await Promise.all([s.incr('views'), s.incr('clicks')]);
    });
    assert.equal(first.error, undefined);
    assert.deepEqual(counts, [1, 1]);
    await request(first.cookie, async (s) => {
      assert.deepEqual(Object.fromEntries(await s.entries()), { views: 1, clicks: 1 });
    });
  });

  it('two concurrent incr right after login: no error, both counted, the user logged in', async () => {
    const { request, sessions } = make();
    const first = await request(undefined, async (s) => s.set('cart', ['sku']));
    const user = `u-${Math.random().toString(36).slice(2)}`;
    const second = await request(first.cookie, async (s) => {
      await s.login(user);
      assert.deepEqual(await Promise.all([s.incr('logins'), s.incr('visits')]), [1, 1]);
    });
    assert.equal(second.error, undefined);
    assert.notEqual(second.cookie, first.cookie);
    await request(second.cookie, async (s) => {
      assert.equal(await s.userId(), user);
      assert.deepEqual(Object.fromEntries(await s.entries()), { cart: ['sku'], logins: 1, visits: 1 });
    });
    if (engine !== 'cache') {
      assert.deepEqual(
        (await sessions.forUser(user).list()).map((s) => s.id),
        [second.cookie],
      );
    }
  });

  it('set-then-save racing an incr on a stored session keeps both', async () => {
    const { request } = make();
    const first = await request(undefined, async (s) => s.set('views', 0));
    const second = await request(first.cookie, async (s) => {
      await s.get('views');
      await Promise.all([s.set('a', 1).then(() => s.save()), s.incr('views')]);
    });
    assert.equal(second.error, undefined);
    await request(first.cookie, async (s) => {
      assert.deepEqual(Object.fromEntries(await s.entries()), { views: 1, a: 1 });
    });
  });

  it('a field set while a save is in flight is saved too (by the next save)', async () => {
    const { request } = make();
    const first = await request(undefined, async (s) => s.set('a', 1));
    await request(first.cookie, async (s) => {
      await s.set('b', 2);
      const saving = s.save();
      await s.set('late', 3);
      await s.delete('a');
      await saving;
    });
    await request(first.cookie, async (s) => {
      assert.deepEqual(Object.fromEntries(await s.entries()), { b: 2, late: 3 });
    });
  });
});
