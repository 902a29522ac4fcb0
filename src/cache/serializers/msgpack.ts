/**
 * @module larder/cache/serializers/msgpack — the optional binary serializer, on msgpackr
 * (an optional peer: `npm install msgpackr`).
 *
 * Output is a binary envelope: `[0x01][flags][MessagePack bytes]`, where flags bit 0 says
 * "the tree contains larder tags" (decoding then walks it to rebuild them) and bits 1–7
 * are reserved (a reader rejects bits it does not know, so a future format fails loudly).
 *
 * msgpackr is set up so that stored bytes depend only on the value, never on process
 * history, and decoding never runs generated code for our own output:
 * - `useRecords: false` — plain MessagePack maps; no record structures shared between
 *   calls (which would make old bytes unreadable by a fresh process), no `new Function`
 *   record readers for the data we write.
 * - `moreTypes: true` — `Set` and `Uint8Array` keep their types (`Buffer` is `bin` and
 *   decodes as `Buffer`); `useBigIntExtension` — bigints of any size; `Date` uses the
 *   standard timestamp extension (millisecond precision, invalid dates survive).
 * - `structuredClone: false` — no reference/cycle extensions (cycles are refused before
 *   packing); `copyBuffers: true` — decoded bytes never alias the payload; `variableMapSize`
 *   — objects with more than 65,535 keys stay valid.
 * msgpack cannot tell a `Map` from an object, nor say `-0`; those (and objects with the
 * reserved `"\u0000"` key or an own `__proto__` key, which msgpackr would rename) are tagged
 * as in the JSON serializer. Unlike JSON, `undefined` inside objects and arrays is kept.
 * Strings are UTF-8: a lone surrogate comes back as U+FFFD (the JSON serializer keeps it).
 */
import type { Packr } from 'msgpackr';
import { ConfigError, SerializationError } from '../../errors.js';
import { loadOptionalPeer } from '../optional-peer.js';
import { revive } from './revive.js';
import { asSerializationError, isWireReady, MSGPACK_TARGET, toTagged } from './tags.js';

/**
 * First byte of a msgpack envelope.
 *
 * @example
 * if (payload[0] === MSGPACK_MARKER) msgpack.decode(payload);
 */
export const MSGPACK_MARKER = 0x01;
/** Flags bit: the MessagePack tree contains larder tags. */
const FLAG_TAGGED = 0x01;
/** Unpacks from byte 2 without creating a subarray (msgpackr reads `start`, never writes it). */
const AFTER_HEADER = Object.freeze({ start: 2 });

/**
 * Encodes values as msgpack envelopes and decodes them back.
 *
 * @example
 * const envelope = serializer.encode({ at: new Date(0) }); // <Buffer 01 00 81 a2 61 74 d6 ff …>
 */
export interface MsgpackSerializer {
  /** The whole envelope, marker and flags included. */
  encode(value: unknown): Buffer;
  /** Decodes a whole envelope (its first byte is {@link MSGPACK_MARKER}). */
  decode(envelope: Buffer): unknown;
}

/**
 * Builds the msgpack serializer, loading msgpackr now. Throws `ConfigError` (at `path`)
 * when msgpackr is not installed.
 *
 * @example
 * const msgpack = createMsgpackSerializer('caches.default.serializer');
 * msgpack.decode(msgpack.encode(new Map([[1, 'a']]))); // Map(1) { 1 => 'a' }
 */
export function createMsgpackSerializer(path = 'serializer'): MsgpackSerializer {
  const peer = loadOptionalPeer<typeof import('msgpackr')>('msgpackr');
  if (!peer.ok) {
    throw new ConfigError(
      path,
      'msgpack',
      `'json', or msgpack with its optional peer installed (${peer.reason})`,
    );
  }
  const packr: Packr = new peer.module.Packr({
    useRecords: false,
    moreTypes: true,
    useBigIntExtension: true,
    structuredClone: false,
    copyBuffers: true,
    variableMapSize: true,
    mapsAsObjects: true,
    int64AsType: 'bigint',
  });

  return {
    encode(value: unknown): Buffer {
      let tree = value;
      let flags = 0;
      let body: Buffer;
      try {
        if (!isWireReady(value, MSGPACK_TARGET)) {
          const result = toTagged(value, MSGPACK_TARGET);
          tree = result.value;
          if (result.tagged) flags |= FLAG_TAGGED;
        }
        body = packr.pack(tree);
      } catch (error) {
        throw asSerializationError(error, 'encode');
      }
      // A copy, not msgpackr's view: the view would pin msgpackr's whole shared write buffer
      // (8 KiB or more) for as long as a backend keeps the payload.
      const envelope = Buffer.allocUnsafe(body.length + 2);
      envelope[0] = MSGPACK_MARKER;
      envelope[1] = flags;
      body.copy(envelope, 2);
      return envelope;
    },

    decode(envelope: Buffer): unknown {
      if (envelope.length < 3) {
        throw new SerializationError(
          'Stored msgpack value is truncated; it is treated as unreadable (a cache miss).',
        );
      }
      const flags = envelope[1];
      if ((flags & ~FLAG_TAGGED) !== 0) {
        throw new SerializationError(
          `Stored msgpack value has unknown flags 0x${flags.toString(16)}; it was probably written by a newer ` +
            'larder version. It is treated as unreadable (a cache miss).',
        );
      }
      let tree: unknown;
      try {
        tree = packr.unpack(envelope, AFTER_HEADER);
      } catch (error) {
        throw new SerializationError(
          `Stored value is not valid msgpack (${(error as Error)?.message ?? String(error)}); it is treated as ` +
            'unreadable (a cache miss).',
          { cause: error },
        );
      }
      if ((flags & FLAG_TAGGED) === 0) return tree;
      try {
        return revive(tree);
      } catch (error) {
        throw asSerializationError(error, 'decode');
      }
    },
  };
}
