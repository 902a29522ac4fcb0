/**
 * @module larder/cache/compressors — the compressors a cache can put in front of its
 * serializer: `zlib` (deflate), `gzip` and `brotli` from node:zlib, `zstd` from node:zlib
 * when this Node has it (>= 22.15) or else the optional `zstd-napi`, and `lz4` from the
 * optional `lz4-napi`.
 *
 * The sync node:zlib calls are deliberate: for cache-sized values (kilobytes) a sync call
 * costs tens of microseconds, less than the thread-pool hop of the async API; the trade-off
 * is that a multi-megabyte value blocks the event loop while it is (de)compressed, so keep
 * such values out of a compressed cache or raise `minLength` accordingly.
 *
 * Each compressor has a one-byte id that the compressed envelope records (see `codec.ts`),
 * so a value is always decompressed with the algorithm that wrote it, whatever the cache's
 * configuration says today.
 */
import zlib from 'node:zlib';
import { ConfigError } from '../../errors.js';
import { loadLz4, loadZstdNapi } from './optional.js';

/** The algorithms a cache's `compress.algorithm` accepts. @example const algorithm: CompressionAlgorithm = 'brotli'; */
export type CompressionAlgorithm = 'zlib' | 'gzip' | 'brotli' | 'lz4' | 'zstd';

/**
 * Envelope byte of each algorithm. Stored in values: never renumber.
 *
 * @example
 * compressorForId(ALGORITHM_IDS.zlib); // the zlib compressor
 */
export const ALGORITHM_IDS: Readonly<Record<CompressionAlgorithm, number>> = {
  zlib: 1,
  gzip: 2,
  brotli: 3,
  lz4: 4,
  zstd: 5,
};

/**
 * A synchronous compressor. `decompress` throws on bad input or when the output would pass the bound.
 *
 * @example
 * const gzip: Compressor = createCompressor('gzip');
 * gzip.decompress(gzip.compress(bytes), 64 * 1024 * 1024);
 */
export interface Compressor {
  readonly algorithm: CompressionAlgorithm;
  /** The byte the compressed envelope records ({@link ALGORITHM_IDS}). */
  readonly id: number;
  compress(input: Buffer): Buffer;
  /** Throws when `input` is corrupt or inflates to more than `maxOutputLength` bytes. */
  decompress(input: Buffer, maxOutputLength: number): Buffer;
}

/** Accepted levels and the default, per algorithm (`undefined`: the algorithm has no levels). */
const LEVELS: Readonly<
  Record<CompressionAlgorithm, { min: number; max: number; default: number } | undefined>
> = {
  zlib: { min: -1, max: 9, default: 6 },
  gzip: { min: -1, max: 9, default: 6 },
  // Brotli's own default (11) takes milliseconds per value; 4 compresses better than zlib 6 as fast.
  brotli: { min: 0, max: 11, default: 4 },
  lz4: undefined,
  zstd: { min: -131072, max: 22, default: 3 },
};

/** `zlib.zstd*Sync` exist from Node 22.15 / 23.8 on; @types/node 20 does not declare them. */
interface NodeZstd {
  zstdCompressSync(input: Buffer, options: object): Buffer;
  zstdDecompressSync(input: Buffer, options: object): Buffer;
  constants: { ZSTD_c_compressionLevel: number };
}

function nodeZstd(): NodeZstd | undefined {
  const z = zlib as unknown as Partial<NodeZstd>;
  return typeof z.zstdCompressSync === 'function' && typeof z.zstdDecompressSync === 'function'
    ? (zlib as unknown as NodeZstd)
    : undefined;
}

function build(algorithm: CompressionAlgorithm, level: number | undefined): Compressor | string {
  const id = ALGORITHM_IDS[algorithm];
  switch (algorithm) {
    case 'zlib':
      return {
        algorithm,
        id,
        compress: (input) => zlib.deflateSync(input, { level }),
        decompress: (input, maxOutputLength) => zlib.inflateSync(input, { maxOutputLength }),
      };
    case 'gzip':
      return {
        algorithm,
        id,
        compress: (input) => zlib.gzipSync(input, { level }),
        decompress: (input, maxOutputLength) => zlib.gunzipSync(input, { maxOutputLength }),
      };
    case 'brotli':
      return {
        algorithm,
        id,
        compress: (input) =>
          zlib.brotliCompressSync(input, {
            params: {
              [zlib.constants.BROTLI_PARAM_QUALITY]: level ?? 4,
              [zlib.constants.BROTLI_PARAM_SIZE_HINT]: input.length,
            },
          }),
        decompress: (input, maxOutputLength) => zlib.brotliDecompressSync(input, { maxOutputLength }),
      };
    case 'zstd': {
      const native = nodeZstd();
      if (native) {
        const params = { [native.constants.ZSTD_c_compressionLevel]: level ?? 3 };
        return {
          algorithm,
          id,
          compress: (input) => native.zstdCompressSync(input, { params, pledgedSrcSize: input.length }),
          decompress: (input, maxOutputLength) => native.zstdDecompressSync(input, { maxOutputLength }),
        };
      }
      return loadZstdNapi(id, level);
    }
    case 'lz4':
      return loadLz4(id);
  }
}

/**
 * The compressor a cache writes with. Throws `ConfigError` at `path` for an unknown
 * algorithm, a level out of range, or an optional package that is not installed.
 *
 * @example
 * const brotli = createCompressor('brotli', { level: 5 }, 'caches.default.compress');
 * brotli.decompress(brotli.compress(Buffer.from('hello '.repeat(100))), 1 << 20).length; // 600
 */
export function createCompressor(
  algorithm: CompressionAlgorithm,
  options: { level?: number | undefined } = {},
  path = 'compress',
): Compressor {
  if (!Object.hasOwn(ALGORITHM_IDS, algorithm)) {
    throw new ConfigError(`${path}.algorithm`, algorithm, `one of ${Object.keys(ALGORITHM_IDS).join(', ')}`);
  }
  const range = LEVELS[algorithm];
  const { level } = options;
  if (level !== undefined) {
    if (!range)
      throw new ConfigError(`${path}.level`, level, `no level: ${algorithm} has no compression levels`);
    if (!Number.isInteger(level) || level < range.min || level > range.max) {
      throw new ConfigError(
        `${path}.level`,
        level,
        `an integer from ${range.min} to ${range.max} for ${algorithm}`,
      );
    }
  }
  const built = build(algorithm, level ?? range?.default);
  if (typeof built === 'string') {
    throw new ConfigError(`${path}.algorithm`, algorithm, `an available algorithm: ${built}`);
  }
  return built;
}

const readers = new Map<number, Compressor | string>();

/**
 * The compressor that reads envelopes with algorithm byte `id`, whatever the cache is
 * configured with; or, as a string, why it cannot (unknown id, optional package missing).
 *
 * @example
 * const reader = compressorForId(ALGORITHM_IDS.gzip);
 * if (typeof reader !== 'string') reader.decompress(bytes, 64 * 1024 * 1024);
 */
export function compressorForId(id: number): Compressor | string {
  let reader = readers.get(id);
  if (reader === undefined) {
    const algorithm = (Object.keys(ALGORITHM_IDS) as CompressionAlgorithm[]).find(
      (a) => ALGORITHM_IDS[a] === id,
    );
    reader = algorithm
      ? build(algorithm, LEVELS[algorithm]?.default)
      : `unknown compression algorithm id ${id} (written by a newer larder version?)`;
    readers.set(id, reader);
  }
  return reader;
}
