/**
 * Session ids: 256 random bits, base64url (43 characters). Anything else a client sends
 * is not an id of ours and starts a fresh session — ids are only ever minted here, so a
 * session fixation attack has nothing to plant.
 */
import { randomBytes } from 'node:crypto';

const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A new session id. @example newSessionId() // 'q3J…' (43 characters) */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/** Whether `value` has the shape of an id this module mints. @example isSessionId('x') // false */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}
