/**
 * The signed-cookie session store: round trips (plain and deflated), secret rotation, every
 * kind of bad cookie decoding to `undefined`, the `name=value` size limit, and a property
 * test that only values `encode` produced ever decode.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { ConfigError, SessionTooLargeError } from '../../src/errors.js';
import type { StoredSession } from '../../src/session/store.js';
import { signedCookieStore } from '../../src/session/stores/signed-cookie.js';

const NEW = 'n'.repeat(32);
const OLD = 'o'.repeat(32);
const NOW = 1_700_000_000_000;

function session(fields: Record<string, unknown> = { cart: ['sku-1'], views: 3 }): StoredSession {
  return {
    fields: new Map(Object.entries(fields).map(([name, value]) => [name, JSON.stringify(value)])),
    meta: { created: NOW - 1000, lastSeen: NOW },
  };
}

/** Replaces the character at `index` with another base64url character. */
function flip(value: string, index: number): string {
  const c = value[index] === 'A' ? 'B' : 'A';
  return value.slice(0, index) + c + value.slice(index + 1);
}

describe('signedCookieStore', () => {
  const store = signedCookieStore({ secrets: [NEW] });

  it('round-trips fields and meta, and looks like payload.signature', () => {
    const original = session();
    original.meta.expiry = 's:3600';
    original.meta.userId = '42';
    original.meta.userAgent = 'Mozilla/5.0 (X11; Linux x86_64)';
    const value = store.encode(original, 'sessionid');
    assert.match(value, /^\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(store.decode(value, NOW), original);
    assert.equal(store.kind, 'cookie');
  });

  it('round-trips an empty session and meta without the optional fields', () => {
    const original = session({});
    const decoded = store.decode(store.encode(original, 'sid'), NOW);
    assert.deepEqual(decoded, original);
    assert.deepEqual(Object.keys(decoded!.meta).sort(), ['created', 'lastSeen']);
  });

  it('deflates a payload when that makes it shorter (marked with a leading dot) and reads it back', () => {
    const original = session({ note: 'abc '.repeat(300) });
    const value = store.encode(original, 'sessionid');
    assert.ok(value.startsWith('.'), 'a repetitive payload is stored deflated');
    assert.ok(value.length < 1200 / 2);
    assert.deepEqual(store.decode(value, NOW), original);
    assert.ok(!store.encode(session({ a: 1 }), 'sessionid').startsWith('.'), 'a tiny payload is not');
  });

  it('does not check expiry itself: Session does, from the meta', () => {
    const old = session();
    old.meta.lastSeen = 0;
    old.meta.expiry = `d:${NOW - 1}`;
    assert.deepEqual(store.decode(store.encode(old, 'sessionid'), NOW), old);
  });

  it('rotation: an old secret still verifies, new cookies are signed with the newest', () => {
    const before = signedCookieStore({ secrets: [OLD] });
    const after = signedCookieStore({ secrets: [NEW, OLD] });
    const oldCookie = before.encode(session(), 'sessionid');
    assert.deepEqual(after.decode(oldCookie, NOW), session());
    const newCookie = after.encode(session(), 'sessionid');
    assert.notEqual(newCookie, oldCookie);
    assert.deepEqual(store.decode(newCookie, NOW), session(), 'verifies with the newest secret alone');
    assert.equal(before.decode(newCookie, NOW), undefined, 'not signed with the old secret');
    // Once the old secret is retired its cookies stop working.
    assert.equal(store.decode(oldCookie, NOW), undefined);
  });

  it('rejects tampered, swapped, truncated, empty, garbage and unknown-secret values', () => {
    const value = store.encode(session(), 'sessionid');
    const dot = value.lastIndexOf('.');
    const [payload, signature] = [value.slice(0, dot), value.slice(dot + 1)];
    const other = store.encode(session({ admin: true }), 'sessionid');
    const otherSignature = other.slice(other.lastIndexOf('.') + 1);
    const forged = Buffer.from(JSON.stringify([{ admin: 'true' }, NOW, NOW])).toString('base64url');
    const cases: Record<string, string> = {
      'tampered payload': flip(value, 2),
      'tampered signature': flip(value, value.length - 3),
      'swapped signature': `${payload}.${otherSignature}`,
      'forged payload, old signature': `${forged}.${signature}`,
      'unknown secret': signedCookieStore({ secrets: ['x'.repeat(32)] }).encode(session(), 'sessionid'),
      'truncated by one': value.slice(0, -1),
      'truncated to the payload': payload,
      'signature only': `.${signature}`,
      'signature padded': `${value}=`,
      'extra dot': `${payload}..${signature}`,
      empty: '',
      dot: '.',
      garbage: 'not a cookie at all',
      'too long': `${'A'.repeat(9000)}.${signature}`,
    };
    for (const [name, bad] of Object.entries(cases)) {
      assert.equal(store.decode(bad, NOW), undefined, name);
    }
    assert.equal(store.decode(undefined as unknown as string, NOW), undefined, 'not a string');
  });

  it('a correctly signed value whose JSON is not a session decodes to undefined, never half-parsed', () => {
    const key = createHmac('sha256', NEW).update('larder.session.signed-cookie').digest();
    const signed = (json: string, deflate = false) => {
      const payload = deflate
        ? `.${deflateRawSync(Buffer.from(json)).toString('base64url')}`
        : Buffer.from(json).toString('base64url');
      return `${payload}.${createHmac('sha256', key).update(payload).digest('base64url')}`;
    };
    // The helper signs as the store does: a valid session proves it.
    assert.deepEqual(store.decode(signed(JSON.stringify([{ a: '1' }, 1, 2])), NOW), {
      fields: new Map([['a', '1']]),
      meta: { created: 1, lastSeen: 2 },
    });
    const bad = [
      'not json',
      '{}',
      '[]',
      '[{}, 1]',
      '[null, 1, 2]',
      '[[], 1, 2]',
      '[{"a": 1}, 1, 2]',
      '[{"a": "1"}, "1", 2]',
      '[{"a": "1"}, 1, null]',
      '[{"a": "1"}, 1, 2, 5]',
      '[{"a": "1"}, 1, 2, null, {}]',
      '[{"a": "1"}, 1, 2, null, null, null, null]',
      '[{"__proto__": {"polluted": "yes"}}, 1, 2]',
    ];
    for (const json of bad) {
      assert.equal(store.decode(signed(json), NOW), undefined, json);
      assert.equal(store.decode(signed(json, true), NOW), undefined, `${json} (deflated)`);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('refuses a deflated payload that inflates past the cap (zip bomb)', () => {
    const key = createHmac('sha256', NEW).update('larder.session.signed-cookie').digest();
    const json = JSON.stringify([{ a: 'x'.repeat(2 * 1024 * 1024) }, 1, 2]);
    const payload = `.${deflateRawSync(Buffer.from(json), { level: 9 }).toString('base64url')}`;
    assert.ok(payload.length < 8192, 'the bomb fits in the value limit');
    const value = `${payload}.${createHmac('sha256', key).update(payload).digest('base64url')}`;
    assert.equal(store.decode(value, NOW), undefined);
  });

  it('throws SessionTooLargeError with size and limit when name=value is over maxBytes', () => {
    const small = signedCookieStore({ secrets: [NEW], maxBytes: 200 });
    const random = randomBytes(300).toString('base64');
    const value = store.encode(session({ random }), 'sessionid');
    assert.throws(
      () => small.encode(session({ random }), 'sessionid'),
      (error: unknown) =>
        error instanceof SessionTooLargeError &&
        error.limit === 200 &&
        error.size === 'sessionid'.length + 1 + value.length &&
        error.status === 413,
    );
    // The limit counts the cookie name: a value that fits under a short name fails under a long one.
    const fits = store.encode(session({ a: 1 }), 'x');
    const exact = signedCookieStore({ secrets: [NEW], maxBytes: 2 + fits.length });
    assert.equal(exact.encode(session({ a: 1 }), 'x'), fits);
    assert.throws(() => exact.encode(session({ a: 1 }), 'xy'), SessionTooLargeError);
  });

  it('defaults maxBytes to 4096', () => {
    const value = store.encode(session({ big: 'x'.repeat(4000) }), 'sessionid');
    assert.ok(value.length < 4096, 'compressible data fits');
    // Random base64 does not deflate below 3/4 of its length: 4000 characters cannot fit.
    const random = randomBytes(3000).toString('base64');
    assert.throws(
      () => store.encode(session({ random }), 'sessionid'),
      (error: unknown) => error instanceof SessionTooLargeError && error.limit === 4096,
    );
  });

  it('a "__proto__" field round-trips as a plain field without touching prototypes', () => {
    const original: StoredSession = {
      fields: new Map([
        ['__proto__', '{"polluted":true}'],
        ['constructor', '"c"'],
        ['toString', '1'],
      ]),
      meta: { created: NOW, lastSeen: NOW },
    };
    for (const big of [false, true]) {
      if (big) original.fields.set('pad', JSON.stringify('z'.repeat(500)));
      const value = store.encode(original, 'sessionid');
      if (big) assert.ok(value.startsWith('.'), 'the deflated path too');
      const decoded = store.decode(value, NOW);
      assert.deepEqual(decoded, original);
      assert.equal(decoded!.fields.get('__proto__'), '{"polluted":true}');
      assert.equal(Object.getPrototypeOf(decoded!.meta), Object.prototype);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('validates its options at construction', () => {
    assert.throws(() => signedCookieStore({ secrets: [] }), ConfigError);
    assert.throws(() => signedCookieStore({ secrets: [''] }), ConfigError);
    assert.throws(() => signedCookieStore({ secrets: [NEW], maxBytes: 0 }), ConfigError);
  });

  describe('properties', () => {
    const fieldName = fc.oneof(
      { weight: 4, arbitrary: fc.string({ maxLength: 10, unit: 'binary' }) },
      { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', '\u0000') },
    );
    const json = fc.jsonValue().map((v) => JSON.stringify(v));
    const stored = fc.record({
      fields: fc.uniqueArray(fc.tuple(fieldName, json), { selector: ([n]) => n, maxLength: 6 }),
      created: fc.integer({ min: 0, max: 2 ** 45 }),
      lastSeen: fc.integer({ min: 0, max: 2 ** 45 }),
      expiry: fc.option(fc.constantFrom('0', 's:60', 'd:1700000000000'), { nil: undefined }),
      userId: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined }),
    });
    const toSession = (s: typeof stored extends fc.Arbitrary<infer T> ? T : never): StoredSession => ({
      fields: new Map(s.fields),
      meta: {
        created: s.created,
        lastSeen: s.lastSeen,
        ...(s.expiry ? { expiry: s.expiry } : {}),
        ...(s.userId ? { userId: s.userId } : {}),
      },
    });
    const big = signedCookieStore({ secrets: [NEW], maxBytes: 1 << 20 });

    it('encode then decode is the identity', () => {
      fc.assert(
        fc.property(stored, (s) => {
          const original = toSession(s);
          assert.deepEqual(big.decode(big.encode(original, 'sid'), NOW), original);
        }),
        { numRuns: 500 },
      );
    });

    it('decode never throws, and arbitrary strings never decode', () => {
      const candidate = fc.oneof(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: fc.constantFrom(...'AZaz09-_.=') }),
        fc.tuple(fc.base64String(), fc.base64String()).map(([a, b]) => `${a}.${b}`),
      );
      fc.assert(
        fc.property(candidate, (value) => {
          assert.equal(big.decode(value, NOW), undefined);
        }),
        { numRuns: 2000 },
      );
    });

    it('any change to an encoded value makes it undecodable', () => {
      fc.assert(
        fc.property(stored, fc.nat(), fc.string({ maxLength: 3 }), fc.nat(3), (s, at, insert, cut) => {
          const value = big.encode(toSession(s), 'sid');
          const i = at % value.length;
          const changed = value.slice(0, i) + insert + value.slice(i + cut);
          if (changed === value) return;
          assert.equal(big.decode(changed, NOW), undefined);
        }),
        { numRuns: 1000 },
      );
    });
  });
});
