/**
 * @module larder/cache/serializers/json — the default serializer: plain JSON text, readable
 * in `redis-cli`, with tags (see `tags.ts`) for `Date`, `BigInt`, `Map`, `Set`, `Uint8Array`,
 * `Buffer`, `NaN`, `±Infinity` and `-0`.
 *
 * Fast path: a read-only walk checks that a value is plain JSON; if so it goes straight to
 * `JSON.stringify` (no replacer). Decoding only walks the parsed tree when the text contains
 * the escaped tag key `\u0000` — plain JSON pays for one substring scan, nothing more.
 *
 * Behaviour at the edges (documented, tested):
 * - `undefined` in an object is dropped and in an array, `Map` or `Set` becomes `null`, as
 *   `JSON.stringify` does; a top-level `undefined` is refused by the codec.
 * - Functions and symbols anywhere are refused (`SerializationError` naming the path) rather
 *   than silently dropped; so are promises, errors, regexps, weak collections and typed
 *   arrays other than `Uint8Array`/`Buffer`. Symbol-keyed properties are ignored.
 * - Class instances are stored as their `toJSON()` result or own enumerable properties and
 *   come back as plain objects; null-prototype objects come back with `Object.prototype`.
 * - An own `__proto__` key (as `JSON.parse` makes) survives as an own data property; no
 *   prototype is ever changed by decoding.
 * - Strings round-trip exactly, lone surrogates included (JSON escapes them).
 */
import { SerializationError } from '../../errors.js';
import { revive } from './revive.js';
import { asSerializationError, isWireReady, JSON_TARGET, toTagged } from './tags.js';

/** What the escaped tag key looks like inside JSON text. */
const ESCAPED_TAG_KEY = '\\u0000';

/**
 * Serializes any cacheable value to JSON text. Throws `SerializationError` for values that
 * cannot be stored faithfully (see the module notes) and for circular structures.
 *
 * @example
 * stringifyValue({ at: new Date(0), ids: new Set([1, 2]) });
 * // '{"at":{"\u0000":"Date","v":"1970-01-01T00:00:00.000Z"},"ids":{"\u0000":"Set","v":[1,2]}}'
 */
export function stringifyValue(value: unknown): string {
  try {
    if (isWireReady(value, JSON_TARGET)) {
      const text = JSON.stringify(value);
      if (text !== undefined) return text;
    }
    const text = JSON.stringify(toTagged(value, JSON_TARGET).value);
    if (text === undefined) throw new SerializationError('Cannot cache undefined: store null instead.');
    return text;
  } catch (error) {
    throw asSerializationError(error, 'encode');
  }
}

/**
 * Parses JSON text written by {@link stringifyValue} (or any JSON). Throws
 * `SerializationError` when the text is not JSON or holds a malformed tag.
 *
 * @example
 * parseValue('{"n":{"\\u0000":"BigInt","v":"12"}}'); // { n: 12n }
 */
export function parseValue(text: string): unknown {
  let tree: unknown;
  try {
    tree = JSON.parse(text);
  } catch (error) {
    throw new SerializationError(
      `Stored value is not valid JSON (${(error as Error).message}); it is treated as unreadable (a cache miss).`,
      { cause: error },
    );
  }
  if (!text.includes(ESCAPED_TAG_KEY)) return tree;
  try {
    return revive(tree);
  } catch (error) {
    throw asSerializationError(error, 'decode');
  }
}
