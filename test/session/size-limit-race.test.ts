/**
 * Regression (review of the session code, finding 6): `maxBytes` is checked by the request
 * that saves, against the session it loaded, and the redis engine writes changed fields, not
 * the whole session — so concurrent requests that each add a field can together store a
 * session over the limit. Every later save of it then failed with 413, even one that changed
 * a single small field or removed data: the session was stuck until its fields were deleted.
 * A save is now refused only when it grows a session past the limit.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SessionTooLargeError } from '../../src/errors.js';
import { forEngines } from './support.js';

forEngines('a session over maxBytes is never stuck', ['memory', 'redis', 'cache'], ({ make }) => {
  /** A session stored over the limit the way it happens: two requests, each within it, saved together. */
  async function overLimit() {
    const fixture = make({ maxBytes: 1000 });
    const { sessions, request } = fixture;
    const first = await request(undefined, async (s) => s.set('a', 1));
    const id = first.cookie as string;
    const x = sessions.open({ cookie: id });
    const y = sessions.open({ cookie: id });
    await x.get('a');
    await y.get('a');
    await x.set('notes', 'n'.repeat(600));
    await y.set('draft', 'd'.repeat(600));
    await Promise.all([x.save(), y.save()]);
    const stored = await sessions.open({ cookie: id }).entries();
    let bytes = 0;
    for (const [field, value] of stored) bytes += field.length + JSON.stringify(value).length;
    assert.ok(bytes > 1000, `the store holds ${bytes} bytes, over maxBytes`);
    return { ...fixture, id };
  }

  it('a save that does not grow it goes through: a same-size change, a removal', async () => {
    const { request, id } = await overLimit();
    const same = await request(id, async (s) => s.set('a', 2));
    assert.equal(same.error, undefined, 'changing a to 2 is saved');
    const shrink = await request(id, async (s) => {
      await s.set('draft', 'd'.repeat(500));
    });
    assert.equal(shrink.error, undefined, 'a smaller value, though still over the limit, is saved');
    const removal = await request(id, async (s) => void (await s.delete('notes')));
    assert.equal(removal.error, undefined, 'a removal is saved');
    await request(id, async (s) => {
      assert.deepEqual(Object.fromEntries(await s.entries()), { a: 2, draft: 'd'.repeat(500) });
    });
  });

  it('a save that grows it further is refused with SessionTooLargeError, storing nothing', async () => {
    const { request, id } = await overLimit();
    const grown = await request(id, async (s) => s.set('more', 'x'));
    assert.ok(grown.error instanceof SessionTooLargeError, String(grown.error));
    assert.equal(grown.error.status, 413);
    await request(id, async (s) => assert.equal(await s.has('more'), false));
  });

  it('within the limit, a save that would pass it is still refused', async () => {
    const { request } = make({ maxBytes: 1000 });
    const first = await request(undefined, async (s) => s.set('a', 'a'.repeat(500)));
    const over = await request(first.cookie, async (s) => s.set('b', 'b'.repeat(600)));
    assert.ok(over.error instanceof SessionTooLargeError);
    await request(first.cookie, async (s) => assert.equal(await s.has('b'), false));
  });
});
