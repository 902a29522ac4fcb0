/**
 * @module larder/cache/codec — turns cacheable values into the payloads backends store
 * (`string` for text, `Buffer` for bytes) and back. On the hot path of every get and set.
 *
 * ## What is stored
 * - A safe integer (`Number.isSafeInteger`) is its decimal text (`'42'`, `'-7'`), whatever
 *   the serializer, so Redis INCRBY/DECRBY work on it and `get` returns a number. (`-0`
 *   is stored as `'0'`; other numbers go through the serializer.)
 * - `json` (default): JSON text, a `string` (see `serializers/json.ts` for the tags that
 *   carry `Date`, `BigInt`, `Map`, `Set`, bytes, `NaN`/`±Infinity`/`-0`).
 * - `msgpack`: a binary envelope (below), a `Buffer`.
 * - With `compress`, a serialized form of at least `minLength` bytes (default 1024) is
 *   compressed, and kept compressed only when that makes the payload smaller.
 *
 * ## Byte layout
 * JSON text never starts with a byte below 0x20 (its first character is `{ [ " - 0-9 t f n`
 * or whitespace 0x09/0x0A/0x0D/0x20), so bytes 0x01–0x08 are free to mark binary envelopes:
 *
 * ```
 * msgpack      [0x01][flags: u8][MessagePack bytes …]
 *                flags bit 0 = the tree holds larder tags; bits 1–7 reserved, must be 0
 * compressed   [0x02][algorithm: u8][inner: u8][compressed bytes …]
 *                algorithm 1 = zlib (deflate), 2 = gzip, 3 = brotli,
 *                          4 = lz4 (block, 4-byte little-endian size prefix), 5 = zstd (frame)
 *                inner     0 = JSON text (UTF-8), 1 = msgpack: the bytes inflate to a whole
 *                          0x01 envelope
 * 0x03–0x08    reserved: a future layout takes a new marker (this is the version field)
 * anything else  UTF-8 JSON text (or an integer's decimal text)
 * ```
 * A reader rejects what it does not know (a marker, flag, algorithm or inner byte) with a
 * `SerializationError`, which the cache treats as a miss: an old process never misreads
 * a value written by a newer one.
 *
 * ## Decoding
 * `decode` takes a `string` or a `Buffer` (a Redis client may return either) and reads any
 * envelope, whatever this codec is configured to write: a value written before a change of
 * serializer or compressor still decodes (msgpack needs msgpackr installed, lz4/zstd their
 * packages). Every failure — bad bytes, truncated envelope, unknown marker, invalid JSON,
 * failed or oversized decompression (`maxDecompressedLength`, default 64 MiB, against zip
 * bombs) — is a `SerializationError`, never another error.
 */
import { ConfigError, SerializationError } from '../errors.js';
import type { Payload } from './backend.js';
import {
  type CompressionAlgorithm,
  type Compressor,
  compressorForId,
  createCompressor,
} from './compressors/index.js';
import { parseValue, stringifyValue } from './serializers/json.js';
import { createMsgpackSerializer, MSGPACK_MARKER, type MsgpackSerializer } from './serializers/msgpack.js';
import { asSerializationError } from './serializers/tags.js';

/**
 * Turns values into payloads and back.
 *
 * @example
 * const payload = codec.encode({ cart: new Map([['sku-1', 2]]) }); // what a backend stores
 * const value = codec.decode(payload); // { cart: Map(1) { 'sku-1' => 2 } }
 */
export interface Codec {
  /** The payload for `value`. Throws `SerializationError` when `value` cannot be cached. */
  encode(value: unknown): Payload;
  /** The value a payload holds. Throws `SerializationError` (only) when it cannot be read. */
  decode(payload: Payload): unknown;
  /** The serializer `encode` writes with. */
  readonly serializer: 'json' | 'msgpack';
}

/** A cache's `compress` option. @example const compress: CompressOptions = { algorithm: 'zlib', minLength: 1024 }; */
export interface CompressOptions {
  algorithm: CompressionAlgorithm;
  /**
   * Serialized values of at least this many bytes are compressed.
   * @default 1024
   */
  minLength?: number;
  /**
   * Compression level: zlib/gzip -1–9, brotli 0–11, zstd -131072–22; lz4 has none.
   * @default 6 (zlib, gzip), 4 (brotli), 3 (zstd)
   */
  level?: number;
}

/** Options of {@link createCodec}. @example createCodec({ serializer: 'msgpack', configPath: 'caches.default' }); */
export interface CodecOptions {
  /** @default 'json' */
  serializer?: 'json' | 'msgpack';
  /** @default false */
  compress?: false | CompressOptions;
  /**
   * Decompressing a stored value to more bytes than this fails (a miss) instead of
   * allocating it: the bound against decompression bombs.
   * @default 67108864 (64 MiB)
   */
  maxDecompressedLength?: number;
  /** Where these options sit in the config, for `ConfigError` paths (`caches.default`). */
  configPath?: string;
}

const COMPRESSED_MARKER = 0x02;
const LAST_RESERVED_MARKER = 0x08;
const INNER_JSON = 0;
const INNER_MSGPACK = 1;
const DEFAULT_MIN_LENGTH = 1024;
const DEFAULT_MAX_DECOMPRESSED = 64 * 1024 * 1024;

/**
 * Builds a codec. Synchronous: an optional package the options need (msgpackr, lz4-napi,
 * zstd-napi) is loaded here, and a missing one is a `ConfigError` saying what to install.
 *
 * @example
 * const codec = createCodec({ compress: { algorithm: 'zlib', minLength: 1024 } });
 * codec.encode(42); // '42'
 * codec.encode({ at: new Date(0) }); // '{"at":{"\u0000":"Date","v":"1970-01-01T00:00:00.000Z"}}'
 * codec.decode(codec.encode(new Map([['a', 1n]]))); // Map(1) { 'a' => 1n }
 */
export function createCodec(options: CodecOptions = {}): Codec {
  const base = options.configPath ? `${options.configPath}.` : '';
  const serializer = options.serializer ?? 'json';
  if (serializer !== 'json' && serializer !== 'msgpack') {
    throw new ConfigError(`${base}serializer`, serializer, "'json' or 'msgpack'");
  }
  const maxDecompressed = options.maxDecompressedLength ?? DEFAULT_MAX_DECOMPRESSED;
  if (!Number.isSafeInteger(maxDecompressed) || maxDecompressed < 1) {
    throw new ConfigError(
      `${base}maxDecompressedLength`,
      maxDecompressed,
      'a positive whole number of bytes',
    );
  }
  let compressor: Compressor | undefined;
  let minLength = DEFAULT_MIN_LENGTH;
  const compress = options.compress;
  if (compress !== undefined && compress !== false) {
    if (typeof compress !== 'object' || compress === null) {
      throw new ConfigError(
        `${base}compress`,
        compress,
        "false or { algorithm: 'zlib' | 'gzip' | 'brotli' | 'lz4' | 'zstd' }",
      );
    }
    minLength = compress.minLength ?? DEFAULT_MIN_LENGTH;
    if (!Number.isSafeInteger(minLength) || minLength < 0) {
      throw new ConfigError(`${base}compress.minLength`, minLength, 'a whole number of bytes, 0 or more');
    }
    compressor = createCompressor(compress.algorithm, { level: compress.level }, `${base}compress`);
  }
  const msgpack = serializer === 'msgpack' ? createMsgpackSerializer(`${base}serializer`) : undefined;
  return new LarderCodec(serializer, msgpack, compressor, minLength, maxDecompressed);
}

class LarderCodec implements Codec {
  /** Reads msgpack envelopes for a json codec too; created on first need. */
  private msgpackReader: MsgpackSerializer | string | undefined;

  constructor(
    readonly serializer: 'json' | 'msgpack',
    private readonly msgpack: MsgpackSerializer | undefined,
    private readonly compressor: Compressor | undefined,
    private readonly minLength: number,
    private readonly maxDecompressed: number,
  ) {
    this.msgpackReader = msgpack;
  }

  encode(value: unknown): Payload {
    if (typeof value === 'number' && Number.isSafeInteger(value)) return `${value}`;
    if (value === undefined) {
      throw new SerializationError(
        'Cannot cache undefined: get() returns undefined for a miss, so it could not be told apart. Store null instead.',
      );
    }
    const payload = this.msgpack ? this.msgpack.encode(value) : stringifyValue(value);
    return this.compressor ? this.compress(this.compressor, payload) : payload;
  }

  decode(payload: Payload): unknown {
    try {
      if (typeof payload === 'string') {
        const first = payload.charCodeAt(0);
        if (first >= MSGPACK_MARKER && first <= LAST_RESERVED_MARKER) {
          throw new SerializationError(
            'Stored value is a binary envelope but arrived as a string: have the Redis client return Buffers for this cache.',
          );
        }
        return parseValue(payload);
      }
      const view: unknown = payload;
      if (!(view instanceof Uint8Array)) {
        throw new SerializationError(`Cannot decode ${typeof view}: a payload is a string or a Buffer.`);
      }
      // A plain Uint8Array (some clients return one) is viewed as a Buffer, not copied.
      const bytes = Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
      const marker = bytes[0];
      if (marker === MSGPACK_MARKER) return this.readMsgpack(bytes);
      if (marker === COMPRESSED_MARKER) return this.decompress(bytes);
      if (marker !== undefined && marker > COMPRESSED_MARKER && marker <= LAST_RESERVED_MARKER) {
        throw new SerializationError(
          `Stored value starts with the unknown envelope marker 0x0${marker}; it was probably written by a newer ` +
            'larder version. It is treated as unreadable (a cache miss).',
        );
      }
      return parseValue(bytes.toString('utf8'));
    } catch (error) {
      throw asSerializationError(error, 'decode');
    }
  }

  private compress(compressor: Compressor, payload: Payload): Payload {
    let bytes: Buffer;
    let inner: number;
    if (typeof payload === 'string') {
      if (payload.length * 3 < this.minLength) return payload; // at most 3 UTF-8 bytes per UTF-16 unit
      bytes = Buffer.from(payload, 'utf8');
      inner = INNER_JSON;
    } else {
      bytes = payload;
      inner = INNER_MSGPACK;
    }
    if (bytes.length < this.minLength) return payload;
    let compressed: Buffer;
    try {
      compressed = compressor.compress(bytes);
    } catch (error) {
      throw new SerializationError(
        `Cannot compress the value with ${compressor.algorithm}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    if (compressed.length + 3 >= bytes.length) return payload; // compression must pay for itself
    const envelope = Buffer.allocUnsafe(compressed.length + 3);
    envelope[0] = COMPRESSED_MARKER;
    envelope[1] = compressor.id;
    envelope[2] = inner;
    compressed.copy(envelope, 3);
    return envelope;
  }

  private decompress(envelope: Buffer): unknown {
    if (envelope.length < 4) {
      throw new SerializationError(
        'Stored compressed value is truncated; it is treated as unreadable (a cache miss).',
      );
    }
    const reader = compressorForId(envelope[1]);
    if (typeof reader === 'string') {
      throw new SerializationError(
        `Stored value cannot be decompressed: ${reader}. It is treated as a cache miss.`,
      );
    }
    const inner = envelope[2];
    if (inner !== INNER_JSON && inner !== INNER_MSGPACK) {
      throw new SerializationError(
        `Stored compressed value has the unknown inner format ${inner}; it is treated as a cache miss.`,
      );
    }
    let raw: Buffer;
    try {
      raw = reader.decompress(envelope.subarray(3), this.maxDecompressed);
    } catch (error) {
      const tooLarge = (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
      throw new SerializationError(
        tooLarge
          ? `Stored ${reader.algorithm} value inflates past maxDecompressedLength (${this.maxDecompressed} bytes); it is treated as a cache miss.`
          : `Stored ${reader.algorithm} value cannot be decompressed (${(error as Error).message}); it is treated as a cache miss.`,
        { cause: error },
      );
    }
    if (inner === INNER_MSGPACK) {
      if (raw[0] !== MSGPACK_MARKER) {
        throw new SerializationError(
          'Stored compressed value does not hold the msgpack envelope it declares; treated as a cache miss.',
        );
      }
      return this.readMsgpack(raw);
    }
    return parseValue(raw.toString('utf8'));
  }

  private readMsgpack(envelope: Buffer): unknown {
    if (this.msgpackReader === undefined) {
      try {
        this.msgpackReader = createMsgpackSerializer();
      } catch (error) {
        this.msgpackReader = (error as Error).message;
      }
    }
    if (typeof this.msgpackReader === 'string') {
      throw new SerializationError(
        `Stored value was written by the msgpack serializer and cannot be read here: install msgpackr (npm install msgpackr). (${this.msgpackReader})`,
      );
    }
    return this.msgpackReader.decode(envelope);
  }
}

/**
 * Bytes a payload takes in a store (UTF-8 length for text).
 *
 * @example
 * payloadByteLength('héllo'); // 6
 * payloadByteLength(Buffer.alloc(3)); // 3
 */
export function payloadByteLength(p: Payload): number {
  return typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : p.byteLength;
}

/**
 * True when two payloads hold the same bytes (as Redis compares them), whether each is a
 * string or a Buffer.
 *
 * @example samePayload('"a"', Buffer.from('"a"')) // true
 */
export function samePayload(a: Payload, b: Payload): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a === b;
  if (typeof a !== 'string' && typeof b !== 'string') return a.equals(b);
  return Buffer.from(a).equals(Buffer.from(b));
}
