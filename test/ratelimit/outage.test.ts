/**
 * A Redis outage under a rate limiter (DESIGN §4.4: "failOpen or failClosed on outage, with
 * an in-memory insurance limiter"), on a dedicated redis-server killed mid-test: by default
 * the insurance limiter keeps limits enforced in this process (`degraded: true`); with
 * `insurance: false, failOpen: true` every call is allowed; with `insurance: false` alone
 * the limiter fails closed with `BackendUnavailableError` (503). Once a server answers on
 * the port again, checks go back to Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackendUnavailableError, RateLimitedError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import type { RateLimiter } from '../../src/ratelimit/index.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';

async function until(fn: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const giveUp = Date.now() + ms;
  while (Date.now() < giveUp) {
    if (await fn().catch(() => false)) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('rate limiting through a Redis outage', () => {
  let server: RedisServerHandle;
  let larder: Larder;
  const warnings: string[] = [];
  let insured: RateLimiter;
  let open: RateLimiter;
  let closed: RateLimiter;

  before(async () => {
    server = await startStandalone();
    larder = createLarder(
      {
        redis: { url: server.url, commandTimeout: '300ms', connectTimeout: '300ms' },
        logger: { info() {}, warn: (m: string) => warnings.push(m), error() {} },
      },
      {},
    );
    const rule = { limit: 3, window: 60 };
    insured = larder.rateLimiter({ name: 'insured', ...rule });
    open = larder.rateLimiter({ name: 'open', ...rule, insurance: false, failOpen: true });
    closed = larder.rateLimiter({ name: 'closed', ...rule, insurance: false });
  });
  after(async () => {
    await larder?.close();
    await server?.stop();
  });

  it('while Redis answers, every limiter counts on Redis', async () => {
    for (const limiter of [insured, open, closed]) {
      const result = await limiter.consume('subject');
      assert.deepEqual([result.allowed, result.remaining, result.degraded], [true, 2, false], limiter.name);
    }
    assert.equal(await server.command('GET', 'rl:{subject}:insured:insured:f'), '1');
  });

  it('server killed: the insurance limiter keeps enforcing the limit in this process', async () => {
    await server.kill();
    // The insurance limiter starts from nothing: this process's own count, 3 then refused.
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await insured.consume('subject'));
    assert.deepEqual(
      results.map((r) => [r.allowed, r.degraded]),
      [
        [true, true],
        [true, true],
        [true, true],
        [false, true],
        [false, true],
      ],
    );
    assert.deepEqual(
      results.map((r) => r.remaining),
      [2, 1, 0, 0, 0],
    );
    assert.ok(results[3].retryAfter > 0 && results[3].retryAfter <= 60);
    await assert.rejects(insured.hit('subject'), (error: unknown) => {
      assert.ok(error instanceof RateLimitedError, 'hit still throws RateLimitedError');
      assert.equal(error.status, 429);
      return true;
    });
    const other = await insured.consume('another subject');
    assert.deepEqual([other.allowed, other.degraded], [true, true], 'per subject, as on Redis');
    assert.ok(
      warnings.some((w) => w.includes("'insured'") && w.includes('insurance')),
      `a warning names the limiter and what it does: ${JSON.stringify(warnings)}`,
    );
  });

  it('server killed: failOpen allows every call', async () => {
    for (let i = 0; i < 6; i++) {
      const result = await open.consume('subject');
      assert.deepEqual(
        [result.allowed, result.degraded, result.retryAfter],
        [true, true, 0],
        `call ${i + 1}`,
      );
    }
    assert.equal((await open.hit('subject')).allowed, true);
  });

  it('server killed: fail closed refuses with BackendUnavailableError (503)', async () => {
    for (const call of [
      () => closed.consume('subject'),
      () => closed.peek('subject'),
      () => closed.hit('subject'),
    ]) {
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(error instanceof BackendUnavailableError, `got ${String(error)}`);
        assert.equal(error.status, 503);
        assert.equal(error.code, 'E_BACKEND_UNAVAILABLE');
        return true;
      });
    }
  });

  it('a server on the same port again: checks go back to Redis', async () => {
    // The test server keeps nothing on disk: the restarted one starts with no counts.
    await server.restart();
    await until(async () => !(await insured.peek('subject')).degraded, 'answers from Redis again');
    const back = await insured.consume('subject');
    assert.deepEqual([back.allowed, back.remaining, back.degraded], [true, 2, false], 'counted on Redis');
    assert.equal(await server.command('GET', 'rl:{subject}:insured:insured:f'), '1');
    const opened = await open.consume('subject');
    assert.deepEqual([opened.allowed, opened.remaining, opened.degraded], [true, 2, false]);
    const closedAgain = await closed.consume('subject');
    assert.deepEqual([closedAgain.allowed, closedAgain.remaining, closedAgain.degraded], [true, 2, false]);
    await closed.consume('subject');
    await closed.consume('subject');
    const refused = await closed.consume('subject');
    assert.deepEqual([refused.allowed, refused.degraded], [false, false], 'and enforced on Redis');
  });
});
