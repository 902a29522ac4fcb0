/**
 * @module larder/config/duration — one place that turns a user's duration into milliseconds.
 *
 * Hand-written scanner rather than a regex or a library (ms, parse-duration): it runs on
 * the hot path for per-call timeouts, must reject what those accept (`'5 minutes'`,
 * `'1e3'`, `' 15m'`), and must read a bare number as seconds, as Django does.
 */

import { ConfigError } from '../errors.js';

/**
 * What `parseDuration` accepts, in words; reused in every duration error.
 *
 * @example
 * throw new ConfigError('rateLimits.api.window', value, DURATION_EXPECTED);
 */
export const DURATION_EXPECTED = "a number of seconds or a string like '500ms', '15s', '15m', '2h', '7d'";

/**
 * Options of {@link parseDuration}.
 *
 * @example
 * parseDuration(config.timeout, 'caches.default.timeout', { allowNull: true, allowZeroOrNegative: true });
 */
export interface ParseDurationOptions {
  /** Accept `null` (returned as `null`, meaning "never expires"). @default false */
  allowNull?: boolean;
  /** Accept `0` and negative durations (Django: "expire at once / do not store"). @default false */
  allowZeroOrNegative?: boolean;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const NO_OPTIONS: ParseDurationOptions = {};

/**
 * Converts a duration to whole **milliseconds**.
 *
 * - a number is seconds (fractions allowed: `1.5` → 1500);
 * - a string is a decimal number followed by `ms`, `s`, `m`, `h` or `d`, or no unit
 *   (seconds): `'500ms'`, `'1.5s'`, `'15m'`, `'2h'`, `'7d'`, `'300'`. No spaces, no
 *   exponents, no other units.
 *
 * The result is rounded to the nearest millisecond; a positive duration below half a
 * millisecond becomes 1 ms so it never turns into "expire at once". Results above
 * `Number.MAX_SAFE_INTEGER` ms (~285,000 years) are rejected.
 *
 * @param value what the user wrote
 * @param path config path for the error (`caches.default.timeout`)
 * @throws {ConfigError} for anything else, naming `path`, the value and what is accepted
 * @example
 * parseDuration(300, 'caches.default.timeout');          // 300000
 * parseDuration('15m', 'sessions.maxAge');               // 900000
 * parseDuration(null, 'timeout', { allowNull: true });   // null (never expires)
 * parseDuration(0, 'timeout', { allowZeroOrNegative: true }); // 0 (do not store)
 */
export function parseDuration(
  value: unknown,
  path: string,
  options: ParseDurationOptions = NO_OPTIONS,
): number | null {
  let ms: number;
  if (typeof value === 'number') {
    ms = value * SECOND;
  } else if (typeof value === 'string') {
    ms = parseDurationString(value);
  } else if (value === null && options.allowNull) {
    return null;
  } else {
    throw durationError(value, path, options);
  }
  // NaN and ±Infinity fail both comparisons.
  if (!(ms <= Number.MAX_SAFE_INTEGER && ms >= -Number.MAX_SAFE_INTEGER))
    throw durationError(value, path, options);
  if (ms > 0) return ms < 1 ? 1 : Math.round(ms);
  if (!options.allowZeroOrNegative) throw durationError(value, path, options);
  // Math.round(-0.4) is -0; keep results plain.
  return Math.round(ms) || 0;
}

/** Milliseconds for a duration string, or NaN when it is not one. */
function parseDurationString(text: string): number {
  const length = text.length;
  let i = 0;
  let c = text.charCodeAt(0);
  if (c === 45 /* - */ || c === 43 /* + */) i = 1;
  let digits = 0;
  let dot = false;
  for (; i < length; i++) {
    c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits++;
    } else if (c === 46 /* . */ && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  // '.', '5.' and '' are not numbers; '.5' and '5.25' are.
  if (digits === 0 || text.charCodeAt(i - 1) === 46) return Number.NaN;
  const amount = Number(text.slice(0, i));
  switch (length - i) {
    case 0:
      return amount * SECOND;
    case 1:
      switch (text.charCodeAt(i)) {
        case 115 /* s */:
          return amount * SECOND;
        case 109 /* m */:
          return amount * MINUTE;
        case 104 /* h */:
          return amount * HOUR;
        case 100 /* d */:
          return amount * DAY;
      }
      return Number.NaN;
    case 2:
      return text.charCodeAt(i) === 109 && text.charCodeAt(i + 1) === 115 /* ms */ ? amount : Number.NaN;
    default:
      return Number.NaN;
  }
}

function durationError(value: unknown, path: string, options: ParseDurationOptions): ConfigError {
  let expected = DURATION_EXPECTED;
  const isNumberLike = typeof value === 'number' || typeof value === 'string';
  if (!options.allowZeroOrNegative && isNumberLike && parseLooseSign(value) <= 0) {
    expected = `a duration greater than zero (${DURATION_EXPECTED})`;
  } else if (options.allowZeroOrNegative) {
    expected += ' (0 or negative: expire at once)';
  }
  if (options.allowNull) expected += ', or null for "never expires"';
  return new ConfigError(path, value, expected);
}

/** Sign of a numeric-looking value, for a more precise message only. */
function parseLooseSign(value: number | string): number {
  if (typeof value === 'number') return Number.isNaN(value) ? 1 : value;
  const ms = parseDurationString(value);
  return Number.isNaN(ms) ? 1 : ms;
}
