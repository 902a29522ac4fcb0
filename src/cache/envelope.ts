/**
 * @module larder/cache/envelope — the entry envelope: what a value carries besides itself
 * when it has tags, a grace period or a recorded load time.
 *
 * A plain `set` stores the codec's payload as it is (Django's shape; an integer stays a
 * Redis integer). Only a value that needs more gets wrapped:
 *
 * ```
 * [0x03][header: JSON text, one line][0x0A][the codec's payload …]
 * header  { "t": [[tagKey, token], …],   tags and the token each had when the value was written
 *           "g": ms,                     grace: the store keeps the value this long past its timeout
 *           "l": ms,                     the timeout the value was written with (for `age`)
 *           "d": ms }                    how long the loader took (probabilistic early refresh)
 * ```
 * 0x03 is the first marker the codec reserves (see `codec.ts`): no JSON text, integer or
 * other envelope starts with it, and JSON never holds a raw newline, so the first 0x0A ends
 * the header. The Redis backend's read script parses the same header to fetch the tags'
 * tokens in the same round trip as the value.
 */
import { SerializationError } from '../errors.js';
import type { Payload } from './backend.js';

export const ENVELOPE_MARKER = 0x03;

/** The envelope's header. Every field is optional. */
export interface EnvelopeHeader {
  /** Tags as `[tag store key, token at write time]`. */
  t?: Array<[string, string]>;
  /** Grace in ms: the value is stale once fewer than this many ms of its store life remain. */
  g?: number;
  /** The fresh lifetime (timeout) in ms the value was written with. */
  l?: number;
  /** The loader's duration in ms. */
  d?: number;
}

/** True when `payload` is an entry envelope. */
export function isEnvelope(payload: Payload): boolean {
  return typeof payload === 'string'
    ? payload.charCodeAt(0) === ENVELOPE_MARKER
    : payload[0] === ENVELOPE_MARKER;
}

/**
 * Wraps the codec's `inner` payload with `header`. Text stays text, bytes stay bytes.
 *
 * @example wrap('{"a":1}', { t: [['shop:0:larder.tag:products', 'k3Jd']] })
 */
export function wrap(inner: Payload, header: EnvelopeHeader): Payload {
  const head = `\u0003${JSON.stringify(header)}\n`;
  return typeof inner === 'string' ? head + inner : Buffer.concat([Buffer.from(head), inner]);
}

/**
 * The header and inner payload of an envelope. Throws `SerializationError` when the bytes
 * are not a well-formed envelope (the cache treats that as a miss).
 *
 * @example const { header, inner } = unwrap(payload);
 */
export function unwrap(payload: Payload): { header: EnvelopeHeader; inner: Payload } {
  let headerText: string;
  let inner: Payload;
  if (typeof payload === 'string') {
    const nl = payload.indexOf('\n');
    if (nl < 0) throw new SerializationError('A cache entry envelope has no end of header.');
    headerText = payload.slice(1, nl);
    inner = payload.slice(nl + 1);
  } else {
    const nl = payload.indexOf(0x0a);
    if (nl < 0) throw new SerializationError('A cache entry envelope has no end of header.');
    headerText = payload.toString('utf8', 1, nl);
    inner = payload.subarray(nl + 1);
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (error) {
    throw new SerializationError('A cache entry envelope has an unreadable header.', { cause: error });
  }
  if (!isHeader(header)) throw new SerializationError('A cache entry envelope has a malformed header.');
  return { header, inner };
}

/**
 * The grace period (ms) an entry envelope carries, 0 for a plain payload or an envelope
 * without one (or one that cannot be read). `touch` and `ttl` need it: the store keeps such
 * a value `timeout + grace`, and it is fresh only for the first `timeout`.
 *
 * @example graceOf(wrap('"v"', { g: 3_600_000 })) // 3600000
 */
export function graceOf(payload: Payload): number {
  if (!isEnvelope(payload)) return 0;
  try {
    return unwrap(payload).header.g ?? 0;
  } catch {
    return 0;
  }
}

function isHeader(value: unknown): value is EnvelopeHeader {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const h = value as Record<string, unknown>;
  for (const field of ['g', 'l', 'd'] as const) {
    if (
      h[field] !== undefined &&
      !(typeof h[field] === 'number' && Number.isFinite(h[field]) && h[field] >= 0)
    )
      return false;
  }
  if (h.t === undefined) return true;
  return (
    Array.isArray(h.t) &&
    h.t.every(
      (pair) =>
        Array.isArray(pair) &&
        pair.length === 2 &&
        typeof pair[0] === 'string' &&
        typeof pair[1] === 'string',
    )
  );
}
