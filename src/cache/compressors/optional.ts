/**
 * @module larder/cache/compressors/optional — adapters for the optional native compressors:
 * `lz4-napi` (prebuilt binaries shipped as npm packages) and `zstd-napi` (built from its
 * bundled zstd sources when no prebuilt binary can be downloaded). Neither is a dependency
 * of larder; each is loaded only when a cache asks for it (or reads a value written with it).
 *
 * Both libraries size their output from a length the input declares, so the bound against
 * decompression bombs is checked on that declared length before any allocation.
 */
import { loadOptionalPeer } from '../optional-peer.js';
import type { Compressor } from './index.js';

/** The part of lz4-napi we use: LZ4 block with a 4-byte little-endian size prefix (lz4_flex). */
interface Lz4Napi {
  compressSync(data: Buffer): Buffer;
  uncompressSync(data: Uint8Array): Buffer;
}

/** The part of zstd-napi we use: one standard zstd frame. */
interface ZstdNapi {
  compress(data: Uint8Array, parameters?: { compressionLevel?: number }): Buffer;
  decompress(data: Uint8Array): Buffer;
}

/**
 * lz4 via lz4-napi, or why not (as a string).
 *
 * @example
 * const lz4 = loadLz4(4);
 * if (typeof lz4 === 'string') console.warn(lz4); // "lz4-napi is not installed: run `npm install lz4-napi`"
 */
export function loadLz4(id: number): Compressor | string {
  const peer = loadOptionalPeer<Lz4Napi>('lz4-napi');
  if (!peer.ok) return `lz4 needs the optional package lz4-napi (${peer.reason})`;
  const lz4 = peer.module;
  return {
    algorithm: 'lz4',
    id,
    compress: (input) => lz4.compressSync(input),
    decompress(input, maxOutputLength) {
      if (input.length < 4) throw new Error('lz4 data is truncated');
      const declared = input.readUInt32LE(0);
      if (declared > maxOutputLength) {
        throw tooLarge(`lz4 data declares ${declared} bytes, over the ${maxOutputLength}-byte bound`);
      }
      return lz4.uncompressSync(input);
    },
  };
}

/**
 * zstd via zstd-napi (for a Node without `zlib.zstdCompressSync`), or why not.
 *
 * @example
 * const zstd = loadZstdNapi(5, 3);
 * if (typeof zstd !== 'string') zstd.compress(Buffer.from('…'));
 */
export function loadZstdNapi(id: number, level: number | undefined): Compressor | string {
  const peer = loadOptionalPeer<ZstdNapi>('zstd-napi');
  if (!peer.ok) {
    return `zstd needs Node.js >= 22.15 (built-in zstd) or the optional package zstd-napi (${peer.reason})`;
  }
  const zstd = peer.module;
  const parameters = level === undefined ? undefined : { compressionLevel: level };
  return {
    algorithm: 'zstd',
    id,
    compress: (input) => zstd.compress(input, parameters),
    decompress(input, maxOutputLength) {
      const declared = zstdContentSize(input);
      if (declared === undefined) throw new Error('zstd frame does not declare its content size');
      if (declared > maxOutputLength) {
        throw tooLarge(`zstd data declares ${declared} bytes, over the ${maxOutputLength}-byte bound`);
      }
      const output = zstd.decompress(input);
      // A second, concatenated frame is only caught here, after the fact.
      if (output.length > maxOutputLength)
        throw new Error(`zstd data inflates past the ${maxOutputLength}-byte bound`);
      return output;
    },
  };
}

/** The error node:zlib throws for `maxOutputLength`, so the codec reports every bound alike. */
function tooLarge(message: string): RangeError {
  return Object.assign(new RangeError(message), { code: 'ERR_BUFFER_TOO_LARGE' });
}

/**
 * The Frame_Content_Size of the zstd frame at the start of `data` (RFC 8878 §3.1.1.1), or
 * `undefined` when it is not a zstd frame or does not declare its size.
 *
 * @example
 * zstdContentSize(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, 11])); // 11
 */
export function zstdContentSize(data: Uint8Array): number | undefined {
  // Magic number 0xFD2FB528, little-endian.
  if (data.length < 6 || data[0] !== 0x28 || data[1] !== 0xb5 || data[2] !== 0x2f || data[3] !== 0xfd)
    return undefined;
  const descriptor = data[4];
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const dictionaryIdSize = [0, 1, 2, 4][descriptor & 3];
  const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag];
  if (fcsSize === 0) return undefined;
  const at = 5 + (singleSegment ? 0 : 1) + dictionaryIdSize;
  if (data.length < at + fcsSize) return undefined;
  const view = new DataView(data.buffer, data.byteOffset + at, fcsSize);
  switch (fcsSize) {
    case 1:
      return view.getUint8(0);
    case 2:
      return view.getUint16(0, true) + 256;
    case 4:
      return view.getUint32(0, true);
    default:
      return Number(view.getBigUint64(0, true));
  }
}
