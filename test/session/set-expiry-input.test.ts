/**
 * Regression (review of the session code, finding 5): `setExpiry()` accepted seconds a cookie
 * cannot carry — 0.5 or 90.5 (`Max-Age` is whole seconds) and 1e13 (an `Expires` past the last
 * date JavaScript holds) — and the error came at response time, from the cookie serializer: a
 * `TypeError`, a 500, and the session unsaved. Like Django's `set_expiry`, larder takes whole
 * seconds; anything else is refused at the call, with a `SessionUsageError` that says what to pass.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SessionUsageError } from '../../src/errors.js';
import { newSessionId } from '../../src/session/ids.js';
import { forEngines } from './support.js';

const refused = [0.5, 90.5, 1e13, -1, Number.NaN, Number.POSITIVE_INFINITY, new Date(Number.NaN)];

forEngines(
  'setExpiry takes only what a cookie can carry',
  ['memory', 'redis', 'cache', 'signed-cookie'],
  ({ engine, make }) => {
    it('fractional seconds, seconds past the last valid date, and invalid values are refused at the call', async () => {
      const { request } = make();
      for (const value of refused) {
        const answer = await request(undefined, async (s) => {
          await s.set('a', 1);
          await assert.rejects(
            s.setExpiry(value),
            (error: unknown) =>
              error instanceof SessionUsageError &&
              /setExpiry/.test(error.message) &&
              /whole (number of )?seconds/.test(error.message),
            String(value),
          );
          assert.equal(s.hasCustomExpiry(), false, `${value}: nothing was set`);
        });
        assert.equal(answer.error, undefined, `${value}: the session still saves`);
        assert.match(answer.setCookie ?? '', /Max-Age=1209600\b/, `${value}: the configured expiry applies`);
      }
    });

    it('whole seconds and a far Date still work', async () => {
      const { request } = make();
      const ninety = await request(undefined, async (s) => {
        await s.set('a', 1);
        await s.setExpiry(90);
      });
      assert.match(ninety.setCookie ?? '', /Max-Age=90\b/);
      const far = await request(undefined, async (s) => {
        await s.set('a', 1);
        await s.setExpiry(new Date(Date.now() + 1e15));
      });
      assert.equal(far.error, undefined);
      assert.match(far.setCookie ?? '', /Expires=/);
    });

    if (engine !== 'signed-cookie') {
      it('a session stored earlier with fractional expiry seconds answers with whole ones', async () => {
        const { request, sessions, clock } = make();
        const store = sessions.store;
        assert.equal(store.kind, 'server');
        const id = newSessionId();
        const now = clock.now();
        assert.ok(
          await store.create(id, {
            set: new Map([['a', '1']]),
            delete: new Set(),
            replace: true,
            meta: { created: now, lastSeen: now, expiry: 's:90.5' },
            ttl: 90_500,
          }),
        );
        const answer = await request(id, async (s) => s.set('b', 2));
        assert.equal(answer.error, undefined);
        assert.match(answer.setCookie ?? '', /Max-Age=90\b/);
      });
    }
  },
);
