/**
 * Property tests of the cache facade on a real store (memory, Redis standalone): for any key
 * and any value, `set` then `get` round-trips deep-equal, or `set` refuses with the right error
 * (`CacheKeyError` for the key, `SerializationError` for the value) and writes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Cache } from '../../src/cache/cache.js';
import { CacheKeyError, SerializationError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, type Target, uniquePrefix } from '../support/conformance.js';

const NUM_RUNS = 600;
const MAX_KEY_BYTES = 250;
// DESIGN §4.1 "control characters": C0 and DEL must be refused. C1 (U+0080–U+009F) may go
// either way, so the properties accept both outcomes for it.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const MUST_REFUSE_CHAR = /[\u0000-\u001f\u007f]/;
const MAY_REFUSE_CHAR = /[\u0080-\u009f]/;

type Verdict = 'accept' | 'refuse' | 'either';

/** What the cache must do with `key` when the made key is `${keyPrefix}:1:${key}` (DESIGN §4.1). */
function verdictFor(keyPrefix: string, key: string): Verdict {
  if (MUST_REFUSE_CHAR.test(key)) return 'refuse';
  // A lone surrogate has no UTF-8 form: two such keys would collide on the wire.
  if (!key.isWellFormed()) return 'refuse';
  if (Buffer.byteLength(`${keyPrefix}:1:${key}`) > MAX_KEY_BYTES) return 'refuse';
  return MAY_REFUSE_CHAR.test(key) ? 'either' : 'accept';
}

/** Keys of every shape that matters: empty, huge, control characters, globs, astral planes, lone surrogates. */
function keyArbitrary(keyPrefix: string): fc.Arbitrary<string> {
  const room = MAX_KEY_BYTES - Buffer.byteLength(`${keyPrefix}:1:`);
  return fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({ unit: 'binary-ascii', maxLength: 300 }),
    fc.string({ unit: 'grapheme', maxLength: 120 }),
    // Around the byte limit, in 1-, 2-, 3- and 4-byte characters.
    fc
      .tuple(fc.constantFrom('k', 'é', '清', '𝄞'), fc.integer({ min: -6, max: 6 }))
      .map(([char, delta]) => char.repeat(Math.max(0, Math.floor(room / Buffer.byteLength(char)) + delta))),
    fc.string({
      unit: fc.constantFrom('a', '*', '?', '[', ']', '\\', ':', '{', '}', ' ', '\ud800', '\udc00'),
    }),
    fc.constantFrom('', ' ', '*', '__proto__', 'constructor', '\u0000', '\u007f', '\u0085', 'a\nb'),
  );
}

/** A marker for values that must be refused. */
const POISONS = [() => 1, Symbol('s'), class Poison {}] as const;

/**
 * JSON-like values plus every type the cache promises to round-trip, and now and then a
 * function, symbol or class somewhere inside (which must be refused). No `undefined`, no
 * invalid dates and no null-prototype objects (documented not to round-trip as-is).
 */
const { value: valueArbitrary } = fc.letrec<{
  value: unknown;
  leaf: unknown;
  array: unknown[];
  object: Record<string, unknown>;
  map: Map<unknown, unknown>;
  set: Set<unknown>;
}>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    tie('array'),
    tie('object'),
    tie('map'),
    tie('set'),
  ),
  leaf: fc.oneof(
    { arbitrary: fc.constant(null), weight: 2 },
    { arbitrary: fc.boolean(), weight: 2 },
    { arbitrary: fc.integer(), weight: 4 },
    { arbitrary: fc.maxSafeInteger(), weight: 2 },
    { arbitrary: fc.double(), weight: 3 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 4 },
    { arbitrary: fc.bigInt({ min: -(2n ** 130n), max: 2n ** 130n }), weight: 2 },
    { arbitrary: fc.date({ noInvalidDate: true }), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 24 }), weight: 2 },
    { arbitrary: fc.constantFrom(...POISONS), weight: 1 },
  ),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), tie('value'), {
    maxKeys: 5,
    noNullPrototype: true,
  }),
  map: fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
  set: fc.array(tie('value'), { maxLength: 4 }).map((items) => new Set(items)),
}));

/** True when a function, symbol or class sits anywhere in `value`. */
function poisoned(value: unknown): boolean {
  if (typeof value === 'function' || typeof value === 'symbol') return true;
  if (value instanceof Map) return [...value].some(([k, v]) => poisoned(k) || poisoned(v));
  if (value instanceof Set || Array.isArray(value)) return [...value].some(poisoned);
  if (
    value !== null &&
    typeof value === 'object' &&
    !(value instanceof Date) &&
    !(value instanceof Uint8Array)
  ) {
    return Object.values(value).some(poisoned);
  }
  return false;
}

async function ignoringKeyErrors(op: () => Promise<unknown>): Promise<void> {
  try {
    await op();
  } catch (error) {
    if (!(error instanceof CacheKeyError)) throw error;
  }
}

const TARGETS: Target[] = ['memory', 'standalone'];

for (const target of TARGETS) {
  describe(`cache fuzz [${target}]`, () => {
    const keyPrefix = uniquePrefix('fuzz');
    let larder: Larder;
    let cache: Cache;

    before(() => {
      const url = redisUrlFor(target);
      larder = createLarder(
        {
          redis: url ?? false,
          caches: {
            default:
              target === 'memory'
                ? { backend: 'memory', keyPrefix, maxEntries: 10_000 }
                : { backend: 'redis', keyPrefix },
          },
          logger: false,
        },
        {},
      );
      cache = larder.cache('default');
    });

    after(async () => {
      await cache.clear();
      await larder.close();
    });

    it('set then get round-trips, or set refuses with CacheKeyError / SerializationError and writes nothing', async () => {
      const sentinel = 'fuzz-sentinel';
      await cache.set(sentinel, { untouched: true });
      const counts = { roundTrips: 0, keyErrors: 0, valueErrors: 0 };
      await fc.assert(
        fc.asyncProperty(keyArbitrary(keyPrefix), valueArbitrary, async (key, value) => {
          const verdict = verdictFor(keyPrefix, key);
          const bad = poisoned(value);
          // Keys repeat between runs: start from nothing so "nothing was written" can be checked.
          await ignoringKeyErrors(() => cache.delete(key));
          let error: unknown;
          try {
            await cache.set(key, value, { timeout: 60 });
          } catch (caught) {
            error = caught;
          }

          if (error === undefined) {
            assert.notEqual(verdict, 'refuse', `accepted a key that must be refused: ${JSON.stringify(key)}`);
            assert.equal(bad, false, 'accepted a value holding a function, symbol or class');
            // A top-level -0 is a safe integer, stored as the integer 0 (codec: documented).
            assert.deepStrictEqual(await cache.get(key), Object.is(value, -0) ? 0 : value);
            assert.equal(await cache.has(key), true);
            counts.roundTrips++;
          } else if (error instanceof CacheKeyError) {
            assert.notEqual(
              verdict,
              'accept',
              `refused a valid key: ${JSON.stringify(key)} (${error.message})`,
            );
            await assert.rejects(cache.get(key), CacheKeyError, 'get refuses the key set refused');
            counts.keyErrors++;
          } else if (error instanceof SerializationError) {
            assert.equal(bad, true, `refused a cacheable value: ${error.message}`);
            if (verdict === 'accept')
              assert.equal(await cache.has(key), false, 'a refused value wrote nothing');
            counts.valueErrors++;
          } else {
            assert.fail(`set threw ${(error as Error)?.name ?? typeof error}: ${String(error)}`);
          }
          assert.deepStrictEqual(await cache.get(sentinel), { untouched: true }, 'another key was disturbed');
        }),
        { numRuns: NUM_RUNS },
      );
      // The generators must really exercise all three outcomes.
      assert.ok(counts.roundTrips > NUM_RUNS / 4, `only ${counts.roundTrips} round trips`);
      assert.ok(counts.keyErrors > 10, `only ${counts.keyErrors} key errors`);
      assert.ok(counts.valueErrors > 10, `only ${counts.valueErrors} value errors`);
    });

    it('setMany then getMany round-trips a batch of arbitrary valid keys and values', async () => {
      const validKey = keyArbitrary(keyPrefix).filter((key) => verdictFor(keyPrefix, key) === 'accept');
      const cacheable = valueArbitrary.filter((value) => !poisoned(value));
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(fc.tuple(validKey, cacheable), { maxLength: 8, selector: ([key]) => key }),
          async (entries) => {
            assert.deepEqual(await cache.setMany(entries, { timeout: 60 }), []);
            const found = await cache.getMany(entries.map(([key]) => key));
            assert.deepStrictEqual(
              found,
              new Map(entries.map(([key, value]) => [key, Object.is(value, -0) ? 0 : value])),
            );
            await cache.deleteMany(entries.map(([key]) => key));
          },
        ),
        { numRuns: NUM_RUNS },
      );
    });
  });
}
