/**
 * Regression (review finding 3): the memory store's bound (`maxKeys`, 100,000 by default, one
 * store for every limiter of a Larder) drops expired keys first, then the least recently used
 * keys that still have room, and a key that holds its subject back only when nothing else is
 * left. Before, it dropped the least recently *allowed* key: a refusal or a peek never counted
 * as use, so a subject being refused was the first forgotten, and any flood of new subjects
 * lifted login-guard blocks and ladder bans while their window was still open.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLarder } from '../../src/larder.js';
import { memoryRateLimitStore, type Rule } from '../../src/ratelimit/index.js';
import { createLoginGuard } from '../../src/ratelimit/login-guard.js';

const rule = (limit: number, window: number): Rule => ({
  name: 'r',
  limit,
  window,
  algorithm: 'fixed-window',
  burst: limit,
});

/** A store on a fake clock; `hit` consumes one, `look` peeks, each answering the outcome. */
function clockedStore(maxKeys: number) {
  const clock = { t: 1_000_000 };
  const store = memoryRateLimitStore({ now: () => clock.t, maxKeys });
  const hit = async (key: string, r: Rule) => (await store.consume([key], [r], 1, false))[0];
  const look = async (key: string, r: Rule) => (await store.consume([key], [r], 1, true))[0];
  return { clock, hit, look };
}

describe('memory store bound: what is forgotten first', () => {
  test('a subject still being refused outlives subjects idle since before it was blocked', async () => {
    const { clock, hit } = clockedStore(3);
    const one = rule(1, 60_000);
    await hit('attacker', one);
    await hit('b', one);
    await hit('c', one);
    for (let i = 0; i < 5; i++) {
      clock.t += 10;
      assert.equal((await hit('attacker', one)).allowed, false, 'the attacker is refused');
    }
    await hit('d', one);
    assert.equal((await hit('attacker', one)).allowed, false, 'still blocked: its window is open');
    assert.equal((await hit('b', one)).allowed, true, 'b, idle the longest, was forgotten');
  });

  test('a block outlives a flood of new subjects that still have room', async () => {
    const { hit } = clockedStore(10);
    const login = rule(3, 900_000);
    for (let i = 0; i < 3; i++) await hit('alice', login);
    const api = rule(100, 60_000);
    for (let i = 0; i < 50; i++) assert.equal((await hit(`key:${i}`, api)).allowed, true);
    assert.equal((await hit('alice', login)).allowed, false, 'alice is still blocked');
    assert.equal((await hit('key:0', api)).remaining, 99, 'the flood itself was bounded: key:0 forgotten');
  });

  test('expired keys are dropped before live ones', async () => {
    const { clock, hit, look } = clockedStore(3);
    await hit('keep', rule(10, 60_000));
    await hit('x', rule(10, 1_000));
    await hit('y', rule(10, 1_000));
    clock.t += 2_000;
    await hit('z', rule(10, 60_000));
    assert.equal((await look('keep', rule(10, 60_000))).remaining, 8, "keep's count survived");
  });

  test('a peek counts as use', async () => {
    const { hit, look } = clockedStore(2);
    const r = rule(10, 60_000);
    await hit('a', r);
    await hit('b', r);
    await look('a', r);
    await hit('c', r);
    assert.equal((await look('a', r)).remaining, 8, 'a, peeked at, kept its count');
    assert.equal((await look('b', r)).remaining, 9, 'b, the least recently used, was forgotten');
  });

  test('the bound holds when every key holds its subject back', async () => {
    const { hit } = clockedStore(3);
    const one = rule(1, 60_000);
    for (const key of ['k1', 'k2', 'k3', 'k4', 'k5']) await hit(key, one);
    // Refusals first: they add no key, so they cannot push another out.
    for (const key of ['k3', 'k4', 'k5']) assert.equal((await hit(key, one)).allowed, false, `${key} kept`);
    for (const key of ['k1', 'k2']) assert.equal((await hit(key, one)).allowed, true, `${key} forgotten`);
  });

  test('login guard: 100,000 new subjects on another limiter of the Larder do not lift a block', async () => {
    const larder = createLarder(
      { redis: false, logger: false, rateLimits: { api: { limit: 100, window: 60 } } },
      {},
    );
    try {
      const guard = createLoginGuard(larder, { perUserAndIp: { limit: 5, window: '15m' } });
      for (let i = 0; i < 5; i++) await guard.failed('alice', '198.51.100.9');
      assert.equal((await guard.check('alice', '198.51.100.9')).allowed, false);
      const api = larder.rateLimiter('api');
      for (let i = 0; i < 100_000; i++) await api.consume(`key:${i}`);
      assert.equal((await guard.check('alice', '198.51.100.9')).allowed, false, 'still blocked');
    } finally {
      await larder.close();
    }
  });
});
