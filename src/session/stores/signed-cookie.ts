/** @module larder/session/stores/signed-cookie — the whole session in an HMAC-signed cookie value (Django's `signed_cookies`). */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { ConfigError, SessionTooLargeError } from '../../errors.js';
import type { CookieSessionStore, SessionMeta, StoredSession } from '../store.js';

/**
 * Options of {@link signedCookieStore}.
 *
 * @example
 * const options: SignedCookieStoreOptions = { secrets: [process.env.SESSION_SECRET!], maxBytes: 4096 };
 */
export interface SignedCookieStoreOptions {
  /** Signing secrets, newest first: cookies are signed with the first and verified against all. */
  secrets: string[];
  /**
   * Most bytes `name=value` may take; `encode` throws `SessionTooLargeError` beyond it.
   * @default 4096 (what every browser keeps, RFC 6265 §6.1)
   */
  maxBytes?: number;
}

/** Domain separation: a signature made for another purpose with the same secret never verifies here. */
const SALT = 'larder.session.signed-cookie';
/** Longer values are rejected before any parsing (browsers send at most ~4 KiB per cookie). */
const MIN_VALUE_LIMIT = 8192;
/** A zlib payload inflating past this is refused (a zip bomb, had anyone else the secret). */
const MAX_INFLATED = 1024 * 1024;
/** A SHA-256 HMAC in base64url: 32 bytes, 43 characters. */
const SIGNATURE_LENGTH = 43;
/** A payload: base64url, with a leading '.' when deflated (Django's marker). */
const PAYLOAD = /^\.?[A-Za-z0-9_-]+$/;

/**
 * A cookie session store: the fields and meta travel in the cookie, as
 * `base64url(JSON) "." base64url(HMAC-SHA256)` — the JSON deflated (and marked with a
 * leading `.`) when that makes it shorter. Anything malformed, tampered with or signed by
 * an unknown secret decodes to `undefined`; expiry is left to `Session` (it reads the meta).
 *
 * The data is signed, not encrypted: the client can read it. Keep secrets out of it.
 *
 * @example
 * const store = signedCookieStore({ secrets: [newSecret, oldSecret] });
 * const value = store.encode({ fields: new Map([['cart', '["sku-1"]']]), meta }, 'sessionid');
 * store.decode(value, Date.now()); // { fields: Map(1) { 'cart' => '["sku-1"]' }, meta }
 */
export function signedCookieStore(options: SignedCookieStoreOptions): CookieSessionStore {
  const { secrets, maxBytes = 4096 } = options;
  if (!Array.isArray(secrets) || secrets.length === 0 || !secrets.every((s) => typeof s === 'string' && s)) {
    throw new ConfigError(
      'sessions.secret',
      Array.isArray(secrets) ? `(${secrets.length} secrets)` : typeof secrets,
      'one or more non-empty secrets, newest first',
    );
  }
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new ConfigError('sessions.maxBytes', maxBytes, 'a positive whole number of bytes');
  }
  // One derived key per secret, computed once (Django's salted_hmac derives a key the same way).
  const keys = secrets.map((secret) => createHmac('sha256', secret).update(SALT).digest());
  const valueLimit = Math.max(MIN_VALUE_LIMIT, maxBytes);
  const sign = (payload: string, key: Buffer) =>
    createHmac('sha256', key).update(payload).digest('base64url');

  return {
    kind: 'cookie',
    name: 'signed-cookie',

    decode(value: string): StoredSession | undefined {
      if (typeof value !== 'string' || value.length > valueLimit) return undefined;
      const dot = value.lastIndexOf('.');
      if (dot <= 0) return undefined;
      const payload = value.slice(0, dot);
      const signature = Buffer.from(value.slice(dot + 1));
      if (signature.length !== SIGNATURE_LENGTH || !PAYLOAD.test(payload)) return undefined;
      // Comparing the base64url text (not decoded bytes) also rejects non-canonical encodings.
      const known = keys.some((key) => timingSafeEqual(Buffer.from(sign(payload, key)), signature));
      if (!known) return undefined;
      try {
        const bytes = payload.startsWith('.')
          ? inflateRawSync(Buffer.from(payload.slice(1), 'base64url'), { maxOutputLength: MAX_INFLATED })
          : Buffer.from(payload, 'base64url');
        return fromWire(JSON.parse(bytes.toString('utf8')));
      } catch {
        return undefined;
      }
    },

    encode(session: StoredSession, cookieName: string): string {
      const json = JSON.stringify(toWire(session));
      const plain = Buffer.from(json, 'utf8');
      let payload = plain.toString('base64url');
      if (plain.length > 64 && plain.length <= MAX_INFLATED) {
        const packed = `.${deflateRawSync(plain).toString('base64url')}`;
        if (packed.length < payload.length) payload = packed;
      }
      const value = `${payload}.${sign(payload, keys[0]!)}`;
      // The browser's limit is on `name=value`.
      const size = cookieName.length + 1 + value.length;
      if (size > maxBytes) throw new SessionTooLargeError(size, maxBytes);
      return value;
    },
  };
}

/** Meta after created and lastSeen, in wire order. */
const OPTIONAL_META = ['expiry', 'userId', 'userAgent'] as const;

/** `[fields, created, lastSeen, expiry?, userId?, userAgent?]`: positional to keep the cookie small. */
function toWire(session: StoredSession): unknown[] {
  const { meta } = session;
  // fromEntries defines own properties, so a field named "__proto__" stays a plain key.
  const wire: unknown[] = [Object.fromEntries(session.fields), meta.created, meta.lastSeen];
  for (const name of OPTIONAL_META) wire.push(meta[name] || null);
  while (wire.length > 3 && wire.at(-1) === null) wire.pop();
  return wire;
}

/** The session a decoded wire array holds, or `undefined` unless every part has its type. */
function fromWire(wire: unknown): StoredSession | undefined {
  if (!Array.isArray(wire) || wire.length < 3 || wire.length > 3 + OPTIONAL_META.length) return undefined;
  const [object, created, lastSeen] = wire;
  if (typeof object !== 'object' || object === null || Array.isArray(object)) return undefined;
  if (!Number.isFinite(created) || !Number.isFinite(lastSeen)) return undefined;
  const fields = new Map<string, string>();
  // Own entries only: JSON.parse makes "__proto__" an own key, never a prototype.
  for (const [name, text] of Object.entries(object)) {
    if (typeof text !== 'string') return undefined;
    fields.set(name, text);
  }
  const meta: SessionMeta = { created: created as number, lastSeen: lastSeen as number };
  for (let i = 0; i < OPTIONAL_META.length; i++) {
    const item: unknown = wire[3 + i];
    if (item === undefined || item === null) continue;
    if (typeof item !== 'string') return undefined;
    if (item) meta[OPTIONAL_META[i]!] = item;
  }
  return { fields, meta };
}
