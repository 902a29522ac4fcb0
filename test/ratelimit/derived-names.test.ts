/**
 * Regression (review finding 4): the limiters larder makes itself — the login guard's
 * `<name>/user-ip` and `<name>/ip`, a ladder's `<limiter>/strikes` and `<limiter>/ban` — are
 * named with a `/`, which no configured or code name can hold. Before, they were `login-ip`,
 * `api-ban`…: a configured limit named `login-ip` (natural for the login route) was the
 * guard's per-address counter itself, and its 1 s window wiped the guard's 1-day count.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { ipSubject } from '../../src/http/client-ip.js';
import { createRateLimit, type LadderOptions } from '../../src/http/ratelimit.js';
import { createLarder } from '../../src/larder.js';
import { createLoginGuard } from '../../src/ratelimit/login-guard.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

/** An address no other test (nor an earlier run on the shared server) counts for. */
const freshIp = () => `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}::1`;

for (const target of ['memory', 'standalone'] as const) {
  describe(`limiters larder derives have names the app cannot give (${target})`, () => {
    test("a configured limit named 'login-ip' does not count the login guard's failures", async () => {
      const larder = createLarder(
        {
          redis: redisUrlFor(target) ?? false,
          logger: false,
          rateLimits: { 'login-ip': { limit: 1000, window: 60 } },
        },
        {},
      );
      try {
        const route = larder.rateLimiter('login-ip');
        const guard = createLoginGuard(larder, { perIp: { limit: 3, window: '1d' } });
        assert.deepEqual([guard.perIp.name, guard.perUserAndIp.name], ['login/ip', 'login/user-ip']);
        const ip = freshIp();
        const subject = ipSubject(ip); // as the middleware and the guard count the address
        await route.consume(subject);
        for (let i = 0; i < 2; i++) await guard.failed(`user${i}`, ip);
        assert.deepEqual(await guard.check('user9', ip), { allowed: true, retryAfter: 0, remaining: 1 });
        assert.equal((await route.peek(subject)).remaining, 998, 'the route counted only its own call');
      } finally {
        await larder.close();
      }
    });

    test("a limiter named '<name>-ban' with a rule 'ban' does not ban the ladder's subjects", async () => {
      const larder = createLarder({ redis: redisUrlFor(target) ?? false, logger: false }, {});
      try {
        const name = uniquePrefix('api'); // the default prefix, as the ladder had: a name of its own
        const ladder: LadderOptions = { after: 2, within: '10m', ban: '1h' };
        const check = createRateLimit<string>(
          larder,
          { name, limit: 1, window: 60 },
          { key: (subject) => subject, ladder },
        );
        const lookalike = larder.rateLimiter({
          name: `${name}-ban`,
          rules: [{ name: 'ban', limit: 1, window: 3600 }],
        });
        await lookalike.consume('key:client');
        const decision = await check('client', async () => 'unused');
        assert.equal(decision.allowed, true, 'not banned by a limit the app named');
      } finally {
        await larder.close();
      }
    });

    test("a ladder keys under its limiter's prefix: one name under two prefixes, two bans", async () => {
      const larder = createLarder({ redis: redisUrlFor(target) ?? false, logger: false }, {});
      try {
        const name = uniquePrefix('laddered');
        const ladder: LadderOptions = { after: 1, within: '10m', ban: '1h' };
        const limited = (prefix: string) =>
          createRateLimit<string>(larder, { name, limit: 1, window: 60, prefix }, { key: (s) => s, ladder });
        const [a, b] = [limited('tenant-a'), limited('tenant-b')];
        const statuses = async (check: typeof a) => {
          const seen: number[] = [];
          for (let i = 0; i < 3; i++) {
            const decision = await check('client', async () => 'unused');
            seen.push(decision.allowed ? 200 : decision.response.status);
          }
          return seen;
        };
        assert.deepEqual(await statuses(a), [200, 429, 403], 'tenant a earns its ban');
        assert.deepEqual(await statuses(b), [200, 429, 403], "tenant b is not banned by tenant a's");
      } finally {
        await larder.close();
      }
    });
  });
}

test("'/' stays reserved: no configured or code limit name can hold it", async () => {
  assert.throws(
    () =>
      createLarder({ redis: false, logger: false, rateLimits: { 'login/ip': { limit: 1, window: 1 } } }, {}),
    (error: unknown) => error instanceof ConfigError && error.path.includes('login/ip'),
  );
  const larder = createLarder({ redis: false, logger: false }, {});
  try {
    assert.throws(
      () => larder.rateLimiter({ name: 'login/ip', limit: 1, window: 1 }),
      (error: unknown) => error instanceof ConfigError && error.path.endsWith('.name'),
    );
  } finally {
    await larder.close();
  }
});
