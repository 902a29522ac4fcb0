/**
 * @module What the bad-input suites share: the verdict on one call (a value, or a typed
 * larder error — anything else fails the property), hostile strings, and the health check
 * each suite runs last (the store still answers, a known key still reads back).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Cache } from '../../src/cache/cache.js';
import { LarderError } from '../../src/errors.js';

/** How one call ended. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: LarderError };

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs `call`; a thrown error must be a `LarderError` with a code and a message (one of
 * `allowed` when given), else the property fails with the error's stack.
 * @example const outcome = await typedOutcome(() => cache.set(key, value), [CacheKeyError]);
 */
export async function typedOutcome<T>(
  call: () => T | Promise<T>,
  allowed: readonly ErrorClass[] = [LarderError],
): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    assertTyped(error, allowed);
    return { ok: false, error: error as LarderError };
  }
}

/** Asserts `error` is a LarderError (and one of `allowed`) with a code and a non-empty message. */
export function assertTyped(error: unknown, allowed: readonly ErrorClass[] = [LarderError]): void {
  const describe = () => String((error as Error)?.stack ?? error);
  assert.ok(error instanceof LarderError, `not a LarderError: ${describe()}`);
  assert.ok(
    allowed.some((type) => error instanceof type),
    `${error.name} is not one of ${allowed.map((t) => t.name).join(', ')}: ${describe()}`,
  );
  assert.match(error.code, /^E_[A-Z_]+$/);
  assert.ok(error.message.length > 10, `a message that says something: ${error.message}`);
}

/** Any UTF-16 code unit, lone surrogates included. */
export const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));

/**
 * Hostile strings: empty, control characters, lone surrogates, astral planes, glob and
 * separator characters, prototype names, and long runs (up to `long` characters).
 */
export function hostileString(long = 400): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: codeUnit, maxLength: 20 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '',
        ' ',
        '__proto__',
        'constructor',
        'prototype',
        'toString',
        '\u0000',
        '\r\n',
        '\u007f',
        '\u0085',
        '\u2028',
        '\ud800',
        '\udfff',
        '*',
        '{a}',
        ':',
        '%00',
        '..',
        '💥',
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('k', 'é', '清', '𝄞', '\u0000'), fc.integer({ min: 1, max: long }))
        .map(([char, n]) => char.repeat(n)),
    },
  );
}

/**
 * The health check every suite ends with: a known key written before the fuzzing still
 * reads back, and the store still takes a write and a read.
 * @example await assertHealthy(cache, 'bad-input:known', { kept: true });
 */
export async function assertHealthy(cache: Cache, knownKey: string, knownValue: unknown): Promise<void> {
  assert.deepStrictEqual(await cache.get(knownKey), knownValue, 'the known key still reads back');
  const probe = `${knownKey}:probe`;
  await cache.set(probe, { alive: true }, { timeout: 60 });
  assert.deepStrictEqual(await cache.get(probe), { alive: true }, 'the store still answers');
  await cache.delete(probe);
}
