/**
 * The client address and the rate-limit subject (src/http/client-ip.ts): which peers may speak
 * for the client in `X-Forwarded-For`, and how addresses group into subjects (IPv6 by /64).
 * Requests here are plain `{ socket, headers }` records, the part of a Node request the
 * functions read; the adapters' tests cover the same rules over real HTTP.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ConfigError } from '../../src/errors.js';
import { clientAddress, ipSubject } from '../../src/http/client-ip.js';

const from = (peer: string | undefined, forwardedFor?: string) => ({
  socket: { remoteAddress: peer },
  headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
});

test('trustProxy false (the default): X-Forwarded-For is never read, the peer is the client', () => {
  for (const addressOf of [clientAddress(), clientAddress(false), clientAddress([]), clientAddress('')]) {
    assert.equal(addressOf(from('127.0.0.1', '203.0.113.7')), '127.0.0.1');
    assert.equal(addressOf(from('198.51.100.1', '203.0.113.7, 10.0.0.1')), '198.51.100.1');
  }
});

test('a spoofed X-Forwarded-For from an untrusted peer is ignored', () => {
  const addressOf = clientAddress(['10.0.0.0/8']);
  // 127.0.0.1 is not in the list: whatever it forwards is its own claim.
  assert.equal(addressOf(from('127.0.0.1', '203.0.113.7')), '127.0.0.1');
  assert.equal(addressOf(from('::1', '203.0.113.7')), '::1');
  // The same header from a listed proxy is believed.
  assert.equal(addressOf(from('10.1.2.3', '203.0.113.7')), '203.0.113.7');
});

test('a trusted chain is walked from the socket back to the first untrusted hop', () => {
  const addressOf = clientAddress(['loopback', '10.0.0.0/8']);
  // client 203.0.113.7 → proxy 10.0.0.2 → proxy 127.0.0.1 → app; the client's own entry spoofs 198.51.100.9.
  assert.equal(addressOf(from('127.0.0.1', '198.51.100.9, 203.0.113.7, 10.0.0.2')), '203.0.113.7');
  assert.equal(clientAddress('loopback')(from('127.0.0.1', '203.0.113.7, 10.0.0.2')), '10.0.0.2');
  // One string with commas, as Express takes it.
  assert.equal(
    clientAddress('loopback, 10.0.0.0/8')(from('127.0.0.1', '203.0.113.7, 10.0.0.2')),
    '203.0.113.7',
  );
  // No header: the peer.
  assert.equal(addressOf(from('127.0.0.1')), '127.0.0.1');
});

test('trustProxy true believes the leftmost address', () => {
  assert.equal(clientAddress(true)(from('198.51.100.1', '203.0.113.7, 10.0.0.2')), '203.0.113.7');
});

test('a forwarded entry that is not an IP address is not believed; a closed socket gives undefined', () => {
  const addressOf = clientAddress(['loopback']);
  assert.equal(addressOf(from('127.0.0.1', 'not-an-ip')), '127.0.0.1');
  assert.equal(addressOf(from('127.0.0.1', '')), '127.0.0.1');
  assert.equal(addressOf({ socket: { remoteAddress: undefined }, headers: {} }), undefined);
  assert.equal(addressOf({ socket: null, headers: { 'x-forwarded-for': '203.0.113.7' } }), undefined);
});

test('a trustProxy that is not an address, a CIDR or a range name is refused, naming the option', () => {
  for (const bad of [['not-an-address'], ['10.0.0.0/99'], 'loopback, nope', [42] as unknown as string[]]) {
    assert.throws(
      () => clientAddress(bad),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.path === 'trustProxy' &&
        /loopback/.test(error.message) &&
        /CIDR/.test(error.message),
    );
  }
});

test('ipSubject: IPv4 as is, IPv6 by its /64 in RFC 5952 text, IPv4-mapped as IPv4, zones dropped', () => {
  assert.equal(ipSubject('203.0.113.7'), 'ip:203.0.113.7');
  assert.equal(ipSubject('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), 'ip:2001:db8:1:2::/64');
  assert.equal(ipSubject('2001:DB8:1:2::1'), 'ip:2001:db8:1:2::/64');
  assert.equal(ipSubject('2001:0db8:0000:0000:0001::'), 'ip:2001:db8::/64');
  assert.equal(ipSubject('::1'), 'ip:::/64');
  assert.equal(ipSubject('fe80::1%eth0'), 'ip:fe80::/64');
  assert.equal(ipSubject('::ffff:192.0.2.1'), 'ip:192.0.2.1');
  assert.equal(ipSubject('::ffff:c000:201'), 'ip:192.0.2.1');
  assert.throws(() => ipSubject('example.com'), TypeError);
});

test('ipSubject: two addresses share a subject exactly when their first 64 bits match (property)', () => {
  const hextet = fc.integer({ min: 0, max: 0xffff });
  const address = fc.array(hextet, { minLength: 8, maxLength: 8 });
  const text = (groups: number[]) => groups.map((g) => g.toString(16)).join(':');
  fc.assert(
    fc.property(address, address, (a, b) => {
      fc.pre(!(a.slice(0, 5).every((g) => g === 0) && a[5] === 0xffff));
      fc.pre(!(b.slice(0, 5).every((g) => g === 0) && b[5] === 0xffff));
      const samePrefix = a.slice(0, 4).every((g, i) => g === b[i]);
      assert.equal(ipSubject(text(a)) === ipSubject(text(b)), samePrefix);
      // The host half never matters.
      assert.equal(ipSubject(text(a)), ipSubject(text([...a.slice(0, 4), ...b.slice(4)])));
    }),
  );
});
