/**
 * Property tests of sessions on every engine and topology (fast-check): arbitrary field
 * maps round-trip through save + reopen, and arbitrary cookie values never make
 * `open/get/set/save` throw nor become the session's key unless they were a real stored key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { stringifyValue } from '../../src/cache/serializers/json.js';
import { CacheValueError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import {
  engineTargets,
  type SessionEngine,
  sessionConfig,
  sessionSuites,
} from '../conformance/session.suite.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

/** Any UTF-16 code unit, lone surrogates included ('binary' units are whole code points). */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));

/** Field names: any text (lone surrogates included: those are refused), and the ones dangerous as object keys. */
const fieldName = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: codeUnit, maxLength: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', '', 'd:x', 'm:c') },
);

/** Values: JSON, and the types larder's encoding tags. */
const fieldValue = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.date({ noInvalidDate: true }) },
  { weight: 1, arbitrary: fc.bigInt() },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc
      .uniqueArray(fc.tuple(fc.string({ maxLength: 5 }), fc.integer()), {
        selector: ([k]) => k,
        maxLength: 4,
      })
      .map((entries) => new Map(entries)),
  },
);

const fieldMaps = fc.uniqueArray(fc.tuple(fieldName, fieldValue), {
  selector: ([name]) => name,
  maxLength: 8,
});

/** Encoded size of a field map, to stay under the signed-cookie limit (4096 bytes with base64 and the signature). */
const encodedSize = (entries: Array<[string, unknown]>) =>
  entries.reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(stringifyValue(value)),
    0,
  );

/** Cookie values a client could send: anything, id-shaped text, signed-cookie-shaped text. */
const cookieValues = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 120 }),
  fc.string({ unit: codeUnit, maxLength: 60 }),
  fc.stringMatching(/^[A-Za-z0-9_-]{43}$/),
  fc.stringMatching(/^[A-Za-z0-9_-]{40,46}$/),
  fc
    .tuple(fc.stringMatching(/^\.?[A-Za-z0-9_-]{1,80}$/), fc.stringMatching(/^[A-Za-z0-9_-]{43}$/))
    .map(([payload, signature]) => `${payload}.${signature}`),
);

for (const engine of Object.keys(sessionSuites) as SessionEngine[]) {
  for (const target of engineTargets[engine]) {
    describe(`session properties: ${engine} engine [${target}]`, () => {
      let larder: Larder;
      const runs = target === 'memory' ? 150 : 50;

      before(() => {
        larder = createLarder(sessionConfig(engine, target, redisUrlFor(target), uniquePrefix('sprop')), {});
      });
      after(async () => {
        await larder?.close();
      });

      it('any field map round-trips through save and reopen', async () => {
        await fc.assert(
          fc.asyncProperty(fieldMaps, async (entries) => {
            fc.pre(encodedSize(entries) < 2400);
            const session = larder.sessions.open();
            const expected = new Map<string, unknown>();
            for (const [name, value] of entries) {
              if (name.isWellFormed()) {
                await session.set(name, value);
                expected.set(name, value);
              } else {
                // A name UTF-8 cannot hold would come back as another name: refused instead.
                await assert.rejects(session.set(name, value), CacheValueError);
              }
            }
            await session.save();
            const cookie = expected.size === 0 ? undefined : (session.key ?? undefined);
            const again = larder.sessions.open({ cookie });
            assert.deepStrictEqual(new Map(await again.entries()), expected);
          }),
          { numRuns: runs },
        );
      });

      it('any cookie value: get, set and save never throw, and only a stored key is kept', async () => {
        const real = larder.sessions.open();
        await real.set('base', 'kept');
        await real.save();
        const realKey = real.key as string;
        await fc.assert(
          fc.asyncProperty(
            fc.oneof({ weight: 9, arbitrary: cookieValues }, fc.constant(realKey)),
            async (cookie) => {
              const session = larder.sessions.open({ cookie, userAgent: 'property' });
              const wasReal = cookie === realKey;
              assert.equal(await session.get('base'), wasReal ? 'kept' : undefined);
              await session.set('k', 1);
              await session.save();
              assert.ok(session.key, 'a session with data has a key after save');
              if (!wasReal)
                assert.notEqual(session.key, cookie, 'a value the client made up is never adopted');
              else if (larder.sessions.store.kind === 'server') assert.equal(session.key, cookie);
            },
          ),
          { numRuns: runs * 2 },
        );
      });
    });
  }
}
