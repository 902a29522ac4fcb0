/**
 * @module larder/config/location — Redis locations: URLs, replica lists, options, clients.
 *
 * Hand-written URL parser: WHATWG `URL` rejects the multi-host authorities of
 * `redis+sentinel://h1:p1,h2:p2` and `redis+cluster://`, and one grammar for every form
 * keeps the error messages uniform. Accepted forms:
 *
 * - `redis://[user[:password]@]host[:port][/db]` — port 6379, db 0 by default; IPv6 as `[::1]`
 * - `rediss://…` — the same over TLS
 * - `unix:///path/to/redis.sock[?db=N]` and its alias `redis+unix://` (credentials as
 *   `unix://:password@/path` or `?password=`)
 * - `redis+sentinel://[user:password@]host[:port][,host[:port]…]/mastername[/db]` — port
 *   26379 by default; `rediss+sentinel://` for TLS; credentials are the master's
 * - `redis+cluster://[user:password@]host[:port][,host[:port]…]` — no db (or `/0`);
 *   `rediss+cluster://` for TLS
 * - an array of standalone URLs: primary first, read replicas after, one db for all
 *   (a one-element array is just that server)
 * - `{ url, username, password, connectTimeout, commandTimeout, poolSize, tls }`: explicit
 *   fields win over the URL
 * - an existing client (anything with a `sendCommand` function), which larder never quits
 *
 * Every URL form takes the query parameters `db`, `username`, `password`,
 * `connectTimeout`, `commandTimeout` (durations: `2s`, `500ms`, bare numbers are seconds)
 * and `poolSize`. User, password, socket path and master name are percent-decoded, so
 * encode `@ : / ? # %` in passwords with `encodeURIComponent`. Surrounding whitespace
 * is trimmed (a trailing newline from a secrets file is common). Databases are whole
 * numbers 0 … 2^31-1: Redis has 16 (0–15) unless `databases` is raised in redis.conf,
 * and the server itself reports a db it does not have.
 */

import { isIPv6 } from 'node:net';
import { ConfigError } from '../errors.js';
import { DURATION_EXPECTED, parseDuration } from './duration.js';
import type {
  ClusterLocation,
  ExternalLocation,
  ExternalRedisClient,
  HostPort,
  LocationInput,
  RedisLocation,
  RedisLocationOptions,
  ReplicatedLocation,
  SentinelLocation,
  StandaloneLocation,
} from './types.js';

/**
 * Every accepted location form, in words; ends the `expected` of every location error.
 *
 * @example
 * if (!error.expected.includes(LOCATION_FORMS)) throw error;
 */
export const LOCATION_FORMS =
  'redis://[user:password@]host[:port][/db], rediss://… (TLS), unix:///path/to/redis.sock[?db=N], ' +
  'redis+sentinel://host:port[,host:port]/mastername[/db], redis+cluster://host:port[,host:port], ' +
  'an array of redis:// URLs (primary first, then read replicas), ' +
  '{ url, username, password, connectTimeout, commandTimeout, poolSize, tls }, or a node-redis client';

/**
 * Milliseconds to wait for a connection unless a location says otherwise.
 *
 * @example
 * parseLocation('redis://h', 'redis').connectTimeout === DEFAULT_CONNECT_TIMEOUT; // true
 */
export const DEFAULT_CONNECT_TIMEOUT = 5000;
/**
 * Milliseconds a command may take unless a location says otherwise.
 *
 * @example
 * const budget = location?.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT;
 */
export const DEFAULT_COMMAND_TIMEOUT = 1000;
/**
 * Connections per location unless it says otherwise (`?poolSize=` or `poolSize`).
 *
 * @example
 * parseLocation('redis://h', 'redis').poolSize === DEFAULT_POOL_SIZE; // true
 */
export const DEFAULT_POOL_SIZE = 1;
/**
 * Highest db number accepted (Redis stores it as a C int); Redis itself has 16 unless
 * `databases` is raised in redis.conf, and refuses SELECT of one it does not have.
 *
 * @example
 * parseLocation(`redis://h/${MAX_DB}`, 'redis'); // accepted; the server decides
 */
export const MAX_DB = 2 ** 31 - 1;

/** URL scheme → topology and TLS. `redis+unix` is an alias some tools write for `unix`. */
const SCHEMES = new Map<string, [Scheme, boolean]>([
  ['redis', ['tcp', false]],
  ['rediss', ['tcp', true]],
  ['unix', ['unix', false]],
  ['redis+unix', ['unix', false]],
  ['redis+sentinel', ['sentinel', false]],
  ['rediss+sentinel', ['sentinel', true]],
  ['redis+cluster', ['cluster', false]],
  ['rediss+cluster', ['cluster', true]],
]);
const REDIS_PORT = 6379;
const SENTINEL_PORT = 26379;
const QUERY_KEYS = ['db', 'username', 'password', 'connectTimeout', 'commandTimeout', 'poolSize'];
const OPTION_KEYS = ['url', 'username', 'password', 'connectTimeout', 'commandTimeout', 'poolSize', 'tls'];
const PERCENT_HINT = ' (percent-encode special characters in the user and password with encodeURIComponent)';

/**
 * Timeouts, in milliseconds, that a location takes when it names none.
 *
 * @example
 * parseLocation(url, 'tasks.broker', { commandTimeout: 5000 } satisfies LocationDefaults);
 */
export interface LocationDefaults {
  /** @default 5000 */
  connectTimeout?: number;
  /** @default 1000 */
  commandTimeout?: number;
}

type Scheme = 'tcp' | 'unix' | 'sentinel' | 'cluster';
type UrlLocation = StandaloneLocation | SentinelLocation | ClusterLocation;
/** The fields every server-backed location shares. */
type Common = Pick<
  StandaloneLocation,
  'username' | 'password' | 'tls' | 'tlsOptions' | 'connectTimeout' | 'commandTimeout' | 'poolSize'
>;

/** Thrown inside the parser; turned into a `ConfigError` with the redacted input. */
class LocationProblem {
  constructor(
    readonly guidance: string,
    readonly subPath = '',
  ) {}
}

/**
 * Parses any {@link LocationInput} into a {@link RedisLocation}.
 *
 * @param input a URL, an array of standalone URLs, an options object or a client
 * @param path the config path, for errors (`caches.default.location`)
 * @param defaults timeouts in ms used when the location names none (5000 / 1000)
 * @throws {ConfigError} with `path`, the input with its password masked, and what to do
 * @example
 * parseLocation('redis://:s3cret@10.0.0.5:6380/2', 'redis');
 * // { kind: 'standalone', host: '10.0.0.5', port: 6380, db: 2, password: 's3cret', tls: false,
 * //   connectTimeout: 5000, commandTimeout: 1000, poolSize: 1 }
 * parseLocation('redis+sentinel://s1,s2:26380/mymaster/1', 'redis').kind; // 'sentinel'
 * parseLocation(['redis://primary:6379', 'redis://replica:6379'], 'redis').kind; // 'replicas'
 */
export function parseLocation(
  input: LocationInput,
  path: string,
  defaults: LocationDefaults = {},
): RedisLocation {
  const base = {
    connectTimeout: defaults.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT,
    commandTimeout: defaults.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT,
  };
  try {
    return parseAny(input as unknown, base);
  } catch (error) {
    if (!(error instanceof LocationProblem)) throw error;
    const at =
      error.subPath === ''
        ? path
        : error.subPath[0] === '[' || path === ''
          ? `${path}${error.subPath}`
          : `${path}.${error.subPath}`;
    const value = error.subPath.endsWith('password') ? '***' : redactInput(lookup(input, error.subPath));
    throw new ConfigError(at, value, `${error.guidance}. Accepted: ${LOCATION_FORMS}`);
  }
}

/**
 * True for an existing client handed in by the caller (anything with `sendCommand`).
 *
 * @example
 * isExternalClient(createClient()); // true
 * isExternalClient({ url: 'redis://h' }); // false
 */
export function isExternalClient(value: unknown): value is ExternalRedisClient {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { sendCommand?: unknown }).sendCommand === 'function'
  );
}

interface Base {
  connectTimeout: number;
  commandTimeout: number;
}

function parseAny(input: unknown, base: Base): RedisLocation {
  if (typeof input === 'string') return parseUrl(input, base, '');
  if (Array.isArray(input)) return parseList(input, base, '');
  if (isExternalClient(input)) {
    return {
      kind: 'external',
      client: input,
      commandTimeout: base.commandTimeout,
    } satisfies ExternalLocation;
  }
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    return parseOptions(input as Record<string, unknown>, base);
  }
  throw new LocationProblem(
    'a Redis location is a URL string, an array of URLs, an options object or a client',
  );
}

function parseOptions(options: Record<string, unknown>, base: Base): RedisLocation {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) {
      throw new LocationProblem(
        `'${key}' is not a location option; known options: ${OPTION_KEYS.join(', ')}`,
        key,
      );
    }
  }
  const opts = options as Partial<RedisLocationOptions>;
  const connectTimeout = optionDuration(opts.connectTimeout, 'connectTimeout') ?? base.connectTimeout;
  const commandTimeout = optionDuration(opts.commandTimeout, 'commandTimeout') ?? base.commandTimeout;
  const withTimeouts = { connectTimeout, commandTimeout };
  let location: Exclude<RedisLocation, ExternalLocation>;
  if (typeof opts.url === 'string') location = parseUrl(opts.url, withTimeouts, 'url');
  else if (Array.isArray(opts.url)) location = parseList(opts.url, withTimeouts, 'url');
  else
    throw new LocationProblem('an options object needs url: a Redis URL string or an array of them', 'url');
  const patch: Partial<Common> = {};
  if (opts.connectTimeout !== undefined) patch.connectTimeout = connectTimeout;
  if (opts.commandTimeout !== undefined) patch.commandTimeout = commandTimeout;
  if (opts.username !== undefined) patch.username = optionString(opts.username, 'username');
  if (opts.password !== undefined) patch.password = optionString(opts.password, 'password');
  if (opts.poolSize !== undefined) {
    if (!Number.isSafeInteger(opts.poolSize) || (opts.poolSize as number) < 1) {
      throw new LocationProblem('poolSize is a whole number of connections, 1 or more', 'poolSize');
    }
    patch.poolSize = opts.poolSize;
  }
  if (opts.tls !== undefined) {
    if (opts.tls === false) {
      if (location.tls) {
        throw new LocationProblem(
          'a rediss:// URL asks for TLS and tls: false turns it off; use redis:// for plain TCP',
          'tls',
        );
      }
    } else if (
      opts.tls === true ||
      (typeof opts.tls === 'object' && opts.tls !== null && !Array.isArray(opts.tls))
    ) {
      const members = location.kind === 'replicas' ? [location.primary, ...location.replicas] : [location];
      if (members.some((m) => 'path' in m && m.path !== undefined)) {
        throw new LocationProblem('unix sockets do not use TLS; remove tls or connect over rediss://', 'tls');
      }
      patch.tls = true;
      if (opts.tls !== true) patch.tlsOptions = opts.tls;
    } else {
      throw new LocationProblem(
        'tls is true, false or an object of tls.connect options (ca, cert, key, servername…)',
        'tls',
      );
    }
  }
  if (location.kind === 'replicas') {
    return {
      ...location,
      ...patch,
      primary: { ...location.primary, ...patch },
      replicas: location.replicas.map((replica) => ({ ...replica, ...patch })),
    };
  }
  return { ...location, ...patch } as UrlLocation;
}

function optionDuration(value: unknown, key: string): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseDuration(value, key) as number;
  } catch {
    throw new LocationProblem(`${key} is ${DURATION_EXPECTED}, greater than zero`, key);
  }
}

function optionString(value: unknown, key: string): string | undefined {
  if (typeof value !== 'string') throw new LocationProblem(`${key} is a string`, key);
  return value === '' ? undefined : value;
}

function parseList(urls: unknown[], base: Base, subPath: string): StandaloneLocation | ReplicatedLocation {
  if (urls.length === 0) {
    throw new LocationProblem(
      'an empty list names no server; give the primary URL first, then any replicas',
      subPath,
    );
  }
  const members: StandaloneLocation[] = [];
  for (let i = 0; i < urls.length; i++) {
    const itemPath = `${subPath}[${i}]`;
    const url = urls[i];
    if (typeof url !== 'string')
      throw new LocationProblem('each entry of a replica list is a redis:// URL string', itemPath);
    const member = parseUrl(url, base, itemPath);
    if (member.kind !== 'standalone') {
      throw new LocationProblem(
        `a replica list holds standalone servers only (redis:// or rediss://, primary first); ` +
          `for ${member.kind === 'sentinel' ? 'Sentinel' : 'Cluster'} give that one URL on its own`,
        itemPath,
      );
    }
    if (members.length > 0 && member.db !== members[0].db) {
      throw new LocationProblem(
        `every server in a replica list uses the same db (the primary uses ${members[0].db}, this one ${member.db})`,
        itemPath,
      );
    }
    members.push(member);
  }
  const [primary, ...replicas] = members;
  if (replicas.length === 0) return primary;
  const { kind: _kind, host: _host, port: _port, path: _path, ...common } = primary;
  return { ...common, kind: 'replicas', primary, replicas };
}

function parseUrl(raw: string, base: Base, subPath: string): UrlLocation {
  const url = raw.trim();
  const schemeEnd = url.indexOf('://');
  if (schemeEnd < 0) {
    throw new LocationProblem(
      url === ''
        ? 'an empty string names no server'
        : 'a Redis URL starts with redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://',
      subPath,
    );
  }
  const schemeText = url.slice(0, schemeEnd).toLowerCase();
  const known = SCHEMES.get(schemeText);
  if (known === undefined) {
    throw new LocationProblem(
      `'${schemeText}://' is not a Redis URL scheme; use redis://, rediss:// (TLS), unix://, redis+sentinel:// or redis+cluster://`,
      subPath,
    );
  }
  const [scheme, tls] = known;
  let rest = url.slice(schemeEnd + 3);
  if (rest.includes('#')) {
    throw new LocationProblem(
      "a Redis URL has no '#fragment'; percent-encode '#' in a password as %23",
      subPath,
    );
  }
  const queryStart = rest.indexOf('?');
  const query = queryStart < 0 ? '' : rest.slice(queryStart + 1);
  if (queryStart >= 0) rest = rest.slice(0, queryStart);
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  let pathText = slash < 0 ? '' : rest.slice(slash + 1);
  const at = authority.lastIndexOf('@');
  const hostsText = authority.slice(at + 1);
  let username: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    username = decode(colon < 0 ? userinfo : userinfo.slice(0, colon), 'user name', subPath) || undefined;
    password = colon < 0 ? undefined : decode(userinfo.slice(colon + 1), 'password', subPath) || undefined;
  }
  const params = parseQuery(query, subPath);
  if (params.username !== undefined) {
    if (username !== undefined)
      throw new LocationProblem('give the user name once, in the URL or as ?username=', subPath);
    username = params.username || undefined;
  }
  if (params.password !== undefined) {
    if (password !== undefined)
      throw new LocationProblem('give the password once, in the URL or as ?password=', subPath);
    password = params.password || undefined;
  }
  const common: Common = {
    tls,
    connectTimeout: params.connectTimeout ?? base.connectTimeout,
    commandTimeout: params.commandTimeout ?? base.commandTimeout,
    poolSize: params.poolSize ?? DEFAULT_POOL_SIZE,
  };
  if (username !== undefined) common.username = username;
  if (password !== undefined) common.password = password;

  if (scheme === 'unix') {
    if (hostsText !== '') {
      throw new LocationProblem(
        'unix:// takes a socket path and no host (three slashes): unix:///path/to/redis.sock',
        subPath,
      );
    }
    const socketPath = decode(`/${pathText}`, 'socket path', subPath);
    if (pathText === '' || socketPath.endsWith('/')) {
      throw new LocationProblem('unix:// needs the socket file: unix:///path/to/redis.sock', subPath);
    }
    return {
      kind: 'standalone',
      host: 'localhost',
      port: 0,
      path: socketPath,
      db: params.db ?? 0,
      ...common,
    };
  }

  const hosts = parseHosts(
    hostsText,
    scheme === 'sentinel' ? SENTINEL_PORT : REDIS_PORT,
    subPath,
    url.includes('@'),
  );
  // Tolerate one trailing slash: redis://h:6379/1/ and redis://h:6379/ are fine.
  if (pathText.endsWith('/')) pathText = pathText.slice(0, -1);
  const segments = pathText === '' ? [] : pathText.split('/');

  if (scheme === 'tcp') {
    if (hosts.length > 1) {
      throw new LocationProblem(
        'a redis:// URL names one server; for a primary with replicas pass an array of URLs, ' +
          'for Sentinel use redis+sentinel://, for Cluster redis+cluster://',
        subPath,
      );
    }
    if (segments.length > 1)
      throw new LocationProblem(
        'the path of a redis:// URL is only the db number: redis://host:6379/0',
        subPath,
      );
    const db = mergeDb(segments[0], params.db, subPath);
    return { kind: 'standalone', host: hosts[0].host, port: hosts[0].port, db, ...common };
  }

  if (scheme === 'sentinel') {
    if (segments.length === 0 || segments[0] === '') {
      throw new LocationProblem(
        'name the master after the hosts: redis+sentinel://host:26379/mymaster[/db]',
        subPath,
      );
    }
    if (segments.length > 2)
      throw new LocationProblem('a redis+sentinel:// path is /mastername[/db]', subPath);
    const masterName = decode(segments[0], 'master name', subPath);
    const db = mergeDb(segments[1], params.db, subPath);
    return { kind: 'sentinel', sentinels: hosts, masterName, db, ...common };
  }

  const clusterDb = segments.length === 0 ? 0 : segments.length === 1 ? readDb(segments[0], subPath) : -1;
  if (clusterDb !== 0 || (params.db !== undefined && params.db !== 0)) {
    throw new LocationProblem(
      'redis+cluster:// has no database number (Redis Cluster only has db 0); use one db per cluster or a keyPrefix',
      subPath,
    );
  }
  return { kind: 'cluster', nodes: hosts, ...common };
}

interface QueryParams {
  db?: number;
  username?: string;
  password?: string;
  connectTimeout?: number;
  commandTimeout?: number;
  poolSize?: number;
}

function parseQuery(query: string, subPath: string): QueryParams {
  const params: QueryParams = {};
  if (query === '') return params;
  const seen = new Set<string>();
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq < 0 ? pair : pair.slice(0, eq), 'query parameter', subPath);
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1), 'query parameter', subPath);
    if (!QUERY_KEYS.includes(key)) {
      // `redis://:pa?ss@host`: the '?' sat in the password, so this "parameter" is the rest of
      // the password and the host. Say so without echoing it: an error must not print a password.
      if (key.includes('@') || value.includes('@')) {
        throw new LocationProblem(
          "a raw '?' in the user name or password starts the query part early; percent-encode it as %3F" +
            PERCENT_HINT,
          subPath,
        );
      }
      throw new LocationProblem(
        `unknown query parameter '${key}'; a Redis URL takes ${QUERY_KEYS.map((k) => `?${k}=`).join(', ')}`,
        subPath,
      );
    }
    if (seen.has(key)) throw new LocationProblem(`the query parameter '${key}' is given twice`, subPath);
    seen.add(key);
    switch (key) {
      case 'db':
        params.db = readDb(value, subPath);
        break;
      case 'username':
        params.username = value;
        break;
      case 'password':
        params.password = value;
        break;
      case 'poolSize': {
        const size = readWholeNumber(value);
        if (size < 1)
          throw new LocationProblem('?poolSize= is a whole number of connections, 1 or more', subPath);
        params.poolSize = size;
        break;
      }
      default: {
        try {
          params[key as 'connectTimeout' | 'commandTimeout'] = parseDuration(value, key) as number;
        } catch {
          throw new LocationProblem(
            `?${key}= is ${DURATION_EXPECTED} (e.g. ?${key}=2s), greater than zero`,
            subPath,
          );
        }
      }
    }
  }
  return params;
}

function parseHosts(text: string, defaultPort: number, subPath: string, hasCredentials: boolean): HostPort[] {
  const hint = hasCredentials ? PERCENT_HINT : '';
  if (text === '') throw new LocationProblem(`the URL names no host: give host[:port]${hint}`, subPath);
  const hosts: HostPort[] = [];
  for (const item of text.split(',')) {
    if (item === '')
      throw new LocationProblem(`the host list has an empty entry: host:port,host:port${hint}`, subPath);
    let host: string;
    let portText: string | undefined;
    if (item[0] === '[') {
      const close = item.indexOf(']');
      host = close < 0 ? '' : decode(item.slice(1, close), 'IPv6 address', subPath);
      if (close < 0 || !isIPv6(host)) {
        throw new LocationProblem(
          `'${item}' is not an IPv6 address in brackets like [::1]:6379${hint}`,
          subPath,
        );
      }
      const after = item.slice(close + 1);
      if (after !== '' && after[0] !== ':')
        throw new LocationProblem(`write the port after the bracket: [::1]:6379${hint}`, subPath);
      portText = after === '' ? undefined : after.slice(1);
    } else {
      const colon = item.indexOf(':');
      if (colon >= 0 && item.indexOf(':', colon + 1) >= 0) {
        throw new LocationProblem(
          `wrap an IPv6 address in brackets, like redis://[::1]:6379${hint}`,
          subPath,
        );
      }
      host = colon < 0 ? item : item.slice(0, colon);
      portText = colon < 0 ? undefined : item.slice(colon + 1);
      if (!isHostName(host)) {
        throw new LocationProblem(
          `'${host}' is not a host name (letters, digits, '-', '.', '_'; IPv6 in brackets)${hint}`,
          subPath,
        );
      }
    }
    let port = defaultPort;
    if (portText !== undefined) {
      port = readWholeNumber(portText);
      if (port < 1 || port > 65535) {
        throw new LocationProblem(
          `the port '${portText}' is not a whole number from 1 to 65535${hint}`,
          subPath,
        );
      }
    }
    hosts.push({ host, port });
  }
  return hosts;
}

function isHostName(host: string): boolean {
  if (host === '' || host.length > 253) return false;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    const ok =
      (c >= 97 && c <= 122) ||
      (c >= 65 && c <= 90) ||
      (c >= 48 && c <= 57) ||
      c === 45 ||
      c === 46 ||
      c === 95;
    if (!ok) return false;
  }
  return true;
}

/** A non-negative safe integer written in plain digits, or -1. */
function readWholeNumber(text: string): number {
  if (text === '' || text.length > 15) return -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  return Number(text);
}

function readDb(text: string, subPath: string): number {
  const db = readWholeNumber(text);
  if (db < 0 || db > MAX_DB) {
    throw new LocationProblem(
      `the db '${text}' is not a database number: a whole number from 0 (Redis has 16 databases, 0-15, ` +
        'unless `databases` is raised in redis.conf)',
      subPath,
    );
  }
  return db;
}

function mergeDb(pathDb: string | undefined, queryDb: number | undefined, subPath: string): number {
  const db = pathDb === undefined ? undefined : readDb(pathDb, subPath);
  if (db !== undefined && queryDb !== undefined && db !== queryDb) {
    throw new LocationProblem(
      `the URL names db ${db} in its path and ${queryDb} in ?db=; give it once`,
      subPath,
    );
  }
  return db ?? queryDb ?? 0;
}

function decode(text: string, what: string, subPath: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    throw new LocationProblem(`the ${what} has a broken %-escape${PERCENT_HINT}`, subPath);
  }
}

/** The part of `input` an error sub-path points at (`url`, `[1]`, `url[0]`). */
function lookup(input: unknown, subPath: string): unknown {
  let value = input;
  for (const part of subPath.split(/[.[\]]/)) {
    if (part === '') continue;
    if (typeof value !== 'object' || value === null) return value;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** The input as an error may show it: passwords masked, clients summarised. */
function redactInput(value: unknown): unknown {
  if (typeof value === 'string') return maskUrl(value);
  if (Array.isArray(value)) return value.map(redactInput);
  if (isExternalClient(value)) return '(client)';
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    if (copy.url !== undefined) copy.url = redactInput(copy.url);
    if (copy.password !== undefined) copy.password = '***';
    if (copy.tls !== undefined && typeof copy.tls === 'object') copy.tls = '(tls options)';
    return copy;
  }
  return value;
}

/** Masks the password of a URL that may not parse (best effort, never throws). */
function maskUrl(url: string): string {
  let out = url;
  const schemeEnd = out.indexOf('://');
  if (schemeEnd >= 0) {
    const start = schemeEnd + 3;
    // The userinfo ends at the last '@' before the path; a raw '/' or '?' in a password
    // may end the authority early, so look at the whole URL.
    const at = out.lastIndexOf('@');
    if (at > start) {
      const colon = out.indexOf(':', start);
      if (colon >= 0 && colon < at) out = `${out.slice(0, colon + 1)}***${out.slice(at)}`;
    }
  }
  return out.replace(/([?&]password=)[^&#]*/gi, '$1***');
}

/**
 * Renders a location for logs, health checks and dashboards, never with its password.
 *
 * Accepts a parsed {@link RedisLocation} or anything {@link parseLocation} accepts; a
 * string that does not parse is masked as well as it can be, never thrown on.
 *
 * @example
 * redactUrl('redis://:s3cret@127.0.0.1:6379/1');               // 'redis://:***@127.0.0.1:6379/1'
 * redactUrl('redis+sentinel://h1:26379,h2:26379/mymaster');   // 'redis+sentinel://h1:26379,h2:26379/mymaster/0'
 * redactUrl(parseLocation('redis+cluster://a:7000,b:7001', 'redis')); // 'redis+cluster://a:7000,b:7001'
 */
export function redactUrl(location: RedisLocation | LocationInput): string {
  if (
    typeof location === 'object' &&
    location !== null &&
    !Array.isArray(location) &&
    !isExternalClient(location)
  ) {
    if ('kind' in location && typeof location.kind === 'string')
      return formatLocation(location as RedisLocation);
  }
  try {
    return formatLocation(parseLocation(location as LocationInput, ''));
  } catch {
    if (typeof location === 'string') return maskUrl(location);
    if (Array.isArray(location))
      return location.map((url) => (typeof url === 'string' ? maskUrl(url) : '?')).join(', ');
    return '(invalid location)';
  }
}

function formatLocation(location: RedisLocation): string {
  switch (location.kind) {
    case 'external':
      return '(external client)';
    case 'replicas':
      return [location.primary, ...location.replicas].map(formatLocation).join(', ');
    case 'standalone': {
      const auth = formatAuth(location.username, location.password);
      if (location.path !== undefined) {
        return `unix://${auth}${location.path.split('/').map(encode).join('/')}?db=${location.db}`;
      }
      return `${location.tls ? 'rediss' : 'redis'}://${auth}${formatHost(location)}/${location.db}`;
    }
    case 'sentinel':
      return (
        `${location.tls ? 'rediss' : 'redis'}+sentinel://${formatAuth(location.username, location.password)}` +
        `${location.sentinels.map(formatHost).join(',')}/${encode(location.masterName)}/${location.db}`
      );
    case 'cluster':
      return (
        `${location.tls ? 'rediss' : 'redis'}+cluster://${formatAuth(location.username, location.password)}` +
        location.nodes.map(formatHost).join(',')
      );
  }
}

function formatAuth(username: string | undefined, password: string | undefined): string {
  if (username === undefined && password === undefined) return '';
  return `${username === undefined ? '' : encode(username)}${password === undefined ? '' : ':***'}@`;
}

function formatHost({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host.replaceAll('%', '%25')}]:${port}` : `${host}:${port}`;
}

function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    // A lone surrogate cannot be percent-encoded; this is only for display.
    return '?';
  }
}
