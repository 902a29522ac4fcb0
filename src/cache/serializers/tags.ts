/**
 * @module larder/cache/serializers/tags — the tagged form both serializers share for the
 * values their wire format cannot say by itself (a `Date` in JSON, a `Map` in msgpack, …).
 *
 * Hand-written rather than superjson/devalue: those emit a side-car or a JS expression,
 * while we need plain JSON text on the wire (readable in `redis-cli`, integers usable by
 * INCRBY) and a decoder that never evaluates code.
 *
 * A tag is an object whose only marker is the reserved key `"\u0000"` (JSON text spells
 * it `"\u0000"`, escaped, so it is easy to scan for):
 *
 * | value | tag |
 * | --- | --- |
 * | `Date` | `{"\u0000":"Date","v":"2024-05-01T12:00:00.000Z"}` (`v: null` for an invalid date) |
 * | `bigint` | `{"\u0000":"BigInt","v":"123456789012345678901234567890"}` |
 * | `NaN`, `±Infinity`, `-0` | `{"\u0000":"Number","v":"NaN"}` (`"Infinity"`, `"-Infinity"`, `"-0"`) |
 * | `Map` | `{"\u0000":"Map","v":[[key, value], …]}` |
 * | `Set` | `{"\u0000":"Set","v":[value, …]}` |
 * | `Buffer` / `Uint8Array` | `{"\u0000":"Buffer","v":"<base64>"}` / `{"\u0000":"Uint8Array","v":"<base64>"}` |
 * | an object with an own `"\u0000"` key (escape) | `{"\u0000":"Object","v":[[key, value], …]}` |
 *
 * Which of these a serializer needs depends on its format ({@link TagTarget}): msgpack says
 * dates, bigints, sets, bytes and non-finite numbers natively, so only `Map`, `-0` and the
 * escapes are tagged there (plus objects with an own `__proto__` key, which msgpackr would
 * rename to `__proto_`). This file writes tags; `revive.ts` reads them back.
 */
import { SerializationError } from '../../errors.js';

/**
 * The reserved key that marks a tag object.
 *
 * @example
 * Object.hasOwn({ [TAG_KEY]: 'Date', v: '1970-01-01T00:00:00.000Z' }, TAG_KEY); // true: a tag
 */
export const TAG_KEY = '\u0000';

/**
 * What a wire format can carry without a tag.
 *
 * @example
 * toTagged(new Date(0), MSGPACK_TARGET).value; // the Date itself: msgpack says dates natively
 */
export interface TagTarget {
  /** Dates, bigints, Sets, Buffers/Uint8Arrays and NaN/±Infinity are native (msgpack). */
  readonly richTypes: boolean;
}

/** JSON: everything beyond plain JSON data is tagged. @example isWireReady(1n, JSON_TARGET); // false */
export const JSON_TARGET: TagTarget = { richTypes: false };
/** msgpack (moreTypes): only Map, -0 and the escapes are tagged. @example isWireReady(1n, MSGPACK_TARGET); // true */
export const MSGPACK_TARGET: TagTarget = { richTypes: true };

/** Past this depth the fast check gives up and the tagging walk (which detects cycles) runs. */
const FAST_DEPTH_LIMIT = 128;

const objectProto = Object.prototype;

/**
 * True when `value` can go to the wire format as it is: no value that needs a tag, no
 * reserved key, no cycle, nothing to reject. Allocation-free; it only reads. A `false`
 * is not an error: the caller runs {@link toTagged}, which decides precisely.
 *
 * @example
 * isWireReady({ a: [1, 'x'] }, JSON_TARGET); // true: JSON.stringify can take it as it is
 * isWireReady({ at: new Date() }, JSON_TARGET); // false: the date needs a tag
 */
export function isWireReady(value: unknown, target: TagTarget, depth = 0): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return true;
    case 'number':
      // `v - v === 0` is false for NaN and ±Infinity; `1 / v > 0` is false for -0.
      return value === 0 ? 1 / value > 0 : target.richTypes || value - value === 0;
    case 'bigint':
      return target.richTypes;
    case 'object': {
      if (value === null) return true;
      if (depth > FAST_DEPTH_LIMIT) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!isWireReady(value[i], target, depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto === objectProto || proto === null) {
        // for…in visits inherited enumerable keys too; a false positive only costs the slow path.
        for (const key in value) {
          if (key === TAG_KEY || (target.richTypes && key === '__proto__')) return false;
          if (!isWireReady((value as Record<string, unknown>)[key], target, depth + 1)) return false;
        }
        return true;
      }
      if (!target.richTypes) return false;
      if (proto === Date.prototype || proto === Uint8Array.prototype || proto === Buffer.prototype)
        return true;
      if (proto === Set.prototype) {
        for (const item of value as Set<unknown>) {
          if (!isWireReady(item, target, depth + 1)) return false;
        }
        return true;
      }
      return false;
    }
    default:
      return false;
  }
}

/** Where a value sits, for error messages: `value.user.tags[2]`. */
type Path = Array<string | number>;

interface TagWalk {
  readonly target: TagTarget;
  /** Objects on the current branch, to tell a cycle from a shared reference. */
  readonly ancestors: Set<object>;
  readonly path: Path;
  /** Set when at least one tag was written (msgpack records it in its envelope). */
  tagged: boolean;
}

/**
 * Returns a copy of `value` that the wire format can carry: tags for what it cannot say,
 * escapes for objects with the reserved key, class instances as their `toJSON()` or own
 * enumerable properties (as `JSON.stringify`). Throws `SerializationError` for cycles and
 * for values that cannot be cached faithfully (functions, symbols, promises, …).
 *
 * @example
 * toTagged({ n: 5n }, JSON_TARGET); // { value: { n: { '\u0000': 'BigInt', v: '5' } }, tagged: true }
 */
export function toTagged(value: unknown, target: TagTarget): { value: unknown; tagged: boolean } {
  const walk: TagWalk = { target, ancestors: new Set(), path: [], tagged: false };
  return { value: tag(value, walk, ''), tagged: walk.tagged };
}

function tagged(walk: TagWalk, name: string, v: unknown): Record<string, unknown> {
  walk.tagged = true;
  return { [TAG_KEY]: name, v };
}

function tag(value: unknown, walk: TagWalk, key: string): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return value;
    case 'number':
      if (value === 0) return 1 / value > 0 ? 0 : tagged(walk, 'Number', '-0');
      if (walk.target.richTypes || value - value === 0) return value;
      return tagged(walk, 'Number', String(value));
    case 'bigint':
      return walk.target.richTypes ? value : tagged(walk, 'BigInt', value.toString());
    case 'function':
      throw unsupported(walk, 'a function', 'remove it, or store the data it would produce');
    case 'symbol':
      throw unsupported(walk, 'a symbol', 'use a string instead');
    default:
      break;
  }
  if (value === null) return null;
  const object = value as object;
  if (walk.ancestors.has(object)) {
    throw new SerializationError(
      `Cannot cache a circular structure: ${pathText(walk.path)} refers back to one of its parents. ` +
        'Store a tree (for example ids instead of back-references).',
    );
  }
  walk.ancestors.add(object);
  try {
    return tagObject(object, walk, key);
  } finally {
    walk.ancestors.delete(object);
  }
}

function tagObject(object: object, walk: TagWalk, key: string): unknown {
  const rich = walk.target.richTypes;
  if (Array.isArray(object)) {
    const out = new Array<unknown>(object.length);
    for (let i = 0; i < object.length; i++) out[i] = child(object[i], walk, i);
    return out;
  }
  const proto = Object.getPrototypeOf(object);
  if (
    (proto === objectProto || proto === null) &&
    typeof (object as { toJSON?: unknown }).toJSON !== 'function'
  ) {
    return tagPlainObject(object as Record<string, unknown>, walk); // the common case: no type checks
  }
  if (object instanceof Date) {
    if (rich) return proto === Date.prototype ? object : new Date(object.getTime());
    const time = object.getTime();
    return tagged(walk, 'Date', Number.isNaN(time) ? null : object.toISOString());
  }
  if (object instanceof Map) {
    const entries: unknown[] = [];
    let i = 0;
    for (const [k, v] of object) {
      entries.push([child(k, walk, `<Map key ${i}>`), child(v, walk, `<Map value ${i}>`)]);
      i++;
    }
    return tagged(walk, 'Map', entries);
  }
  if (object instanceof Set) {
    const items: unknown[] = [];
    let i = 0;
    for (const item of object) items.push(child(item, walk, `<Set item ${i++}>`));
    return rich ? new Set(items) : tagged(walk, 'Set', items);
  }
  if (object instanceof Uint8Array) {
    // Buffer is a Uint8Array subclass; it is kept apart so it decodes as a Buffer again.
    const isBuffer = Buffer.isBuffer(object);
    if (rich) {
      if (proto === Buffer.prototype || proto === Uint8Array.prototype) return object;
      return isBuffer ? Buffer.from(object) : new Uint8Array(object);
    }
    const base64 = Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64');
    return tagged(walk, isBuffer ? 'Buffer' : 'Uint8Array', base64);
  }
  const refusal = refuse(object);
  if (refusal) throw unsupported(walk, refusal[0], refusal[1]);
  if (object instanceof Number || object instanceof String || object instanceof Boolean) {
    return tag(object.valueOf(), walk, key); // as JSON.stringify unboxes them
  }
  const toJSON = (object as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return child(toJSON.call(object, key), walk, key);
  return tagPlainObject(object as Record<string, unknown>, walk);
}

function tagPlainObject(object: Record<string, unknown>, walk: TagWalk): unknown {
  const keys = Object.keys(object);
  const mustEscape = keys.includes(TAG_KEY) || (walk.target.richTypes && keys.includes('__proto__'));
  if (mustEscape) {
    const entries = keys.map((k) => [k, child(object[k], walk, k)]);
    return tagged(walk, 'Object', entries);
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = child(object[k], walk, k);
    // An own "__proto__" key (JSON.parse makes them) must stay a data property, never a prototype set.
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

function child(value: unknown, walk: TagWalk, key: string | number): unknown {
  walk.path.push(key);
  const out = tag(value, walk, typeof key === 'number' ? String(key) : key);
  walk.path.pop();
  return out;
}

/** Types whose data `JSON.stringify` would silently lose: refuse them, saying what to do. */
function refuse(object: object): [string, string] | undefined {
  if (object instanceof Promise) return ['a Promise', 'await it and cache the result'];
  if (object instanceof WeakMap || object instanceof WeakSet || object instanceof WeakRef) {
    return ['a WeakMap, WeakSet or WeakRef', 'copy the data you need into a Map or an array'];
  }
  if (object instanceof Error) return ['an Error', 'cache a plain object such as { name, message }'];
  if (object instanceof RegExp) return ['a RegExp', 'cache its source and flags as strings'];
  if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer || object instanceof SharedArrayBuffer) {
    return [
      `a ${object.constructor.name}`,
      'only Uint8Array and Buffer are supported; wrap the bytes as new Uint8Array(x.buffer, x.byteOffset, x.byteLength)',
    ];
  }
  return undefined;
}

function unsupported(walk: TagWalk, what: string, todo: string): SerializationError {
  return new SerializationError(`Cannot cache ${what} at ${pathText(walk.path)}: ${todo}.`);
}

function pathText(path: Path): string {
  if (path.length === 0) return 'the top level';
  let out = 'value';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (part.startsWith('<')) out += ` ${part}`;
    else out += /^[A-Za-z_$][\w$]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`;
  }
  return out;
}

/**
 * Wraps what a getter, a `toJSON` or the engine (stack overflow) threw; a
 * `SerializationError` passes through unchanged.
 *
 * @example
 * try { JSON.stringify(value) } catch (error) { throw asSerializationError(error, 'encode') }
 */
export function asSerializationError(error: unknown, phase: 'encode' | 'decode'): SerializationError {
  if (error instanceof SerializationError) return error;
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return new SerializationError(
      `Cannot ${phase} the value: it is nested too deeply. Flatten it, or store it in parts.`,
      { cause: error },
    );
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new SerializationError(`Cannot ${phase} the value: ${detail}`, { cause: error });
}
