/**
 * @module The rate-limit conformance suite (DESIGN §4.4): fixed window, sliding window and
 * GCRA against the store contract — all or nothing, refused calls consume nothing, honest
 * `retryAfter` and `resetAfter` — through `larder.rateLimiter` as an application calls it.
 * `test/ratelimit/ratelimit-conformance.test.ts` runs it on memory (a fake clock), Redis
 * standalone and Redis Cluster (the server's clock decides: real windows of 200–600 ms).
 *
 * Every case makes limiters of its own (`fixture.limiter`), so cases share no keys. Where
 * a case waits it calls `fixture.advance(ms)`: the fake clock moves at once; on Redis the
 * case sleeps until the server's `TIME` has moved that far. On memory the clock is exact,
 * so there the cases also check the exact numbers (`fixture.exact`).
 */
import assert from 'node:assert/strict';
import calculateSlot from 'cluster-key-slot';
import type { Larder } from '../../src/larder.js';
import type { RateLimiter, RateLimiterSpec, RateLimitResult } from '../../src/ratelimit/index.js';
import type { Algorithm } from '../../src/ratelimit/store.js';
import { defineSuite, it, type Target } from '../support/conformance.js';

/** A limiter spec without the name: the fixture names each limiter uniquely unless `name` is given. */
export type LimiterSpecForTests = Omit<RateLimiterSpec, 'name' | 'now'> & { name?: string };

/** What a target hands the suite. */
export interface RateLimitFixture {
  target: Target;
  larder: Larder;
  /** True on memory: the clock is the fixture's, so times are exact to the millisecond. */
  exact: boolean;
  /**
   * A limiter on this target's store: memory on the fixture's fake clock, or Redis with the
   * insurance limiter off (an unreachable server fails the case instead of being hidden).
   */
  limiter(spec: LimiterSpecForTests): RateLimiter;
  /** The clock the store decides on, epoch ms: the fake clock, or the server's `TIME`. */
  now(): Promise<number>;
  /** Lets at least `ms` pass on that clock (exactly `ms` on memory). */
  advance(ms: number): Promise<void>;
  /** `PTTL key` on Redis; `undefined` on memory, which has no keys to ask about. */
  pttl(key: string): Promise<number | undefined>;
  /** `EXISTS key` on Redis; `undefined` on memory. */
  exists(key: string): Promise<boolean | undefined>;
}

export const ALGORITHMS: readonly Algorithm[] = ['fixed-window', 'sliding-window', 'token-bucket'];

/** The case that needs Redis keys; memory lists it as excluded with this reason. */
export const SLOT_CASE = "a subject's keys are the documented names and share one Cluster slot";

const LONG = 60_000;

/** Calls `consume` `n` times in sequence and returns the results. */
async function consumeTimes(limiter: RateLimiter, key: string, n: number): Promise<RateLimitResult[]> {
  const out: RateLimitResult[] = [];
  for (let i = 0; i < n; i++) out.push(await limiter.consume(key));
  return out;
}

/** Consumes one at a time until refused (at most `max` calls); returns how many passed. */
async function allowedUntilRefused(limiter: RateLimiter, key: string, max: number): Promise<number> {
  for (let i = 0; i < max; i++) {
    if (!(await limiter.consume(key)).allowed) return i;
  }
  assert.fail(`${max} calls in a row were allowed`);
}

function assertRefused(result: RateLimitResult, label: string): void {
  assert.equal(result.allowed, false, `${label}: refused`);
  assert.equal(result.degraded, false, `${label}: answered by the store`);
  assert.ok(result.retryAfter > 0, `${label}: retryAfter > 0 (got ${result.retryAfter})`);
}

defineSuite<RateLimitFixture>('ratelimit', ({ driver }) => {
  for (const algorithm of ALGORITHMS) {
    const a = algorithm;

    it(`${a}: allows exactly limit calls, then refuses`, async () => {
      const limiter = driver().limiter({ limit: 5, window: LONG / 1000, algorithm });
      const results = await consumeTimes(limiter, 'subject', 8);
      assert.deepEqual(
        results.map((r) => r.allowed),
        [true, true, true, true, true, false, false, false],
      );
      for (const r of results) {
        assert.equal(r.limit, 5);
        assert.equal(r.degraded, false);
      }
      for (const r of results.slice(5)) assertRefused(r, 'over the limit');
      for (const r of results.slice(0, 5)) assert.equal(r.retryAfter, 0, 'an allowed call has no retryAfter');
    });

    it(`${a}: allows exactly limit calls when the limit does not divide the window`, async () => {
      // GCRA's emission interval is then a fraction (10 s / 6 = 1666.66… ms): bursts must
      // still fill the bucket exactly, on an epoch-sized clock.
      for (const [limit, window] of [
        [3, 10_000],
        [6, 10_000],
        [7, 9_000],
        [11, 60_000],
        [49, 10_000],
      ]) {
        const limiter = driver().limiter({ limit, window: window / 1000, algorithm });
        // At once, so that on Redis too they land in the same millisecond.
        const results = await Promise.all(
          Array.from({ length: limit + 1 }, () => limiter.consume('subject')),
        );
        const allowed = results.filter((r) => r.allowed);
        assert.equal(allowed.length, limit, `${limit} per ${window} ms: exactly ${limit} allowed`);
        assert.deepEqual(
          allowed.map((r) => r.remaining).sort((x, y) => y - x),
          Array.from({ length: limit }, (_, i) => limit - 1 - i),
          `${limit} per ${window} ms: remaining counts down to 0`,
        );
      }
    });

    it(`${a}: remaining counts down to zero`, async () => {
      const limiter = driver().limiter({ limit: 5, window: LONG / 1000, algorithm });
      const results = await consumeTimes(limiter, 'subject', 6);
      assert.deepEqual(
        results.map((r) => r.remaining),
        [4, 3, 2, 1, 0, 0],
      );
      assert.deepEqual(
        results.map((r) => r.rules[0].remaining),
        [4, 3, 2, 1, 0, 0],
      );
    });

    it(`${a}: a refused call consumes nothing`, async () => {
      const limiter = driver().limiter({ limit: 10, window: LONG / 1000, algorithm });
      assert.equal((await limiter.consume('subject', { cost: 8 })).remaining, 2);
      for (let i = 0; i < 5; i++) {
        const refused = await limiter.consume('subject', { cost: 3 });
        assertRefused(refused, `cost 3 with 2 left (#${i + 1})`);
        assert.equal(refused.remaining, 2, 'still 2 left after the refusal');
      }
      const last = await limiter.consume('subject', { cost: 2 });
      assert.equal(last.allowed, true, 'the 2 left are still there');
      assert.equal(last.remaining, 0);
      assertRefused(await limiter.consume('subject'), 'now the limit is spent');
    });

    it(`${a}: a cost above 1 counts as that many calls`, async () => {
      const limiter = driver().limiter({ limit: 10, window: LONG / 1000, algorithm });
      const results = [];
      for (const cost of [4, 4, 4, 2, 1]) results.push(await limiter.consume('subject', { cost }));
      assert.deepEqual(
        results.map((r) => [r.allowed, r.remaining]),
        [
          [true, 6],
          [true, 2],
          [false, 2],
          [true, 0],
          [false, 0],
        ],
      );
    });

    it(`${a}: retryAfter is positive when refused, and a call after waiting it passes`, async () => {
      const fx = driver();
      const window = 300;
      const limiter = fx.limiter({ limit: 3, window: window / 1000, algorithm });
      await consumeTimes(limiter, 'subject', 3);
      const refused = await limiter.consume('subject');
      assertRefused(refused, 'fourth call');
      assert.equal(refused.rules[0].retryAfter, refused.retryAfter);
      // At most: fixed window, the window; sliding, the rest of this window and a tenth of the
      // next; GCRA, one emission interval.
      const bound = { 'fixed-window': window, 'sliding-window': 2 * window, 'token-bucket': window / 3 }[a];
      assert.ok(refused.retryAfter * 1000 <= bound, `retryAfter ${refused.retryAfter} s ≤ ${bound} ms`);
      const wait = Math.round(refused.retryAfter * 1000);
      if (fx.exact) {
        // The answer is tight: a millisecond earlier the same call is still refused.
        await fx.advance(wait - 1);
        assert.equal((await limiter.peek('subject')).allowed, false, '1 ms before retryAfter: refused');
        await fx.advance(1);
      } else {
        await fx.advance(wait);
      }
      const after = await limiter.consume('subject');
      assert.equal(after.allowed, true, `allowed after waiting retryAfter (${refused.retryAfter} s)`);
    });

    it(`${a}: peek answers what consume would and consumes nothing`, async () => {
      const limiter = driver().limiter({ limit: 3, window: LONG / 1000, algorithm });
      for (let i = 0; i < 5; i++) {
        const peeked = await limiter.peek('subject');
        assert.equal(peeked.allowed, true);
        assert.equal(peeked.remaining, 2, 'what consume would leave');
      }
      const peekedCost = await limiter.peek('subject', { cost: 3 });
      assert.deepEqual([peekedCost.allowed, peekedCost.remaining], [true, 0]);
      assert.equal((await limiter.consume('subject')).remaining, 2, 'the peeks took nothing');
      await consumeTimes(limiter, 'subject', 2);
      const full = await limiter.peek('subject');
      assertRefused(full, 'peek at a spent limit');
      assert.equal(full.remaining, 0);
      assertRefused(await limiter.consume('subject'), 'consume at a spent limit');
    });

    it(`${a}: reset forgets the subject and only that subject`, async () => {
      const limiter = driver().limiter({ limit: 2, window: LONG / 1000, algorithm });
      await consumeTimes(limiter, 'forgotten', 2);
      await consumeTimes(limiter, 'kept', 2);
      assertRefused(await limiter.consume('forgotten'), 'before reset');
      await limiter.reset('forgotten');
      const again = await limiter.consume('forgotten');
      assert.deepEqual([again.allowed, again.remaining], [true, 1], 'a fresh allowance after reset');
      assertRefused(await limiter.consume('kept'), 'another subject keeps its count');
      await limiter.reset('never-seen'); // resetting an unknown subject is a no-op
    });

    it(`${a}: several rules are consumed together or not at all`, async () => {
      const fx = driver();
      // `short` stands for 3/s and `long` for 5/min, at a pace a test can wait for.
      const rules = [
        { name: 'short', limit: 3, window: 0.3, algorithm },
        { name: 'long', limit: 5, window: LONG / 1000, algorithm },
      ];
      const both = fx.limiter({ rules });
      // Limiters of the same name and one rule each read the same keys: the store's own state.
      const shortOnly = fx.limiter({ name: both.name, rules: [rules[0]] });
      const longOnly = fx.limiter({ name: both.name, rules: [rules[1]] });

      const first = await consumeTimes(both, 'subject', 3);
      assert.ok(first.every((r) => r.allowed));
      assert.deepEqual(
        first[2].rules.map((r) => [r.name, r.remaining]),
        [
          ['short', 0],
          ['long', 2],
        ],
      );
      const fourth = await both.consume('subject');
      assertRefused(fourth, 'the 4th call in one short window');
      assert.deepEqual(
        fourth.rules.map((r) => [r.name, r.allowed, r.remaining]),
        [
          ['short', false, 0],
          ['long', true, 2],
        ],
        'long would have allowed it and reports what it still has',
      );
      assert.equal(fourth.remaining, 0, 'top level: the most constrained rule');
      assert.equal((await longOnly.peek('subject')).remaining, 1, 'long did not consume the refused call');

      // Once short is back to full, long has exactly 2 left: the refused call took nothing.
      await fx.advance(Math.round(fourth.rules[0].resetAfter * 1000));
      const refill = await consumeTimes(both, 'subject', 3);
      assert.deepEqual(
        refill.map((r) => r.allowed),
        [true, true, false],
      );
      const blocked = refill[2];
      assertRefused(blocked, 'long is spent');
      assert.deepEqual(
        blocked.rules.map((r) => [r.name, r.allowed, r.remaining]),
        [
          ['short', true, 1],
          ['long', false, 0],
        ],
        'short would have allowed it and reports what it still has',
      );
      const lastShort = await shortOnly.consume('subject');
      assert.deepEqual(
        [lastShort.allowed, lastShort.remaining],
        [true, 0],
        'short had 1 left: the call long refused took nothing from it',
      );
    });

    it(`${a}: subjects with braces and very long subjects work and stay apart`, async () => {
      // Two rules, so on Cluster the call touches two keys: they must share a slot (else CROSSSLOT).
      const limiter = driver().limiter({
        rules: [
          { name: 'tight', limit: 2, window: LONG / 1000, algorithm },
          { name: 'loose', limit: 100, window: LONG / 1000, algorithm },
        ],
      });
      const long = 'x'.repeat(10_000);
      const subjects = [
        'a{b}c',
        'a{b}d',
        '{',
        '}',
        '{}',
        '}{',
        '{a}',
        'a',
        'x'.repeat(200),
        'x'.repeat(201),
        `${'x'.repeat(300)}a`,
        `${'x'.repeat(300)}b`,
        long,
        `${long}y`,
        '🔑 ключ\u0000\n',
      ];
      for (const subject of subjects) {
        const label = `subject ${JSON.stringify(subject.slice(0, 20))}… (${subject.length} chars)`;
        const results = await consumeTimes(limiter, subject, 3);
        assert.deepEqual(
          results.map((r) => r.allowed),
          [true, true, false],
          `${label}: a count of its own`,
        );
      }
      await limiter.reset('a{b}c');
      assert.equal((await limiter.consume('a{b}c')).allowed, true, 'reset reaches a braced subject');
      assertRefused(await limiter.consume('a{b}d'), 'and only that one');
    });
  }

  it('fixed-window: the first hit sets the TTL, later hits do not extend it, and the window then resets', async () => {
    const fx = driver();
    const window = 400;
    const limiter = fx.limiter({ limit: 5, window: window / 1000, algorithm: 'fixed-window' });
    const key = `rl:{subject}:${limiter.name}:${limiter.name}:f`;

    const first = await limiter.consume('subject');
    assert.equal(first.remaining, 4);
    const ttl1 = await fx.pttl(key);
    if (fx.exact) assert.equal(first.resetAfter, window / 1000, 'the window starts at the first hit');
    else {
      assert.ok(
        first.resetAfter <= window / 1000 && first.resetAfter > 0.2,
        `resetAfter ${first.resetAfter}`,
      );
      assert.ok(ttl1 !== undefined && ttl1 > 200 && ttl1 <= window, `PTTL after the first hit: ${ttl1}`);
    }

    await fx.advance(150);
    const second = await limiter.consume('subject');
    const ttl2 = await fx.pttl(key);
    assert.equal(second.remaining, 3);
    if (fx.exact) assert.equal(second.resetAfter, (window - 150) / 1000, 'not extended by the second hit');
    else {
      assert.ok(second.resetAfter <= (window - 150) / 1000, `not extended: resetAfter ${second.resetAfter}`);
      assert.ok(
        ttl2 !== undefined && ttl2 > 0 && ttl2 <= window - 150,
        `PTTL after the second hit: ${ttl2} (the TTL is always set and never extended)`,
      );
    }
    await consumeTimes(limiter, 'subject', 3);
    const refused = await limiter.consume('subject');
    assertRefused(refused, 'sixth call');
    assert.ok(refused.retryAfter <= second.resetAfter, 'retryAfter: the end of the same window');

    await fx.advance(Math.round(refused.retryAfter * 1000));
    const next = await limiter.consume('subject');
    assert.deepEqual([next.allowed, next.remaining], [true, 4], 'a new window with the full limit');
    if (fx.exact) assert.equal(next.resetAfter, window / 1000, 'and a TTL of a whole window');
    else {
      const ttl3 = await fx.pttl(key);
      assert.ok(ttl3 !== undefined && ttl3 > 200 && ttl3 <= window, `PTTL of the new window: ${ttl3}`);
    }
  });

  it('sliding-window: the previous window weighs in proportion to its overlap', async () => {
    const fx = driver();
    const window = 500;
    const limit = 10;
    // On Redis the calls take real time; a machine stalled past a window boundary gets another
    // go (at most 3) rather than a verdict on a run that did not test the case.
    for (let attempt = 1; ; attempt++) {
      const retry = !fx.exact && attempt < 3;
      const limiter = fx.limiter({ limit, window: window / 1000, algorithm: 'sliding-window' });
      // Windows are aligned on the epoch. Start early enough in one that 10 calls fit in it.
      let t = await fx.now();
      if (t % window > window - 150) await fx.advance(window - (t % window));
      t = await fx.now();
      const index = Math.floor(t / window);
      const hits = await consumeTimes(limiter, 'subject', limit + 1);
      const inWindow0 = Math.floor((await fx.now()) / window) === index;
      if (!inWindow0 && retry) continue;
      assert.ok(inWindow0, 'all of them inside window 0');
      assert.deepEqual(
        hits.map((r) => r.allowed),
        [...Array(limit).fill(true), false],
        '10 in window 0',
      );

      // Half-way into window 1 the previous 10 count as 5, so 5 more pass.
      await fx.advance((index + 1) * window + window / 2 + (fx.exact ? 0 : 3) - (await fx.now()));
      const before = (await fx.now()) - (index + 1) * window;
      const allowed = await allowedUntilRefused(limiter, 'subject', limit + 1);
      const after = (await fx.now()) - (index + 1) * window;
      if (fx.exact) {
        assert.equal(allowed, 5);
        return;
      }
      if (after >= window && retry) continue;
      assert.ok(after < window, `the calls ran inside window 1 (elapsed ${after} ms)`);
      // The weight fades while the calls run: floor(10 × elapsed / window) pass at a fixed time.
      const least = Math.floor((limit * before) / window);
      const most = Math.floor((limit * after) / window);
      assert.ok(
        allowed >= least && allowed <= most && allowed >= 5,
        `${allowed} allowed between ${before} and ${after} ms into window 1 (expected ${least}..${most})`,
      );
      return;
    }
  });

  it('token-bucket: after the burst, exactly one call passes per emission interval (window / limit)', async () => {
    const fx = driver();
    const limiter = fx.limiter({ limit: 4, window: 0.6, algorithm: 'token-bucket' });
    const interval = 150;
    const burst = await consumeTimes(limiter, 'subject', 5);
    assert.deepEqual(
      burst.map((r) => r.allowed),
      [true, true, true, true, false],
    );
    let refused = burst[4];
    for (let round = 1; round <= 2; round++) {
      assertRefused(refused, `round ${round}`);
      assert.ok(refused.retryAfter * 1000 <= interval, `retryAfter ≤ one interval: ${refused.retryAfter}`);
      if (fx.exact) assert.equal(refused.retryAfter, interval / 1000);
      await fx.advance(interval);
      const pair = await consumeTimes(limiter, 'subject', 2);
      assert.deepEqual(
        pair.map((r) => r.allowed),
        [true, false],
        `round ${round}: one interval later, exactly one call`,
      );
      refused = pair[1];
    }
  });

  it('token-bucket: burst allows that many at once, then limit per window', async () => {
    const fx = driver();
    const limiter = fx.limiter({ limit: 2, window: 0.6, algorithm: 'token-bucket', burst: 5 });
    const results = await consumeTimes(limiter, 'subject', 6);
    assert.deepEqual(
      results.map((r) => r.allowed),
      [true, true, true, true, true, false],
    );
    assert.deepEqual(
      results.map((r) => r.remaining),
      [4, 3, 2, 1, 0, 0],
    );
    assert.ok(results[5].retryAfter <= 0.3, `one interval of 300 ms at most: ${results[5].retryAfter}`);
    if (fx.exact) assert.equal(results[5].retryAfter, 0.3);
    await fx.advance(300);
    const pair = await consumeTimes(limiter, 'subject', 2);
    assert.deepEqual(
      pair.map((r) => r.allowed),
      [true, false],
      'then one per 300 ms',
    );
  });

  it('token-bucket: a refused call reports an untouched rule with burst above limit at its true remaining', async () => {
    const limiter = driver().limiter({
      rules: [
        { name: 'bursty', limit: 2, window: LONG / 1000, algorithm: 'token-bucket', burst: 6 },
        { name: 'strict', limit: 3, window: LONG / 1000, algorithm: 'token-bucket' },
      ],
    });
    await consumeTimes(limiter, 'subject', 3);
    const refused = await limiter.consume('subject');
    assertRefused(refused, 'strict is spent');
    assert.deepEqual(
      refused.rules.map((r) => [r.name, r.allowed, r.remaining]),
      [
        ['bursty', true, 3],
        ['strict', false, 0],
      ],
    );
  });

  it(SLOT_CASE, async () => {
    const fx = driver();
    const limiter = fx.limiter({
      rules: [
        { name: 'perSecond', limit: 10, window: 1 },
        { name: 'perMinute', limit: 100, window: 60, algorithm: 'sliding-window' },
        { name: 'perHour', limit: 1000, window: '1h', algorithm: 'token-bucket' },
      ],
    });
    await limiter.consume('user:42');
    // The documented layout: `<prefix>:{<subject>}:<limiter>:<rule>:<f|s|g>`.
    const codes = { 'fixed-window': 'f', 'sliding-window': 's', 'token-bucket': 'g' };
    const keys = limiter.rules.map(
      (rule) => `rl:{user:42}:${limiter.name}:${rule.name}:${codes[rule.algorithm]}`,
    );
    for (const key of keys) assert.equal(await fx.exists(key), true, `${key} exists`);
    const slots = new Set(keys.map((key) => calculateSlot(key)));
    assert.deepEqual([...slots], [calculateSlot('user:42')], 'one slot: the subject hash tag');
    await limiter.reset('user:42');
    for (const key of keys) assert.equal(await fx.exists(key), false, `${key} deleted by reset`);
  });
});
