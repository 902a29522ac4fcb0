import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { Packr } from 'msgpackr';
import { type Codec, type CompressOptions, createCodec, payloadByteLength } from '../../src/cache/codec.js';
import { zstdContentSize } from '../../src/cache/compressors/optional.js';
import { loadOptionalPeer } from '../../src/cache/optional-peer.js';
import { ConfigError, SerializationError } from '../../src/errors.js';

const json = createCodec();
const msgpack = createCodec({ serializer: 'msgpack' });
const both: Array<[string, Codec]> = [
  ['json', json],
  ['msgpack', msgpack],
];

function roundTrip(codec: Codec, value: unknown): unknown {
  return codec.decode(codec.encode(value));
}

function isResolvable(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** A value whose JSON text is long and repetitive (compresses well). */
function bulky(count = 40): Record<string, unknown> {
  return {
    items: Array.from({ length: count }, (_, i) => ({ id: i, name: `product ${i}`, tags: ['a', 'b'] })),
  };
}

describe('integers are stored as plain decimal text', () => {
  for (const [name, codec] of both) {
    it(`${name}: safe integers encode as their decimal string`, () => {
      assert.equal(codec.encode(42), '42');
      assert.equal(codec.encode(-7), '-7');
      assert.equal(codec.encode(0), '0');
      assert.equal(codec.encode(-0), '0');
      assert.equal(codec.encode(Number.MAX_SAFE_INTEGER), '9007199254740991');
      assert.equal(codec.encode(Number.MIN_SAFE_INTEGER), '-9007199254740991');
    });
    it(`${name}: integer text decodes as a number (string or Buffer payload, e.g. after INCRBY)`, () => {
      assert.equal(codec.decode('42'), 42);
      assert.equal(codec.decode('-7'), -7);
      assert.equal(codec.decode(Buffer.from('1000')), 1000);
    });
  }
  it('stays plain even with compression at minLength 0', () => {
    const codec = createCodec({ serializer: 'msgpack', compress: { algorithm: 'zlib', minLength: 0 } });
    assert.equal(codec.encode(123456789), '123456789');
  });
});

describe('json serializer writes plain JSON text', () => {
  it('floats, strings, objects, arrays, booleans and null are JSON strings', () => {
    assert.equal(json.encode(1.5), '1.5');
    assert.equal(json.encode(2 ** 53), '9007199254740992'); // not a safe integer: the serializer's text
    assert.equal(json.encode('hello'), '"hello"');
    assert.equal(json.encode({ a: 1, b: [true, null] }), '{"a":1,"b":[true,null]}');
    assert.equal(json.encode(null), 'null');
    assert.equal(json.encode(false), 'false');
    assert.equal(json.decode('1.5'), 1.5);
    assert.equal(json.decode('"hello"'), 'hello');
  });
  it('tags are readable JSON objects with the reserved key', () => {
    assert.equal(json.encode(new Date(0)), '{"\\u0000":"Date","v":"1970-01-01T00:00:00.000Z"}');
    assert.equal(json.encode(10n), '{"\\u0000":"BigInt","v":"10"}');
    assert.equal(json.encode(new Set([1])), '{"\\u0000":"Set","v":[1]}');
    assert.equal(json.encode({ n: Number.NaN }), '{"n":{"\\u0000":"Number","v":"NaN"}}');
    assert.equal(json.encode(Buffer.from('hi')), '{"\\u0000":"Buffer","v":"aGk="}');
  });
  it('Date.prototype.toJSON does not hide dates (nested and top level)', () => {
    const date = new Date('2024-05-01T12:34:56.789Z');
    const out = roundTrip(json, { at: date, list: [date] }) as { at: Date; list: Date[] };
    assert.ok(out.at instanceof Date);
    assert.equal(out.at.getTime(), date.getTime());
    assert.ok(out.list[0] instanceof Date);
  });
});

describe('every supported type round-trips, nested anywhere', () => {
  const values: Array<[string, unknown]> = [
    ['Date', new Date('2024-05-01T12:34:56.789Z')],
    ['Date before 1970', new Date(-123456789012)],
    ['Date at the end of time', new Date(8.64e15)],
    ['bigint', 123n],
    ['negative bigint past 64 bits', -(2n ** 200n) + 7n],
    ['bigint between 2^63 and 2^64', 2n ** 63n + 5n],
    [
      'Map with non-string keys',
      new Map<unknown, unknown>([
        [1, 'a'],
        [{ k: 1 }, [2]],
        [null, true],
      ]),
    ],
    ['Set', new Set([1, 'a', null, { b: 2 }])],
    ['Uint8Array', new Uint8Array([0, 1, 2, 255])],
    ['Buffer', Buffer.from([9, 8, 7])],
    ['empty Buffer', Buffer.alloc(0)],
    [
      'NaN, ±Infinity and -0 in an array',
      [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0],
    ],
    ['top-level NaN', Number.NaN],
    ['top-level Infinity', Number.POSITIVE_INFINITY],
    ['a float', 0.1 + 0.2],
    ['large non-safe integer', 2 ** 60],
    ['strings with NUL and the tag key spelled out', ['\u0000', '\\u0000', 'a\u0000b', '{"\\u0000":"Date"}']],
    ['unicode', 'héllo wörld € 𝄞 日本'],
    ['empty containers', [{}, [], new Map(), new Set()]],
    [
      'a Map of Sets of Dates inside arrays',
      [
        { m: new Map([['k', new Set([new Date(1), new Date(2)])]]) },
        new Set([new Map([[1n, [new Uint8Array([1])]]])]),
      ],
    ],
    ['sparse-free nested objects', { a: { b: { c: { d: [1, { e: 'f' }] } } } }],
  ];
  for (const [name, codec] of both) {
    for (const [label, value] of values) {
      it(`${name}: ${label}`, () => {
        assert.deepStrictEqual(roundTrip(codec, value), value);
      });
    }
    it(`${name}: an invalid Date stays an invalid Date`, () => {
      const out = roundTrip(codec, { d: new Date(Number.NaN) }) as { d: Date };
      assert.ok(out.d instanceof Date);
      assert.ok(Number.isNaN(out.d.getTime()));
    });
    it(`${name}: Uint8Array and Buffer keep their own types`, () => {
      const out = roundTrip(codec, { u: new Uint8Array([1]), b: Buffer.from([1]) }) as {
        u: Uint8Array;
        b: Buffer;
      };
      assert.equal(Buffer.isBuffer(out.u), false);
      assert.equal(Object.getPrototypeOf(out.u), Uint8Array.prototype);
      assert.equal(Buffer.isBuffer(out.b), true);
    });
    it(`${name}: a Uint8Array view on part of a larger buffer keeps only its bytes`, () => {
      const backing = new Uint8Array([1, 2, 3, 4, 5]);
      assert.deepStrictEqual(
        roundTrip(codec, new Uint8Array(backing.buffer, 1, 3)),
        new Uint8Array([2, 3, 4]),
      );
    });
    it(`${name}: decoded bytes never alias the payload`, () => {
      const payload = codec.encode({ b: Buffer.from([1, 2, 3]) });
      const out = codec.decode(payload) as { b: Buffer };
      out.b[0] = 99;
      assert.deepStrictEqual((codec.decode(payload) as { b: Buffer }).b, Buffer.from([1, 2, 3]));
    });
    it(`${name}: objects that use the reserved key, or look like tags, come back as they were`, () => {
      const value = {
        '\u0000': 'Date',
        v: '2024-01-01T00:00:00.000Z',
        nested: [{ '\u0000': { '\u0000': 1 } }],
      };
      assert.deepStrictEqual(roundTrip(codec, value), value);
      assert.deepStrictEqual(
        roundTrip(codec, new Map([['\u0000', { '\u0000': 'Map', v: [] }]])),
        new Map([['\u0000', { '\u0000': 'Map', v: [] }]]),
      );
    });
    it(`${name}: a shared (non-circular) reference is fine and comes back as two equal copies`, () => {
      const shared = { x: 1 };
      const out = roundTrip(codec, { a: shared, b: shared, d: new Map([[1, shared]]) }) as Record<
        string,
        unknown
      >;
      assert.deepStrictEqual(out.a, shared);
      assert.deepStrictEqual(out.b, shared);
    });
    it(`${name}: class instances are stored as toJSON() or their own enumerable data`, () => {
      class Money {
        constructor(
          readonly amount: number,
          readonly currency: string,
        ) {}
        get label(): string {
          return `${this.amount} ${this.currency}`;
        }
      }
      class Id {
        constructor(readonly value: string) {}
        toJSON(): string {
          return `id:${this.value}`;
        }
      }
      assert.deepStrictEqual(roundTrip(codec, { price: new Money(5, 'EUR'), id: new Id('7') }), {
        price: { amount: 5, currency: 'EUR' },
        id: 'id:7',
      });
      assert.deepStrictEqual(roundTrip(codec, [new String('s'), new Number(2), new Boolean(false)]), [
        's',
        2,
        false,
      ]);
    });
    it(`${name}: a null-prototype object comes back as a plain object`, () => {
      const value = Object.assign(Object.create(null), { a: 1, d: new Date(3) });
      assert.deepStrictEqual(roundTrip(codec, value), { a: 1, d: new Date(3) });
    });
    it(`${name}: a very large object (more than 65,535 keys) round-trips`, () => {
      const value: Record<string, number> = {};
      for (let i = 0; i < 70_000; i++) value[`k${i}`] = i;
      assert.deepStrictEqual(roundTrip(codec, value), value);
    });
  }
  it('json: undefined in objects is dropped and in arrays/Maps/Sets becomes null (as JSON does)', () => {
    assert.deepStrictEqual(
      roundTrip(json, { a: undefined, b: [undefined], m: new Map([['k', undefined]]) }),
      {
        b: [null],
        m: new Map([['k', null]]),
      },
    );
  });
  it('msgpack: undefined inside objects and arrays is kept', () => {
    assert.deepStrictEqual(roundTrip(msgpack, { a: undefined, b: [undefined] }), {
      a: undefined,
      b: [undefined],
    });
  });
  it('json: lone surrogates survive (JSON escapes them); msgpack turns them into U+FFFD', () => {
    assert.equal(roundTrip(json, 'a\ud800b'), 'a\ud800b');
    assert.equal(roundTrip(msgpack, 'a\ud800b'), 'a\ufffdb');
  });
});

describe('values that cannot be cached are refused with a SerializationError that says what to do', () => {
  const refused: Array<[string, unknown, RegExp]> = [
    ['top-level undefined', undefined, /Store null instead/],
    ['a top-level function', () => 1, /function at the top level/],
    ['a top-level symbol', Symbol('s'), /symbol at the top level: use a string/],
    ['a nested function', { a: { onClick() {} } }, /function at value\.a\.onClick/],
    ['a symbol in an array', [1, Symbol('x')], /symbol at value\[1\]/],
    ['a Promise', { p: Promise.resolve(1) }, /Promise at value\.p: await it/],
    ['an Error', [new Error('x')], /an Error at value\[0\]/],
    ['a RegExp', { r: /x/ }, /a RegExp at value\.r/],
    ['a WeakMap', { w: new WeakMap() }, /WeakMap/],
    ['an Int32Array', { t: new Int32Array(2) }, /Int32Array at value\.t: only Uint8Array and Buffer/],
    ['a function inside a Map', new Map([['k', () => 1]]), /function at value <Map value 0>/],
  ];
  for (const [name, codec] of both) {
    for (const [label, value, message] of refused) {
      it(`${name}: ${label}`, () => {
        assert.throws(
          () => codec.encode(value),
          (error: unknown) => error instanceof SerializationError && message.test(error.message),
        );
      });
    }
    it(`${name}: circular structures (object, array, through a Map or a Set)`, () => {
      const object: Record<string, unknown> = { a: 1 };
      object.self = object;
      const array: unknown[] = [];
      array.push({ back: array });
      const viaMap = new Map<string, unknown>();
      viaMap.set('m', { viaMap });
      const viaSet = new Set<unknown>();
      viaSet.add([viaSet]);
      for (const value of [object, array, viaMap, viaSet]) {
        assert.throws(
          () => codec.encode(value),
          (error: unknown) =>
            error instanceof SerializationError && /circular structure: value/.test(error.message),
        );
      }
    });
    it(`${name}: nesting too deep for the stack is a SerializationError, not a RangeError`, () => {
      let deep: unknown = [];
      for (let i = 0; i < 200_000; i++) deep = [deep];
      assert.throws(() => codec.encode(deep), SerializationError);
    });
    it(`${name}: a getter that throws is wrapped, with the cause kept`, () => {
      const value = {
        get boom(): never {
          throw new TypeError('nope');
        },
      };
      assert.throws(
        () => codec.encode(value),
        (error: unknown) => error instanceof SerializationError && (error.cause as Error).message === 'nope',
      );
    });
  }
});

describe('prototype pollution', () => {
  const polluting = [
    '{"__proto__":{"polluted":1}}',
    '{"a":[{"__proto__":{"polluted":1}}],"d":{"\\u0000":"Date","v":"2024-01-01T00:00:00.000Z"}}',
    '{"\\u0000":"Object","v":[["__proto__",{"polluted":1}],["x",1]]}',
    '{"\\u0000":"Map","v":[["__proto__",{"\\u0000":"Object","v":[["__proto__",{"polluted":1}]]}]]}',
    '{"constructor":{"prototype":{"polluted":1}},"d":{"\\u0000":"Set","v":[]}}',
  ];
  for (const text of polluting) {
    it(`decoding ${text} changes no prototype`, () => {
      const out = json.decode(text) as Record<string, unknown>;
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(Object.getPrototypeOf(Object.prototype), null);
      if (out instanceof Map) return;
      assert.equal(Object.getPrototypeOf(out), Object.prototype);
    });
  }
  it('an own "__proto__" key survives decoding as an own data property (never a prototype change)', () => {
    const out = json.decode(
      '{"__proto__":{"polluted":1},"d":{"\\u0000":"Date","v":"2024-01-01T00:00:00.000Z"}}',
    );
    assert.ok(Object.hasOwn(out as object, '__proto__'));
    assert.deepStrictEqual(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, { polluted: 1 });
    assert.equal((out as { polluted?: number }).polluted, undefined);
    const escaped = json.decode('{"\\u0000":"Object","v":[["__proto__",{"polluted":1}]]}') as object;
    assert.ok(Object.hasOwn(escaped, '__proto__'));
    assert.equal(Object.getPrototypeOf(escaped), Object.prototype);
  });
  for (const [name, codec] of both) {
    it(`${name}: a value with an own "__proto__" key round-trips it as an own key`, () => {
      const value = JSON.parse('{"__proto__":{"polluted":1},"ok":[1]}');
      const out = roundTrip(codec, { inner: value, top: 1 }) as { inner: object };
      assert.ok(Object.hasOwn(out.inner, '__proto__'));
      assert.deepStrictEqual(out, { inner: value, top: 1 });
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }
  it('msgpack: a forged map with a "__proto__" key does not pollute (msgpackr renames the key)', () => {
    const forged = new Packr({ useRecords: false }).pack({
      inner: JSON.parse('{"__proto__":{"polluted":1}}'),
    });
    const out = msgpack.decode(Buffer.concat([Buffer.from([0x01, 0x00]), forged])) as { inner: object };
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(out.inner), Object.prototype);
  });
});

describe('binary envelopes', () => {
  it('msgpack output is a Buffer starting with 0x01, flags 0 for plain data and 1 when tagged', () => {
    const plain = msgpack.encode({ a: 1, d: new Date(0), s: new Set([1n]) }) as Buffer;
    assert.ok(Buffer.isBuffer(plain));
    assert.deepStrictEqual([...plain.subarray(0, 2)], [0x01, 0x00]);
    const tagged = msgpack.encode({ m: new Map([[1, 2]]) }) as Buffer;
    assert.deepStrictEqual([...tagged.subarray(0, 2)], [0x01, 0x01]);
  });
  it('msgpack strings are still envelopes (only integers are plain text)', () => {
    const out = msgpack.encode('hello') as Buffer;
    assert.equal(out[0], 0x01);
    assert.equal(msgpack.decode(out), 'hello');
  });
  it('a json codec reads msgpack envelopes, and a msgpack codec reads JSON text', () => {
    const value = { m: new Map([[1, new Date(5)]]), b: 2n };
    assert.deepStrictEqual(json.decode(msgpack.encode(value)), value);
    assert.deepStrictEqual(msgpack.decode(json.encode(value)), value);
  });
  it('a plain Uint8Array payload is accepted like a Buffer', () => {
    const payload = msgpack.encode([1, 2]) as Buffer;
    assert.deepStrictEqual(msgpack.decode(new Uint8Array(payload) as Buffer), [1, 2]);
    assert.deepStrictEqual(json.decode(new TextEncoder().encode('{"a":1}') as Buffer), { a: 1 });
  });
});

describe('compression', () => {
  const builtIn = ['zlib', 'gzip', 'brotli'] as const;
  const ids = { zlib: 1, gzip: 2, brotli: 3, lz4: 4, zstd: 5 };

  it('compresses at minLength bytes and above, not below', () => {
    const value = bulky();
    const length = Buffer.byteLength(JSON.stringify(value));
    const at = createCodec({ compress: { algorithm: 'zlib', minLength: length } }).encode(value);
    assert.ok(Buffer.isBuffer(at));
    assert.deepStrictEqual([...at.subarray(0, 3)], [0x02, ids.zlib, 0x00]);
    const below = createCodec({ compress: { algorithm: 'zlib', minLength: length + 1 } }).encode(value);
    assert.equal(below, JSON.stringify(value));
  });
  it('minLength counts UTF-8 bytes, not UTF-16 units', () => {
    const value = '€'.repeat(400); // 1,202 bytes of JSON text, 402 UTF-16 units
    assert.ok(
      Buffer.isBuffer(createCodec({ compress: { algorithm: 'zlib', minLength: 1024 } }).encode(value)),
    );
  });
  it('the default minLength is 1024 bytes', () => {
    const codec = createCodec({ compress: { algorithm: 'gzip' } });
    assert.equal(typeof codec.encode('x'.repeat(1000)), 'string');
    assert.ok(Buffer.isBuffer(codec.encode('x'.repeat(1100))));
  });
  it('keeps the uncompressed form when compression would not shrink it', () => {
    const random = randomBytes(3000); // incompressible: msgpack stores it as raw bytes
    for (const algorithm of builtIn) {
      const codec = createCodec({ serializer: 'msgpack', compress: { algorithm, minLength: 0 } });
      const payload = codec.encode(random) as Buffer;
      assert.equal(payload[0], 0x01, `${algorithm} kept the msgpack envelope`);
      assert.deepStrictEqual(codec.decode(payload), random);
      assert.equal(createCodec({ compress: { algorithm, minLength: 0 } }).encode('ab'), '"ab"');
    }
  });
  for (const algorithm of builtIn) {
    for (const serializer of ['json', 'msgpack'] as const) {
      it(`${algorithm} + ${serializer}: round-trips, records algorithm and inner format, shrinks`, () => {
        const codec = createCodec({ serializer, compress: { algorithm, minLength: 0 } });
        const value = { ...bulky(), at: new Date(1), tags: new Set(['x']), m: new Map([[1, 2n]]) };
        const payload = codec.encode(value) as Buffer;
        assert.ok(Buffer.isBuffer(payload));
        assert.deepStrictEqual(
          [...payload.subarray(0, 3)],
          [0x02, ids[algorithm], serializer === 'json' ? 0 : 1],
        );
        const uncompressed = createCodec({ serializer }).encode(value);
        assert.ok(payload.length < payloadByteLength(uncompressed));
        assert.deepStrictEqual(codec.decode(payload), value);
        assert.deepStrictEqual(createCodec().decode(payload), value, 'any codec reads it');
      });
    }
    it(`${algorithm}: the level option is used and validated`, () => {
      const options: CompressOptions = { algorithm, minLength: 0, level: 1 };
      assert.deepStrictEqual(roundTrip(createCodec({ compress: options }), bulky()), bulky());
      assert.throws(() => createCodec({ compress: { algorithm, level: 99 } }), ConfigError);
      assert.throws(() => createCodec({ compress: { algorithm, level: 1.5 } }), ConfigError);
    });
  }
  it('compression failures surface as a SerializationError', () => {
    const codec = createCodec({ compress: { algorithm: 'brotli', minLength: 0 } });
    assert.throws(() => codec.decode(Buffer.from([0x02, 3, 0, 1, 2, 3, 4, 5])), SerializationError);
  });

  for (const [algorithm, pkg] of [
    ['lz4', 'lz4-napi'],
    ['zstd', 'zstd-napi'],
  ] as const) {
    const available =
      isResolvable(pkg) ||
      (algorithm === 'zstd' &&
        typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function');
    it(`${algorithm}: ${available ? 'round-trips' : `fails at construction, naming ${pkg}`}`, () => {
      if (!available) {
        assert.throws(
          () => createCodec({ compress: { algorithm }, configPath: 'caches.default' }),
          (error: unknown) =>
            error instanceof ConfigError &&
            error.path === 'caches.default.compress.algorithm' &&
            error.message.includes(`npm install ${pkg}`),
        );
        assert.throws(
          () => json.decode(Buffer.from([0x02, ids[algorithm], 0, 1, 2, 3, 4])),
          (error: unknown) => error instanceof SerializationError && error.message.includes(pkg),
        );
        return;
      }
      for (const serializer of ['json', 'msgpack'] as const) {
        const codec = createCodec({ serializer, compress: { algorithm, minLength: 0 } });
        const payload = codec.encode(bulky()) as Buffer;
        assert.deepStrictEqual([...payload.subarray(0, 2)], [0x02, ids[algorithm]]);
        assert.deepStrictEqual(codec.decode(payload), bulky());
        assert.throws(
          () => createCodec({ maxDecompressedLength: 1024 }).decode(payload),
          (error: unknown) =>
            error instanceof SerializationError && /maxDecompressedLength/.test(error.message),
        );
      }
    });
  }
  it('lz4 has no levels', () => {
    assert.throws(
      () => createCodec({ compress: { algorithm: 'lz4', level: 3 } }),
      /lz4 has no compression levels/,
    );
  });
  it('zstdContentSize reads the declared size of a frame header (RFC 8878)', () => {
    // single segment, 1-byte content size 11; 2-byte size (value + 256); 4-byte size; no size.
    assert.equal(zstdContentSize(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, 11, 0, 0])), 11);
    assert.equal(zstdContentSize(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x60, 0x00, 0x01, 0])), 512);
    assert.equal(
      zstdContentSize(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x80, 0x50, 0x00, 0x00, 0x00, 0x04])),
      0x04000000,
    );
    assert.equal(zstdContentSize(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x50, 0, 0])), undefined);
    assert.equal(zstdContentSize(Buffer.from('not zstd')), undefined);
  });
});

describe('decompression bombs are bounded by maxDecompressedLength', () => {
  const bomb = Buffer.alloc(8 * 1024 * 1024, 0x20); // 8 MiB of spaces: valid JSON whitespace, tiny compressed
  const bombs: Array<[string, Buffer]> = [
    ['zlib', Buffer.concat([Buffer.from([0x02, 1, 0]), zlib.deflateSync(bomb)])],
    ['gzip', Buffer.concat([Buffer.from([0x02, 2, 0]), zlib.gzipSync(bomb)])],
    ['brotli', Buffer.concat([Buffer.from([0x02, 3, 0]), zlib.brotliCompressSync(bomb)])],
  ];
  const bounded = createCodec({ maxDecompressedLength: 1024 * 1024 });
  for (const [name, payload] of bombs) {
    it(`${name}: ${payload.length} bytes that inflate to 8 MiB are refused at a 1 MiB bound`, () => {
      assert.throws(
        () => bounded.decode(payload),
        (error: unknown) =>
          error instanceof SerializationError && /maxDecompressedLength/.test(error.message),
      );
    });
  }
  it('the default bound (64 MiB) lets an 8 MiB value through', () => {
    assert.throws(() => json.decode(bombs[0][1]), /not valid JSON/); // inflated fine; whitespace is not a value
  });
});

describe('corrupt payloads are a SerializationError, never another error', () => {
  const validMsgpack = msgpack.encode({ a: [1, 2, 3], d: new Map([[1, 2]]) }) as Buffer;
  const validCompressed = createCodec({ compress: { algorithm: 'zlib', minLength: 0 } }).encode(
    bulky(),
  ) as Buffer;
  const corrupt: Array<[string, string | Buffer, RegExp?]> = [
    ['an empty string', ''],
    ['an empty Buffer', Buffer.alloc(0)],
    ['text that is not JSON', 'hello world', /not valid JSON/],
    ['JSON cut short', '{"a":[1,2'],
    ['invalid UTF-8 that is not JSON', Buffer.from([0xff, 0xfe, 0xfd])],
    ['a binary envelope received as a string', '\u0001\u0000abc', /arrived as a string/],
    ['a lone msgpack marker', Buffer.from([0x01]), /truncated/],
    ['msgpack with no body', Buffer.from([0x01, 0x00]), /truncated/],
    ['msgpack with unknown flags', Buffer.from([0x01, 0x80, 0x90]), /unknown flags/],
    ['msgpack cut short', validMsgpack.subarray(0, validMsgpack.length - 2), /not valid msgpack/],
    ['msgpack with trailing bytes', Buffer.concat([validMsgpack, Buffer.from([0x01])])],
    ['an unknown msgpack extension', Buffer.from([0x01, 0x00, 0xd4, 0x33, 0x00]), /not valid msgpack/],
    [
      'a structured-clone pointer (disabled)',
      Buffer.from([0x01, 0x00, 0xd6, 0x70, 0, 0, 0, 1]),
      /not valid msgpack/,
    ],
    ['a lone compressed marker', Buffer.from([0x02]), /truncated/],
    [
      'an unknown compression algorithm',
      Buffer.from([0x02, 0x63, 0x00, 0x01, 0x02]),
      /unknown compression algorithm/,
    ],
    ['an unknown inner format', Buffer.from([0x02, 0x01, 0x07, 0x01, 0x02]), /unknown inner format/],
    ['compressed garbage', Buffer.from([0x02, 0x01, 0x00, 0x01, 0x02, 0x03]), /cannot be decompressed/],
    ['a compressed value cut short', validCompressed.subarray(0, validCompressed.length - 5)],
    [
      'inner format msgpack around JSON text',
      Buffer.concat([Buffer.from([0x02, 0x01, 0x01]), zlib.deflateSync(Buffer.from('{"a":1}'))]),
      /does not hold the msgpack envelope/,
    ],
    ['a reserved marker', Buffer.from([0x05, 0x00, 0x00]), /unknown envelope marker 0x05/],
    ['an unknown tag', '{"\\u0000":"Regex","v":"x"}', /unknown larder tag "Regex"/],
    ['a malformed Date tag', '{"\\u0000":"Date","v":"not a date"}', /malformed Date tag/],
    ['a malformed BigInt tag', '[{"\\u0000":"BigInt","v":"0x10"}]', /malformed BigInt tag/],
    ['a malformed Map tag', '{"\\u0000":"Map","v":[[1]]}', /malformed Map tag/],
    ['a malformed Object tag', '{"\\u0000":"Object","v":[[1,2]]}', /malformed Object tag/],
    ['a malformed Number tag', '{"\\u0000":"Number","v":"7"}', /malformed Number tag/],
  ];
  for (const [name, codec] of both) {
    for (const [label, payload, message] of corrupt) {
      it(`${name}: ${label}`, () => {
        assert.throws(
          () => codec.decode(payload),
          (error: unknown) =>
            error instanceof SerializationError && (message ? message.test(error.message) : true),
        );
      });
    }
    it(`${name}: a non-payload (a number) is a SerializationError too`, () => {
      assert.throws(() => codec.decode(42 as unknown as string), SerializationError);
    });
    it(`${name}: deep JSON whose tags would overflow the stack while rebuilding`, () => {
      const text = `${'['.repeat(100_000)}{"\\u0000":"BigInt","v":"1"}${']'.repeat(100_000)}`;
      assert.throws(() => codec.decode(text), SerializationError);
    });
  }
});

describe('configuration errors', () => {
  it('an unknown serializer', () => {
    assert.throws(
      () => createCodec({ serializer: 'xml' as 'json', configPath: 'caches.default' }),
      (error: unknown) => error instanceof ConfigError && error.path === 'caches.default.serializer',
    );
  });
  it('an unknown algorithm, a bad minLength, a bad bound', () => {
    assert.throws(
      () => createCodec({ compress: { algorithm: 'snappy' as 'zlib' } }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.path === 'compress.algorithm' &&
        /zlib, gzip/.test(error.message),
    );
    assert.throws(() => createCodec({ compress: { algorithm: 'zlib', minLength: -1 } }), ConfigError);
    assert.throws(() => createCodec({ compress: { algorithm: 'zlib', minLength: 1.5 } }), ConfigError);
    assert.throws(() => createCodec({ maxDecompressedLength: 0 }), ConfigError);
  });
  it('compress: false and serializer defaults', () => {
    const codec = createCodec({ compress: false });
    assert.equal(codec.serializer, 'json');
    assert.equal(typeof codec.encode('x'.repeat(5000)), 'string');
    assert.equal(msgpack.serializer, 'msgpack');
  });
  it('a missing optional peer names the npm install command', () => {
    const peer = loadOptionalPeer('larder-no-such-package');
    assert.equal(peer.ok, false);
    assert.match(peer.ok ? '' : peer.reason, /npm install larder-no-such-package/);
  });
});

describe('payloadByteLength', () => {
  it('counts UTF-8 bytes of text and the length of bytes', () => {
    assert.equal(payloadByteLength('héllo'), 6);
    assert.equal(payloadByteLength('42'), 2);
    assert.equal(payloadByteLength(Buffer.alloc(3)), 3);
    assert.equal(payloadByteLength(json.encode({ a: '€' })), Buffer.byteLength('{"a":"€"}'));
  });
});
