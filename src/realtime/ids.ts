/**
 * Stream entry ids (`<ms>-<seq>`, as Redis Streams make them): parsing what a browser sends
 * back in `Last-Event-ID`, and comparing ids without allocating. Both parts are unsigned
 * 64-bit integers; they are kept as canonical decimal strings (no leading zeros), so two
 * ids compare by length first, then character by character.
 */

/** The id before every entry: "nothing seen yet". */
export const ZERO_ID = '0-0';

const U64_MAX = '18446744073709551615';
const ID = /^(\d{1,20})-(\d{1,20})$/;

/** Canonical form of one decimal part, or `undefined` past 2^64 - 1. */
function part(digits: string): string | undefined {
  const trimmed = digits.replace(/^0+(?=\d)/, '');
  if (trimmed.length === 20 && trimmed > U64_MAX) return undefined;
  return trimmed;
}

/**
 * The canonical id for `text` (`'00017-1'` → `'17-1'`), or `undefined` when it is not a
 * stream id (a bare `'17'` included: a browser only ever echoes ids larder sent).
 *
 * @example parseId('1700000000000-3') // '1700000000000-3'
 */
export function parseId(text: string): string | undefined {
  const match = ID.exec(text);
  if (!match) return undefined;
  const ms = part(match[1]!);
  const seq = part(match[2]!);
  return ms === undefined || seq === undefined ? undefined : `${ms}-${seq}`;
}

function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Orders two canonical ids: negative, zero or positive.
 *
 * @example compareIds('9-1', '10-0') < 0 // true
 */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  const byMs = compareDecimal(a.slice(0, da), b.slice(0, db));
  return byMs !== 0 ? byMs : compareDecimal(a.slice(da + 1), b.slice(db + 1));
}

/**
 * The next id after `last` for an append at `now` (epoch ms): Redis's own rule, so memory
 * and Redis ids look and order alike.
 */
export function nextId(last: string, now: number): string {
  const dash = last.indexOf('-');
  const lastMs = Number(last.slice(0, dash));
  if (now > lastMs) return `${now}-0`;
  return `${lastMs}-${Number(last.slice(dash + 1)) + 1}`;
}
