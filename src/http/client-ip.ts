/**
 * The client's address, framework-neutral: the socket's peer, or — only when that peer is a
 * proxy the app trusts (`adapt(larder, { trustProxy })`) — the address it forwarded in
 * `X-Forwarded-For` (`proxy-addr`, as Express does). And the rate-limit subject for an
 * address: IPv4 as is, IPv6 grouped by its /64 (one customer's allocation: a host can pick
 * any of 2^64 addresses in it), an IPv4-mapped IPv6 address as the IPv4 it maps.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import proxyAddr from 'proxy-addr';
import { ConfigError } from '../errors.js';

/**
 * Which peers may tell the client's address in `X-Forwarded-For`: none (`false`), any
 * (`true`), or these addresses, CIDRs and `'loopback'`, `'linklocal'`, `'uniquelocal'`
 * (a list, or one string with commas, as Express's `trust proxy` takes them).
 *
 * @example adapt(larder, { trustProxy: ['loopback', '10.0.0.0/8'] })
 */
export type TrustProxy = boolean | string | readonly string[];

/** What the address comes from: a Node request (`IncomingMessage`) or anything shaped like one. */
export interface PeerRequest {
  socket?: { remoteAddress?: string | undefined } | null;
  headers: IncomingHttpHeaders;
}

/**
 * Compiles `trustProxy` once; the function it returns gives a request's client address, or
 * `undefined` when the socket is gone. A forwarded entry that is not an IP address is not
 * believed: the peer's own address is used instead.
 *
 * @example
 * const addressOf = clientAddress(['loopback']);
 * addressOf(req); // '203.0.113.7' for a request from 127.0.0.1 with X-Forwarded-For: 203.0.113.7
 */
export function clientAddress(trustProxy: TrustProxy = false): (request: PeerRequest) => string | undefined {
  const trust = compileTrust(trustProxy);
  return function clientAddress(request) {
    const peer = request.socket?.remoteAddress;
    if (peer === undefined || trust === undefined) return peer;
    const address = proxyAddr(request as Parameters<typeof proxyAddr>[0], trust);
    return isIP(address) ? address : peer;
  };
}

/**
 * The rate-limit subject for an address: `ip:203.0.113.7`, `ip:2001:db8:1:2::/64`
 * (RFC 5952 text of the /64), `ip:192.0.2.1` for `::ffff:192.0.2.1`.
 *
 * @throws {TypeError} when `address` is not an IP address
 * @example ipSubject('2001:db8:1:2:aaaa::1') // 'ip:2001:db8:1:2::/64'
 */
export function ipSubject(address: string): string {
  const zone = address.indexOf('%');
  const ip = zone === -1 ? address : address.slice(0, zone);
  const family = isIP(ip);
  if (family === 4) return `ip:${ip}`;
  if (family !== 6) throw new TypeError(`ipSubject: ${JSON.stringify(address)} is not an IP address.`);
  const groups = hextets(ip);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `ip:${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}`;
  }
  const prefix = groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':');
  return `ip:${canonicalIPv6(`${prefix}::`)}/64`;
}

/** `trustProxy` as proxy-addr's trust function; `undefined` when no proxy is trusted. */
function compileTrust(trustProxy: TrustProxy): ((address: string, hop: number) => boolean) | undefined {
  if (trustProxy === false) return undefined;
  if (trustProxy === true) return () => true;
  const list = typeof trustProxy === 'string' ? trustProxy.split(',') : trustProxy;
  const expected =
    "true, false, or proxy addresses and CIDRs (a list, or one string with commas), 'loopback', 'linklocal', 'uniquelocal'";
  if (!Array.isArray(list) || list.some((entry) => typeof entry !== 'string')) {
    throw new ConfigError('trustProxy', trustProxy, expected);
  }
  const entries = list.map((entry: string) => entry.trim()).filter((entry: string) => entry !== '');
  if (entries.length === 0) return undefined;
  try {
    return proxyAddr.compile(entries);
  } catch (error) {
    throw new ConfigError('trustProxy', trustProxy, expected, { cause: error });
  }
}

// WHATWG URL's host parser is the IPv6 parser at hand (it prints RFC 5952 text, an embedded
// IPv4 in hex): a few lines here rather than a second IP library beside proxy-addr's.
function canonicalIPv6(ip: string): string {
  return new URL(`http://[${ip}]`).hostname.slice(1, -1);
}

/** The eight 16-bit groups of a valid IPv6 address (no zone). */
function hextets(ip: string): number[] {
  const [head, tail] = canonicalIPv6(ip).split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => Number.parseInt(group, 16));
}
