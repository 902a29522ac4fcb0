/**
 * The `RateLimit` field written by hand (`stateFieldOf`, src/http/ratelimit.ts: the per-request
 * fast path) is exactly what structured-headers' serializeList writes for the same rules and
 * values — on random remaining / reset / retry values, fractional, zero, negative and past the
 * sf-integer range (where both refuse) — and rule names that need escaping take serializeList.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { serializeList } from 'structured-headers';
import { stateFieldOf } from '../../src/http/ratelimit.js';
import { createLarder } from '../../src/index.js';
import type { RateLimiter, RateLimitResult } from '../../src/ratelimit/index.js';

/** The field as serializeList writes it (the code before the fast path). */
const serialized = (result: RateLimitResult) =>
  serializeList(
    result.rules.map((rule) => [
      rule.name,
      new Map([
        ['r', Math.max(0, Math.floor(rule.remaining))],
        ['t', Math.max(0, Math.ceil(rule.allowed ? rule.resetAfter : rule.retryAfter))],
      ]),
    ]),
  );

/** What each writer does with `result`: its field, or that it threw. */
const outcome = (write: (result: RateLimitResult) => string, result: RateLimitResult) => {
  try {
    return { field: write(result) };
  } catch {
    return { threw: true };
  }
};

const value = fc.oneof(
  fc.integer({ min: -5, max: 5000 }),
  fc.double({ min: -10, max: 1e6, noNaN: true }),
  fc.constantFrom(999_999_999_999_999, 1_000_000_000_000_000, 2 ** 53),
);

/** A result for `limiter`'s rules with random figures. */
const resultFor = (limiter: RateLimiter) =>
  fc
    .array(fc.record({ allowed: fc.boolean(), remaining: value, resetAfter: value, retryAfter: value }), {
      minLength: limiter.rules.length,
      maxLength: limiter.rules.length,
    })
    .map(
      (figures): RateLimitResult => ({
        allowed: figures.every((f) => f.allowed),
        limit: 1,
        remaining: 0,
        resetAfter: 0,
        retryAfter: 0,
        degraded: false,
        rules: figures.map((f, i) => ({
          ...f,
          name: limiter.rules[i].name,
          limit: limiter.rules[i].limit,
          window: limiter.rules[i].window / 1000,
        })),
      }),
    );

describe('RateLimit field', () => {
  const larder = createLarder({ logger: false });
  after(() => larder.close());

  it('hand-written, it is what serializeList writes, for one rule and several', () => {
    const limiters = [
      larder.rateLimiter({ name: 'one', limit: 10, window: 60 }),
      larder.rateLimiter({
        name: 'several',
        rules: [
          { name: 'burst', limit: 3, window: 1.5 },
          { name: 'hourly.v2', limit: 5, window: '1h' },
          { name: 'gcra_1-x', limit: 4, window: 10, algorithm: 'token-bucket', burst: 2 },
        ],
      }),
    ];
    for (const limiter of limiters) {
      const field = stateFieldOf(limiter);
      fc.assert(
        fc.property(resultFor(limiter), (result) => {
          assert.deepEqual(outcome(field, result), outcome(serialized, result));
        }),
        { numRuns: 500 },
      );
    }
  });

  it('a rule name that is not a plain token is escaped as serializeList escapes it', () => {
    const limiter = larder.rateLimiter({ name: 'plain', limit: 10, window: 60 });
    // Config names are any string; a limiter built from them may carry one that needs escaping.
    const odd = {
      ...limiter,
      rules: [{ ...limiter.rules[0], name: 'say "hi" \\ there' }],
    } as unknown as RateLimiter;
    const result: RateLimitResult = {
      allowed: true,
      limit: 10,
      remaining: 9,
      resetAfter: 60,
      retryAfter: 0,
      degraded: false,
      rules: [
        {
          name: 'say "hi" \\ there',
          allowed: true,
          limit: 10,
          window: 60,
          remaining: 9,
          resetAfter: 60,
          retryAfter: 0,
        },
      ],
    };
    assert.equal(stateFieldOf(odd)(result), '"say \\"hi\\" \\\\ there";r=9;t=60');
  });
});
