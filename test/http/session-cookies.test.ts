/**
 * The session cookie's strings, made without `cookie` on the hot path: `SessionCookies`
 * (Set-Cookie values with a cached attribute tail) must give exactly what `cookie`'s
 * `serialize` gives, and a cached string must change when the id, the age or the second of
 * its expiry changes; `cookieValue` must read a `Cookie` header exactly as `cookie`'s
 * `parse(header)[name]` does.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse, serialize } from 'cookie';
import fc from 'fast-check';
import { cookieValue, SessionCookies } from '../../src/http/session.js';
import { newSessionId } from '../../src/session/ids.js';

type Options = ConstructorParameters<typeof SessionCookies>[0];

const DEFAULTS: Options = {
  name: 'sessionid',
  maxAge: 1_209_600_000,
  path: '/',
  secure: 'auto',
  httpOnly: true,
  sameSite: 'lax',
};

/** What `cookie` gives for the same cookie (what the session middleware used to send). */
function expected(options: Options, value: string, secure: boolean, maxAge?: number, now = 0): string {
  return serialize(options.name, value, {
    path: options.path,
    ...(options.domain !== undefined ? { domain: options.domain } : {}),
    secure,
    httpOnly: options.httpOnly,
    sameSite: options.sameSite,
    ...(maxAge !== undefined ? { maxAge, expires: new Date(now + maxAge * 1000) } : {}),
  });
}

describe('SessionCookies', () => {
  const variants: Options[] = [
    DEFAULTS,
    { ...DEFAULTS, name: '__Host-sid', secure: true, sameSite: 'strict' },
    { ...DEFAULTS, name: 'sid', domain: 'example.test', path: '/app', httpOnly: false, sameSite: 'none' },
  ];

  test('gives what cookie.serialize gives: persistent, browser-session and clearing cookies', () => {
    const id = newSessionId();
    const now = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    for (const options of variants) {
      const cookies = new SessionCookies(options);
      for (const secure of [false, true]) {
        for (const age of [0, 1, 3600, 1_209_600]) {
          assert.equal(cookies.persistent(id, age, secure, now), expected(options, id, secure, age, now));
        }
        assert.equal(cookies.browserSession(id, secure), expected(options, id, secure));
        assert.equal(cookies.clear(secure), expected(options, '', secure, 0, 0));
      }
    }
  });

  test('a cached string changes when the id, the age, the expiry second or Secure changes', () => {
    const cookies = new SessionCookies(DEFAULTS);
    const id = newSessionId();
    const now = Date.UTC(2026, 0, 2, 3, 4, 5, 100);
    const first = cookies.persistent(id, 3600, false, now);
    assert.equal(cookies.persistent(id, 3600, false, now + 800), first, 'same second: same string');

    const other = newSessionId();
    const forOther = cookies.persistent(other, 3600, false, now);
    assert.notEqual(forOther, first);
    assert.ok(forOther.startsWith(`sessionid=${other};`), forOther);

    const nextSecond = cookies.persistent(id, 3600, false, now + 900);
    assert.notEqual(nextSecond, first, 'the expiry moved to the next second');
    assert.equal(nextSecond, expected(DEFAULTS, id, false, 3600, now + 900));

    const shorter = cookies.persistent(id, 60, false, now);
    assert.match(shorter, /; Max-Age=60;/);
    assert.equal(shorter, expected(DEFAULTS, id, false, 60, now));

    assert.equal(cookies.persistent(id, 3600, true, now), expected(DEFAULTS, id, true, 3600, now));
    assert.equal(cookies.persistent(id, 3600, false, now), first, 'back to the first: made anew, equal');
  });

  test("refuses, as cookie.serialize does, what it refuses (a fractional Max-Age, a domain it won't accept)", () => {
    const cookies = new SessionCookies(DEFAULTS);
    assert.throws(() => cookies.persistent(newSessionId(), 1.5, false, Date.now()), TypeError);
    const odd = new SessionCookies({ ...DEFAULTS, domain: 'under_score.test' });
    assert.throws(() => odd.persistent(newSessionId(), 60, false, Date.now()), TypeError);
    assert.throws(() => odd.clear(false), TypeError);
  });

  test('encodes a value as cookie.serialize does (encodeURIComponent)', () => {
    const cookies = new SessionCookies(DEFAULTS);
    for (const value of ['a b', 'x;y', 'ü', 'payload.sig-_~']) {
      assert.equal(cookies.browserSession(value, false), expected(DEFAULTS, value, false));
    }
  });
});

describe('cookieValue', () => {
  test('reads the named cookie as cookie.parse does', () => {
    const cases = [
      'sessionid=abc',
      'a=1; sessionid=abc; b=2',
      ' sessionid = abc ; x=y',
      'xsessionid=no; sessionid=yes',
      'sessionid=first; sessionid=second',
      'sessionidx=no',
      'sessionid',
      'junk; sessionid=after-junk',
      'a=1;junk;sessionid=v',
      'sessionid=%E2%9C%93',
      'sessionid=%E2%9C',
      'sessionid=',
      '\tsessionid=\tv\t',
      'foo=sessionid; bar=1',
      '',
    ];
    for (const header of cases)
      assert.equal(cookieValue(header, 'sessionid'), parse(header).sessionid, header);
  });

  test('agrees with cookie.parse on arbitrary headers', () => {
    const piece = fc.constantFrom(
      'sessionid',
      'sid',
      '=',
      ';',
      ' ',
      '\t',
      'a',
      '%',
      '%41',
      'x=1',
      'sessionid=',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const header = pieces.join('');
        assert.equal(cookieValue(header, 'sessionid'), parse(header).sessionid, JSON.stringify(header));
      }),
      { numRuns: 2000 },
    );
  });
});
