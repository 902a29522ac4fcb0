import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { type Codec, createCodec } from '../../src/cache/codec.js';
import { SerializationError } from '../../src/errors.js';

const RUNS = { numRuns: 1000 };

// Keys include the ones that matter to the encoding and to prototype safety.
const key = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 8, unit: 'binary' }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('\u0000', '__proto__', 'constructor', 'prototype', 'v', 'toString'),
  },
);

/**
 * JSON-like values extended with every type the codec promises to round-trip. No
 * `undefined` (JSON drops it), no invalid dates (assert's deep equality says
 * NaN-time dates differ; they are covered by the unit tests), no null-prototype objects
 * (they come back with Object.prototype, by design).
 */
const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    tie('array'),
    tie('object'),
    tie('map'),
    tie('set'),
  ),
  leaf: fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(), // NaN, ±Infinity and -0 included
    fc.maxSafeInteger(),
    fc.string({ unit: 'binary' }),
    fc.bigInt(),
    fc.bigInt({ min: -(2n ** 300n), max: 2n ** 300n }),
    fc.date({ noInvalidDate: true }),
    fc.uint8Array({ maxLength: 16 }),
    fc.uint8Array({ maxLength: 16 }).map((bytes) => Buffer.from(bytes)),
  ),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 5, noNullPrototype: true }),
  map: fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
  set: fc.array(tie('value'), { maxLength: 4 }).map((items) => new Set(items)),
}));

const codecs: Array<[string, Codec]> = [
  ['json', createCodec()],
  ['msgpack', createCodec({ serializer: 'msgpack' })],
  ['json + zlib (minLength 0)', createCodec({ compress: { algorithm: 'zlib', minLength: 0 } })],
  ['json + brotli (minLength 0)', createCodec({ compress: { algorithm: 'brotli', minLength: 0 } })],
  [
    'msgpack + gzip (minLength 0)',
    createCodec({ serializer: 'msgpack', compress: { algorithm: 'gzip', minLength: 0 } }),
  ],
];

describe('decode(encode(v)) deep-equals v', () => {
  for (const [name, codec] of codecs) {
    it(name, () => {
      let compressed = 0;
      fc.assert(
        fc.property(value, (v) => {
          const payload = codec.encode(v);
          if (Buffer.isBuffer(payload) && payload[0] === 0x02) compressed++;
          // A top-level -0 is a safe integer, stored as '0' (documented); nested -0 is kept.
          assert.deepStrictEqual(codec.decode(payload), Object.is(v, -0) ? 0 : v);
          assert.equal(({} as Record<string, unknown>).polluted, undefined);
        }),
        RUNS,
      );
      // With minLength 0 the compressed path must really have been exercised (compression is kept
      // only when it shrinks the payload, so small random values often stay uncompressed).
      if (name.includes('minLength 0'))
        assert.ok(compressed >= 10, `only ${compressed} runs were compressed`);
    });
  }
  it('json text is plain JSON whenever the value is plain JSON data', () => {
    const plain = fc.jsonValue().filter((v) => !Number.isSafeInteger(v) && !Object.is(v, -0));
    const codec = createCodec();
    fc.assert(
      fc.property(plain, (v) => {
        const hasMinusZero = JSON.stringify(v, (_k, x) => (Object.is(x, -0) ? '__minus_zero__' : x)).includes(
          '__minus_zero__',
        );
        fc.pre(!hasMinusZero && !JSON.stringify(v).includes('\\u0000'));
        assert.equal(codec.encode(v), JSON.stringify(v));
      }),
      RUNS,
    );
  });
});

describe('decode of arbitrary input returns a value or throws SerializationError — nothing else', () => {
  const codec = createCodec();
  const sample = (...values: unknown[]) =>
    values.map((v) => createCodec({ serializer: 'msgpack' }).encode(v) as Buffer);
  const validEnvelopes = [
    ...sample({ a: [1, 2], m: new Map([[1, new Set([2n])]]) }, 'text', [new Date(5), Buffer.from([1])]),
    createCodec({ compress: { algorithm: 'zlib', minLength: 0 } }).encode({
      list: Array(50).fill('abc'),
    }) as Buffer,
    createCodec({ compress: { algorithm: 'brotli', minLength: 0 } }).encode({
      list: Array(50).fill('abc'),
    }) as Buffer,
    Buffer.concat([Buffer.from([0x02, 0x02, 0x00]), zlib.gzipSync(Buffer.from('{"x":[1,2,3]}'))]),
  ];
  function expectValueOrSerializationError(payload: string | Buffer): void {
    try {
      codec.decode(payload);
    } catch (error) {
      assert.ok(
        error instanceof SerializationError,
        `threw ${(error as Error)?.constructor?.name}: ${String(error)}`,
      );
    }
  }
  it('arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) =>
        expectValueOrSerializationError(Buffer.from(bytes)),
      ),
      RUNS,
    );
  });
  it('bytes behind each envelope marker and algorithm', () => {
    const header = fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 9 })).map((h) => [h[0]]),
      fc.tuple(fc.constant(0x01), fc.integer({ min: 0, max: 3 })),
      fc.tuple(fc.constant(0x02), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 2 })),
    );
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 64 }), (head, body) =>
        expectValueOrSerializationError(Buffer.concat([Buffer.from(head), body])),
      ),
      RUNS,
    );
  });
  it('valid envelopes with a byte flipped, or cut short', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...validEnvelopes),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        (envelope, at, xor, truncate) => {
          const bytes = Buffer.from(envelope);
          const index = at % bytes.length;
          if (truncate) return expectValueOrSerializationError(bytes.subarray(0, index));
          bytes[index] ^= xor;
          expectValueOrSerializationError(bytes);
        },
      ),
      RUNS,
    );
  });
  it('arbitrary strings, and strings that look like tagged JSON', () => {
    const tagged = fc
      .tuple(
        fc.constantFrom('Date', 'BigInt', 'Number', 'Map', 'Set', 'Object', 'Buffer', 'Uint8Array', 'x'),
        fc.jsonValue(),
      )
      .map(([tag, v]) => JSON.stringify({ '\u0000': tag, v }));
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary' }), fc.json(), tagged),
        expectValueOrSerializationError,
      ),
      RUNS,
    );
  });
});

describe('a safe integer encodes as its decimal text', () => {
  for (const [name, codec] of codecs) {
    it(name, () => {
      fc.assert(
        fc.property(fc.maxSafeInteger(), (n) => {
          const payload = codec.encode(n);
          assert.equal(payload, String(n));
          assert.equal(codec.decode(payload), n === 0 ? 0 : n);
        }),
        RUNS,
      );
    });
  }
});
