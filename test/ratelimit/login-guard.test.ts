/**
 * The login guard (rate-limiter-flexible's login recipe) on memory and Redis standalone:
 * consecutive failures per user name + address, the slower per-address limit, reset on
 * success, the end of a block, user name normalisation, IPv6 by /64 and safe keys.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, RateLimitUsageError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import {
  createLoginGuard,
  type LoginGuardOptions,
  normalizeUsername,
} from '../../src/ratelimit/login-guard.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const target of ['memory', 'standalone'] as const) {
  describe(`login guard (${target})`, () => {
    /** A Larder on `target` and a guard under a prefix of its own (the Redis server is shared). */
    const setup = (options: LoginGuardOptions = {}) => {
      const larder = createLarder({ logger: false, redis: redisUrlFor(target) ?? false }, {});
      const prefix = uniquePrefix('login-guard');
      return { larder, prefix, guard: createLoginGuard(larder, { prefix, ...options }) };
    };
    const withGuard = async (
      options: LoginGuardOptions,
      body: (ctx: ReturnType<typeof setup>) => Promise<void>,
    ) => {
      const ctx = setup(options);
      try {
        await body(ctx);
      } finally {
        await ctx.larder.close();
      }
    };

    test('the 6th attempt after 5 failures is refused before the password is checked', () =>
      withGuard({ perUserAndIp: { limit: 5, window: '15m' } }, async ({ guard }) => {
        assert.deepEqual(await guard.check('alice', '203.0.113.7'), {
          allowed: true,
          retryAfter: 0,
          remaining: 5,
        });
        for (let i = 1; i <= 4; i++) {
          const after = await guard.failed('alice', '203.0.113.7');
          assert.deepEqual(after, { allowed: true, retryAfter: 0, remaining: 5 - i });
          assert.equal((await guard.check('alice', '203.0.113.7')).remaining, 5 - i);
        }
        const fifth = await guard.failed('alice', '203.0.113.7');
        assert.equal(fifth.allowed, false, 'the 5th failure blocks the next attempt');
        assert.equal(fifth.remaining, 0);
        assert.ok(
          fifth.retryAfter > 14 * 60 && fifth.retryAfter <= 15 * 60,
          `retryAfter ${fifth.retryAfter}`,
        );
        const sixth = await guard.check('alice', '203.0.113.7');
        assert.equal(sixth.allowed, false);
        assert.ok(
          sixth.retryAfter > 14 * 60 && sixth.retryAfter <= 15 * 60,
          `retryAfter ${sixth.retryAfter}`,
        );
        // A failure reported while blocked counts nothing more and changes nothing.
        assert.equal((await guard.failed('alice', '203.0.113.7')).allowed, false);
      }));

    test('the block is per user name and address: other names and other addresses go on', () =>
      withGuard({ perUserAndIp: { limit: 2, window: 60 } }, async ({ guard }) => {
        await guard.failed('alice', '203.0.113.7');
        await guard.failed('alice', '203.0.113.7');
        assert.equal((await guard.check('alice', '203.0.113.7')).allowed, false);
        assert.equal((await guard.check('bob', '203.0.113.7')).allowed, true);
        assert.equal((await guard.check('alice', '198.51.100.1')).allowed, true);
      }));

    test('user names are normalised: case, spaces and NFKC look-alikes share one count', () =>
      withGuard({ perUserAndIp: { limit: 3, window: 60 } }, async ({ guard }) => {
        await guard.failed('Alice', '203.0.113.7');
        await guard.failed('  ALICE ', '203.0.113.7');
        // U+FF41… fullwidth letters; NFKC folds them to ASCII, as Django's normalize_username.
        await guard.failed('\uff41lice', '203.0.113.7');
        assert.equal((await guard.check('alice', '203.0.113.7')).allowed, false);
        assert.equal(normalizeUsername(' \uff21LICE\t'), 'alice');
      }));

    test('succeeded clears the user name + address failures, not the per-address count', () =>
      withGuard(
        { perUserAndIp: { limit: 3, window: 60 }, perIp: { limit: 4, window: 60 } },
        async ({ guard }) => {
          await guard.failed('alice', '203.0.113.7');
          await guard.failed('alice', '203.0.113.7');
          await guard.succeeded('Alice', '203.0.113.7');
          assert.deepEqual(await guard.check('alice', '203.0.113.7'), {
            allowed: true,
            retryAfter: 0,
            remaining: 2,
          });
          // The address has 2 failures; 2 more under other names exhaust it for everyone.
          await guard.failed('bob', '203.0.113.7');
          const last = await guard.failed('carol', '203.0.113.7');
          assert.equal(last.allowed, false, 'the per-address limit blocks the next attempt');
          assert.ok(last.retryAfter > 0 && last.retryAfter <= 60);
          const dave = await guard.check('dave', '203.0.113.7');
          assert.equal(dave.allowed, false, 'a name never tried is refused from that address too');
          assert.equal((await guard.check('dave', '198.51.100.1')).allowed, true);
        },
      ));

    test('a block ends with the window the first failure opened, and a success then starts afresh', () =>
      withGuard({ perUserAndIp: { limit: 2, window: 1 } }, async ({ guard }) => {
        await guard.failed('alice', '203.0.113.7');
        await guard.failed('alice', '203.0.113.7');
        const blocked = await guard.check('alice', '203.0.113.7');
        assert.equal(blocked.allowed, false);
        assert.ok(blocked.retryAfter > 0 && blocked.retryAfter <= 1);
        await sleep(blocked.retryAfter * 1000 + 50);
        assert.equal((await guard.check('alice', '203.0.113.7')).allowed, true);
        await guard.failed('alice', '203.0.113.7');
        await guard.succeeded('alice', '203.0.113.7');
        assert.equal((await guard.check('alice', '203.0.113.7')).remaining, 2);
      }));

    test('IPv6 counts by /64; an IPv4-mapped address counts as its IPv4', () =>
      withGuard({ perUserAndIp: { limit: 2, window: 60 } }, async ({ guard }) => {
        await guard.failed('carol', '2001:db8::1');
        await guard.failed('carol', '2001:0DB8:0000:0000:ffff::2');
        assert.equal(
          (await guard.check('carol', '2001:db8:0:0:1::3')).allowed,
          false,
          'same /64, any spelling',
        );
        await guard.failed('alice', '2001:db8:1:2::1');
        await guard.failed('alice', '2001:db8:1:2:ffff:ffff:ffff:fffe');
        assert.equal((await guard.check('alice', '2001:db8:1:2:abcd::9')).allowed, false);
        assert.equal((await guard.check('alice', '2001:db8:1:3::1')).allowed, true);
        await guard.failed('bob', '::ffff:192.0.2.1');
        await guard.failed('bob', '192.0.2.1');
        assert.equal((await guard.check('bob', '192.0.2.1')).allowed, false);
      }));

    test('a user name with braces or of any length neither breaks the keys nor collides', () =>
      withGuard({ perUserAndIp: { limit: 1, window: 60 } }, async ({ larder, guard, prefix }) => {
        const names = ['{bob}', 'bob}', `${'x'.repeat(300)}`, `${'x'.repeat(300)}y`];
        for (const name of names) {
          await guard.failed(name, '203.0.113.7');
          assert.equal((await guard.check(name, '203.0.113.7')).allowed, false, name);
        }
        assert.equal((await guard.check('bob', '203.0.113.7')).allowed, true);
        if (target === 'standalone') {
          const keys = await larder.connection().send<string[]>(['KEYS', `${prefix}:*`]);
          assert.ok(keys.length >= names.length + 1, keys.join(' '));
          for (const key of keys) {
            // Exactly one hash tag, and no user name in it verbatim.
            assert.match(key, /^[^{}]*\{[^{}]+\}[^{}]*$/, key);
            assert.doesNotMatch(key, /bob|xxxx/, key);
          }
        }
      }));

    test('a wrong argument is a RateLimitUsageError naming it; a wrong option a ConfigError naming its path', () =>
      withGuard({}, async ({ larder, guard }) => {
        await assert.rejects(guard.check('alice', ''), /client address must be an IP address.*got ""/);
        await assert.rejects(guard.check('alice', 'unknown'), /client address must be an IP address/);
        assert.equal((await guard.check('alice', 'fe80::1%eth0')).allowed, true, 'a zone id is allowed');
        await assert.rejects(guard.failed(42 as never, '203.0.113.7'), RateLimitUsageError);
        assert.throws(
          () => createLoginGuard(larder, { perUserAndIp: { limit: 0, window: 60 } }),
          (error: unknown) =>
            error instanceof ConfigError && error.path === 'createLoginGuard.perUserAndIp.limit',
        );
        assert.throws(
          () => createLoginGuard(larder, { perIp: { limit: 10, window: 'soon' } }),
          (error: unknown) => error instanceof ConfigError && error.path === 'createLoginGuard.perIp.window',
        );
        assert.throws(
          () => createLoginGuard(larder, { name: 'log in' }),
          (error: unknown) => error instanceof ConfigError && error.path === 'createLoginGuard.name',
        );
      }));
  });
}

/** The guard is built on two ordinary limiters, named `<guard>/<limit>`: no name the app can give. */
test('the guard exposes its two limiters, named after the guard', async () => {
  const larder: Larder = createLarder({ logger: false, redis: false }, {});
  try {
    const guard = createLoginGuard(larder, { name: 'admin-login' });
    assert.equal(guard.perUserAndIp.name, 'admin-login/user-ip');
    assert.equal(guard.perIp.name, 'admin-login/ip');
    assert.deepEqual(
      guard.perUserAndIp.rules.map((r) => [r.limit, r.window, r.algorithm]),
      [[5, 900_000, 'fixed-window']],
    );
    assert.deepEqual(
      guard.perIp.rules.map((r) => [r.limit, r.window, r.algorithm]),
      [[100, 86_400_000, 'fixed-window']],
    );
  } finally {
    await larder.close();
  }
});
