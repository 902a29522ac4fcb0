/**
 * @module larder/cache/serializers/revive — the decoding half of the tagged form (see
 * `tags.ts`): rebuilds `Date`, `BigInt`, `Map`, `Set`, bytes, special numbers and escaped
 * objects inside a freshly decoded tree, without ever assigning through `__proto__`.
 */
import { SerializationError } from '../../errors.js';
import { TAG_KEY } from './tags.js';

const objectProto = Object.prototype;

/**
 * Rebuilds tagged values inside a freshly decoded tree, in place where it can (the tree is
 * the decoder's own). Throws `SerializationError` on a malformed or unknown tag.
 *
 * @example
 * revive(JSON.parse('[{"\\u0000":"Set","v":[1]}]')); // [ Set(1) { 1 } ]
 */
export function revive(node: unknown): unknown {
  if (typeof node !== 'object' || node === null) return node;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const item = node[i];
      if (typeof item === 'object' && item !== null) {
        const revived = revive(item);
        if (revived !== item) node[i] = revived;
      }
    }
    return node;
  }
  const proto = Object.getPrototypeOf(node);
  if (proto === objectProto) {
    const record = node as Record<string, unknown>;
    if (Object.hasOwn(record, TAG_KEY)) return fromTag(record);
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (typeof item === 'object' && item !== null) {
        const revived = revive(item);
        // `key` is an own data property, so this assignment writes it (never the
        // Object.prototype `__proto__` setter, even for a key named "__proto__").
        if (revived !== item) record[key] = revived;
      }
    }
    return record;
  }
  if (proto === Set.prototype) {
    const set = node as Set<unknown>;
    let changed = false;
    const items: unknown[] = [];
    for (const item of set) {
      const revived = revive(item);
      if (revived !== item) changed = true;
      items.push(revived);
    }
    return changed ? new Set(items) : set;
  }
  return node; // Date, Buffer, Uint8Array: leaves
}

const INTEGER_TEXT = /^-?\d+$/;

function fromTag(record: Record<string, unknown>): unknown {
  const name = record[TAG_KEY];
  const v = record.v;
  switch (name) {
    case 'Date': {
      if (v === null) return new Date(Number.NaN);
      const date = typeof v === 'string' ? new Date(v) : undefined;
      if (date && !Number.isNaN(date.getTime())) return date;
      break;
    }
    case 'BigInt':
      if (typeof v === 'string' && INTEGER_TEXT.test(v)) return BigInt(v);
      break;
    case 'Number':
      if (v === 'NaN') return Number.NaN;
      if (v === 'Infinity') return Number.POSITIVE_INFINITY;
      if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
      if (v === '-0') return -0;
      break;
    case 'Map':
      if (Array.isArray(v) && v.every(isPair)) return new Map(v.map(([k, x]) => [revive(k), revive(x)]));
      break;
    case 'Set':
      if (Array.isArray(v)) return new Set(v.map(revive));
      break;
    case 'Object':
      // fromEntries defines properties (no setters run), so a "__proto__" key stays an own key.
      if (Array.isArray(v) && v.every((e) => isPair(e) && typeof e[0] === 'string')) {
        return Object.fromEntries(v.map(([k, x]) => [k, revive(x)]));
      }
      break;
    case 'Buffer':
      if (typeof v === 'string') return Buffer.from(v, 'base64');
      break;
    case 'Uint8Array':
      if (typeof v === 'string') return new Uint8Array(Buffer.from(v, 'base64'));
      break;
    default:
      throw new SerializationError(
        `Stored value has an unknown larder tag ${JSON.stringify(String(name))}; it was probably written by a ` +
          'newer larder version. It is treated as unreadable (a cache miss).',
      );
  }
  throw new SerializationError(
    `Stored value has a malformed ${name} tag; it is treated as unreadable (a cache miss).`,
  );
}

function isPair(entry: unknown): entry is [unknown, unknown] {
  return Array.isArray(entry) && entry.length === 2;
}
