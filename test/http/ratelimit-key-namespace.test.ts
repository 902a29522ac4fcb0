/**
 * Regression (review finding 1): a `key(req)` value is counted as `key:<value>`, a namespace of
 * its own. Before, `x-api-key: ip:203.0.113.7` was the subject `ip:203.0.113.7` itself, so a
 * client could use up another client's quota by sending its address (or `user:<id>`), and with
 * a ladder get that client banned.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRateLimit, defaultSubject, type RateLimitDecision } from '../../src/http/ratelimit.js';
import { createLarder, type Larder } from '../../src/larder.js';

/** A request as the check sees it: headers and the peer's address. */
interface FakeRequest {
  headers: Record<string, string>;
  address: string;
  userId?: string;
}

const apiKey = (req: FakeRequest) => req.headers['x-api-key'];

/** Runs `check` as an adapter does: the default subject from the session, else the address. */
function run(check: ReturnType<typeof createRateLimit<FakeRequest>>, req: FakeRequest) {
  const session = req.userId === undefined ? undefined : { userId: async () => req.userId };
  return check(req, () => defaultSubject(session, () => req.address));
}

function status(decision: RateLimitDecision): number {
  return decision.allowed ? 200 : decision.response.status;
}

async function withLarder(body: (larder: Larder) => Promise<void>): Promise<void> {
  const larder = createLarder(
    { redis: false, logger: false, rateLimits: { api: { limit: 3, window: 60 } } },
    {},
  );
  try {
    await body(larder);
  } finally {
    await larder.close();
  }
}

describe('web.rateLimit key(req): a namespace of its own', () => {
  test('a key value that spells an address does not use up that address', () =>
    withLarder(async (larder) => {
      const check = createRateLimit<FakeRequest>(larder, 'api', { key: apiKey });
      const attacker = { headers: { 'x-api-key': 'ip:203.0.113.7' }, address: '198.51.100.9' };
      for (let i = 0; i < 3; i++) assert.equal(status(await run(check, attacker)), 200);
      assert.equal(status(await run(check, attacker)), 429, 'the key is limited under its own count');

      const victim = { headers: {}, address: '203.0.113.7' };
      assert.equal(status(await run(check, victim)), 200, "the address's first request passes");
      const limiter = larder.rateLimiter('api');
      assert.equal((await limiter.peek('ip:203.0.113.7')).remaining, 1, 'the address counted once');
      assert.equal(
        (await limiter.peek('key:ip:203.0.113.7')).allowed,
        false,
        'the key counted as key:<value>',
      );
    }));

  test('a key value that spells a user id cannot get that user banned by the ladder', () =>
    withLarder(async (larder) => {
      const check = createRateLimit<FakeRequest>(larder, 'api', {
        key: apiKey,
        ladder: { after: 2, within: '10m', ban: '1h' },
      });
      const attacker = { headers: { 'x-api-key': 'user:42' }, address: '198.51.100.9' };
      const seen: number[] = [];
      for (let i = 0; i < 6; i++) seen.push(status(await run(check, attacker)));
      assert.deepEqual(seen, [200, 200, 200, 429, 429, 403], 'the attacker earns its own ban');

      const user42 = { headers: {}, address: '203.0.113.50', userId: '42' };
      assert.equal(status(await run(check, user42)), 200, "user 42's first request passes");
    }));

  test('a key value that is not a string is still refused by the limiter, not counted', () =>
    withLarder(async (larder) => {
      const check = createRateLimit<FakeRequest>(larder, 'api', { key: () => 42 as unknown as string });
      await assert.rejects(run(check, { headers: {}, address: '203.0.113.7' }), {
        code: 'E_RATELIMIT_USAGE',
      });
    }));
});
