import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DURATION_EXPECTED, parseDuration } from '../../src/config/duration.js';
import { ConfigError } from '../../src/errors.js';

function rejects(value: unknown, options: Parameters<typeof parseDuration>[2], ...includes: string[]) {
  assert.throws(
    () => parseDuration(value, 'caches.default.timeout', options),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
      assert.equal(error.path, 'caches.default.timeout');
      assert.equal(error.code, 'E_CONFIG');
      assert.ok(Object.is(error.value, value), 'error.value is the input');
      for (const text of [DURATION_EXPECTED, ...includes])
        assert.ok(error.message.includes(text), error.message);
      return true;
    },
  );
}

describe('parseDuration: accepted forms', () => {
  const cases: Array<[unknown, number]> = [
    [300, 300_000],
    [1, 1000],
    [1.5, 1500],
    [0.25, 250],
    ['300', 300_000],
    ['2.5', 2500],
    ['500ms', 500],
    ['1.5s', 1500],
    ['15s', 15_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    ['.5s', 500],
    ['+5s', 5000],
    ['0015m', 900_000],
    ['1.005s', 1005],
  ];
  for (const [input, ms] of cases) {
    it(`${JSON.stringify(input)} → ${ms} ms`, () => {
      assert.equal(parseDuration(input, 'x'), ms);
    });
  }

  it('a number is seconds, as Django, Redis EX and HTTP max-age', () => {
    assert.equal(parseDuration(60, 'x'), 60_000);
  });

  it('rounds to whole milliseconds and never turns a positive duration into zero', () => {
    assert.equal(parseDuration('1.4ms', 'x'), 1);
    assert.equal(parseDuration('1.6ms', 'x'), 2);
    assert.equal(parseDuration('0.4ms', 'x'), 1);
    assert.equal(parseDuration(0.000_1, 'x'), 1);
  });

  it('null only with allowNull (never expires)', () => {
    assert.equal(parseDuration(null, 'x', { allowNull: true }), null);
  });

  it('zero and negative only with allowZeroOrNegative (expire at once)', () => {
    const opts = { allowZeroOrNegative: true };
    assert.equal(parseDuration(0, 'x', opts), 0);
    assert.equal(parseDuration(-0, 'x', opts), 0);
    assert.ok(Object.is(parseDuration(-0.000_1, 'x', opts), 0), 'no -0');
    assert.equal(parseDuration(-1, 'x', opts), -1000);
    assert.equal(parseDuration('-5s', 'x', opts), -5000);
    assert.equal(parseDuration('0ms', 'x', opts), 0);
  });
});

describe('parseDuration: rejected forms', () => {
  const bad: unknown[] = [
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    '',
    ' ',
    '5 minutes',
    '10x',
    ' 15m',
    '15m ',
    '15 m',
    '15M',
    '15mss',
    '15min',
    '1e3',
    '0x10',
    '5.',
    '.',
    '-',
    '+',
    'ms',
    's',
    '1.2.3s',
    '--5s',
    {},
    [],
    [5],
    true,
    undefined,
    10n,
    () => 5,
    1e300,
    '1e300',
  ];
  for (const value of bad) {
    it(`rejects ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`, () => {
      rejects(value, {});
    });
  }

  it('rejects null unless allowed', () => {
    rejects(null, {});
  });

  it('rejects zero and negative by default, saying it must be greater than zero', () => {
    rejects(0, {}, 'greater than zero');
    rejects(-5, {}, 'greater than zero');
    rejects('-5s', {}, 'greater than zero');
    rejects('0ms', {}, 'greater than zero');
  });

  it('mentions the accepted extras in the message when they are allowed', () => {
    rejects('soon', { allowNull: true }, 'null');
    rejects('soon', { allowZeroOrNegative: true }, '0 or negative');
  });

  it('rejects durations past Number.MAX_SAFE_INTEGER milliseconds', () => {
    rejects(Number.MAX_SAFE_INTEGER, {});
    assert.equal(parseDuration(`${Math.floor(Number.MAX_SAFE_INTEGER / 1000)}s`, 'x'), 9_007_199_254_740_000);
  });
});
