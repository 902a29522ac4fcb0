/**
 * @module larder/config/schema — the user-facing config (DESIGN §3) and its one-time validation.
 *
 * `resolveConfig` checks the shape with zod (strict objects: an unknown key is an error,
 * with a "did you mean" when a known key is close), then fills in every default, picks
 * the default connection (`redis` › `LARDER_REDIS_URL` › `REDIS_URL`) and resolves region
 * maps. Every problem becomes one `ConfigError` naming the path, the value (secrets
 * hidden) and what is accepted.
 */

import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { parseDuration } from './duration.js';
import { DEFAULT_COMMAND_TIMEOUT, isExternalClient, parseLocation } from './location.js';
import type { Duration, LocationInput, RedisLocation } from './types.js';

// ---------------------------------------------------------------------------- input types

/**
 * The cache backends (DESIGN §4.1).
 *
 * @example
 * const backend: CacheBackendName = 'tiered';
 */
export type CacheBackendName = 'redis' | 'memory' | 'null' | 'tiered';
/**
 * Compression algorithms; `lz4` and `zstd` need their optional packages.
 *
 * @example
 * const algorithm: CompressionAlgorithm = 'brotli';
 */
export type CompressionAlgorithm = 'zlib' | 'gzip' | 'brotli' | 'lz4' | 'zstd';
/**
 * Django's `KEY_FUNCTION`: builds the stored key.
 *
 * @example
 * const keyFunction: KeyFunction = (key, prefix, version) => `${prefix}:${version}:${key}`;
 */
export type KeyFunction = (key: string, keyPrefix: string, version: number) => string;

/**
 * Where larder writes its own messages; `console` and pino loggers fit.
 *
 * @example
 * createLarder({ logger: pino() });
 */
export interface LarderLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/**
 * One location per region, for caches that live near their readers. The wrapper key
 * `regions` keeps it apart from a `{ url, … }` options object.
 *
 * @example
 * { regions: { us: 'redis://us-cache:6379/1', eu: 'redis://eu-cache:6379/1' } }
 */
export interface RegionMap {
  regions: Record<string, LocationInput>;
}

/**
 * Compression above a size threshold.
 *
 * @example
 * { algorithm: 'zlib', minLength: 1024, level: 6 }
 */
export interface CompressConfig {
  algorithm: CompressionAlgorithm;
  /** Bytes; smaller values are stored as they are. @default 1024 */
  minLength?: number;
  /** Algorithm level (zlib/gzip -1…9, brotli 0…11); the library default when absent. */
  level?: number;
}

/**
 * One cache (Django's `CACHES[name]`).
 *
 * @example
 * { backend: 'redis', location: 'redis://127.0.0.1:6379/1', timeout: '15m', keyPrefix: 'shop', ignoreErrors: true }
 */
export interface CacheConfig {
  /** @default 'redis' when this cache or the config has a Redis location, else 'memory' */
  backend?: CacheBackendName;
  /** This cache's Redis (else the default connection); or a {@link RegionMap}. */
  location?: LocationInput | RegionMap;
  /** Default entry lifetime; `null` = never expires, `0` or less = not stored. @default 300 */
  timeout?: Duration | null;
  /** @default '' */
  keyPrefix?: string;
  /** @default 1 */
  version?: number;
  keyFunction?: KeyFunction;
  /** Hash keys over 250 bytes instead of raising `CacheKeyError`. @default false */
  hashLongKeys?: boolean;
  /** @default 'json' */
  serializer?: 'json' | 'msgpack';
  /** @default false */
  compress?: false | CompressConfig;
  /** Turn Redis outages into misses and no-ops. @default false */
  ignoreErrors?: boolean;
  /** Per-command time budget. @default 250 ms with ignoreErrors, else the location's */
  commandTimeout?: Duration;
  /** memory only. @default 300 */
  maxEntries?: number;
  /** memory only; unbounded when absent. */
  maxBytes?: number;
  /** memory only: cull 1/N of the entries when full; 0 = clear all (Django). @default 3 */
  cullFrequency?: number;
  /** tiered only: the in-process layer. */
  l1?: { maxEntries?: number; maxBytes?: number; ttl?: Duration | null };
}

/**
 * The session cookie.
 *
 * @example
 * { name: '__Host-sid', secure: true, sameSite: 'strict' }
 */
export interface SessionCookieConfig {
  /** @default 'sessionid' */
  name?: string;
  /** The cookie's Max-Age when `setExpiry` was not called (the store keeps the session for `sessions.maxAge`). @default sessions.maxAge */
  maxAge?: Duration;
  /** @default '/' */
  path?: string;
  domain?: string;
  /** `'auto'`: Secure when the request is HTTPS or NODE_ENV=production. @default 'auto' */
  secure?: boolean | 'auto';
  /** @default true */
  httpOnly?: boolean;
  /** `'none'` needs `secure: true`. @default 'lax' */
  sameSite?: 'lax' | 'strict' | 'none';
}

/**
 * Sessions (DESIGN §4.3).
 *
 * @example
 * { engine: 'redis', maxAge: '2h', absoluteMaxAge: '12h', cookie: { sameSite: 'strict' } }
 */
export interface SessionsConfig {
  /** @default 'cache' when `cache` is set, 'redis' with a Redis location, else 'memory' */
  engine?: 'redis' | 'cache' | 'signed-cookie' | 'memory';
  location?: LocationInput;
  /** The cache used by engine 'cache'. @default 'default' */
  cache?: string;
  /** @default 'session' */
  prefix?: string;
  /** Signing secret(s), newest first, 32+ characters each; required by 'signed-cookie'. */
  secret?: string | string[];
  /** Idle timeout. @default 1209600 (two weeks, Django's SESSION_COOKIE_AGE) */
  maxAge?: Duration;
  /** Absolute timeout from creation; `null` = none. @default null */
  absoluteMaxAge?: Duration | null;
  /** @default false */
  saveEveryRequest?: boolean;
  /** @default false */
  expireAtBrowserClose?: boolean;
  /** @default 65536 (4096 for 'signed-cookie') */
  maxBytes?: number;
  /**
   * Refresh the expiry of an unmodified session at most this often (sooner when the session
   * lives less: half its idle timeout or cookie Max-Age). Shorter than `maxAge` and `cookie.maxAge`.
   * @default 60 s (at most maxAge / 2 and cookie.maxAge / 2)
   */
  touchAfter?: Duration;
  cookie?: SessionCookieConfig;
  /**
   * Engine 'redis' only. `'async'`: a write is acknowledged once the primary has it (Redis
   * replicates in the background, so a failover can lose the last writes). `'replicated'`:
   * each write is followed by `WAIT 1 <commandTimeout>` on the same socket and acknowledged
   * only when at least one replica has it; otherwise it fails with a
   * `BackendUnavailableError` (HTTP 503), so the client knows it may not survive a failover.
   * @default 'async'
   */
  durability?: 'async' | 'replicated';
}

/**
 * One named rate limit (DESIGN §4.4).
 *
 * @example
 * { limit: 100, window: '1m', algorithm: 'sliding-window' }
 */
export interface RateLimitConfig {
  limit: number;
  window: Duration;
  /** @default 'fixed-window' */
  algorithm?: 'fixed-window' | 'sliding-window' | 'token-bucket';
  /** token-bucket only. @default limit */
  burst?: number;
  location?: LocationInput;
}

/**
 * Tasks (DESIGN §4.5).
 *
 * @example
 * { broker: 'redis://127.0.0.1:6379/0', defaultQueue: 'emails' }
 */
export interface TasksConfig {
  broker?: LocationInput;
  /** @default 'bullmq' with a Redis location, else 'eager' */
  driver?: 'eager' | 'bullmq';
  /** @default 'default' */
  defaultQueue?: string;
  /** BullMQ key prefix. @default 'larder' ('{larder}' on Redis Cluster) */
  prefix?: string;
}

/**
 * What `createLarder(config)` takes (DESIGN §3). Every field is optional.
 *
 * @example
 * const config: LarderConfig = {
 *   redis: 'redis://127.0.0.1:6379',
 *   caches: { default: { timeout: '15m', keyPrefix: 'shop' }, local: { backend: 'memory' } },
 *   sessions: { cookie: { sameSite: 'strict' } },
 *   rateLimits: { api: { limit: 100, window: 60 } },
 * };
 */
export interface LarderConfig {
  /** The default connection; else LARDER_REDIS_URL, else REDIS_URL. `false` ignores the environment. */
  redis?: LocationInput | false;
  /** This process's region for {@link RegionMap} locations. @default env LARDER_REGION */
  region?: string;
  /** @default { default: {} } */
  caches?: Record<string, CacheConfig>;
  sessions?: SessionsConfig;
  rateLimits?: Record<string, RateLimitConfig>;
  tasks?: TasksConfig;
  pubsub?: { location?: LocationInput; streamMaxLen?: number };
  leaderboards?: { location?: LocationInput };
  /**
   * Counters and latency histograms of every operation (`larder.metrics`). `false` turns
   * them off; `defaultMetrics` adds prom-client's process metrics to the exposition.
   * @default { enabled: true, defaultMetrics: false }
   */
  metrics?: boolean | { enabled?: boolean; defaultMetrics?: boolean };
  /** @default console; `false` silences larder */
  logger?: LarderLogger | false;
}

// ------------------------------------------------------------------------- resolved types

/**
 * A cache with every default filled in; durations in ms.
 *
 * @example
 * const { timeout, location } = resolveConfig(config).caches.default;
 */
export interface ResolvedCacheConfig {
  name: string;
  backend: CacheBackendName;
  /** Set for 'redis' and 'tiered'. */
  location?: RedisLocation;
  /** The region `location` was picked for, when the config gave a region map. */
  region?: string;
  /** Every region's location, for `cache.forRegion(r)`. */
  regions?: Record<string, RedisLocation>;
  timeout: number | null;
  keyPrefix: string;
  version: number;
  keyFunction?: KeyFunction;
  hashLongKeys: boolean;
  serializer: 'json' | 'msgpack';
  compress: false | { algorithm: CompressionAlgorithm; minLength: number; level?: number };
  ignoreErrors: boolean;
  commandTimeout: number;
  maxEntries: number;
  maxBytes?: number;
  cullFrequency: number;
  /** Set for 'tiered'; `ttl: null` = as long as the entry lives in Redis. */
  l1?: { maxEntries: number; maxBytes?: number; ttl: number | null };
}

/**
 * Sessions with every default filled in; durations in ms.
 *
 * @example
 * const { cookie, maxAge } = resolveConfig(config).sessions;
 */
export interface ResolvedSessionsConfig {
  engine: 'redis' | 'cache' | 'signed-cookie' | 'memory';
  /** Set for engine 'redis'. */
  location?: RedisLocation;
  /** Set for engine 'cache'. */
  cache?: string;
  prefix: string;
  /** Newest first; empty unless given. */
  secrets: string[];
  maxAge: number;
  absoluteMaxAge: number | null;
  saveEveryRequest: boolean;
  expireAtBrowserClose: boolean;
  maxBytes: number;
  touchAfter: number;
  cookie: Required<Omit<SessionCookieConfig, 'domain' | 'maxAge'>> & { domain?: string; maxAge: number };
  durability: 'async' | 'replicated';
}

/**
 * A rate limit with defaults filled in; `location` absent = memory store.
 *
 * @example
 * const { limit, window } = resolveConfig(config).rateLimits.api;
 */
export interface ResolvedRateLimitConfig {
  name: string;
  limit: number;
  window: number;
  algorithm: 'fixed-window' | 'sliding-window' | 'token-bucket';
  burst?: number;
  location?: RedisLocation;
}

/**
 * What the rest of larder reads: validated, defaults in, durations in ms, locations parsed.
 *
 * @example
 * const resolved: ResolvedConfig = resolveConfig({ redis: process.env.CACHE_URL });
 * if (resolved.embedded) console.log('in-memory drivers');
 */
export interface ResolvedConfig {
  /** The default connection, if any. */
  redis?: RedisLocation;
  region?: string;
  caches: Record<string, ResolvedCacheConfig>;
  sessions: ResolvedSessionsConfig;
  rateLimits: Record<string, ResolvedRateLimitConfig>;
  tasks: { driver: 'eager' | 'bullmq'; broker?: RedisLocation; defaultQueue: string; prefix: string };
  pubsub: { location?: RedisLocation; streamMaxLen: number };
  leaderboards: { location?: RedisLocation };
  /** `defaultMetrics` is present (true) only when asked for. */
  metrics: { enabled: boolean; defaultMetrics?: boolean };
  logger: LarderLogger | false;
  /** True when nothing uses Redis (every capability on its in-memory driver). */
  embedded: boolean;
}

// --------------------------------------------------------------------------- zod schema

const TWO_WEEKS = 1_209_600_000;
const COOKIE_LIMIT = 4096;
const MIN_SECRET_LENGTH = 32;
const GENERATE_SECRET = `node -p "require('node:crypto').randomBytes(32).toString('base64url')"`;
/** RFC 6265 §4.1.1 cookie-name = token (RFC 9110 §5.6.2). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** No `;`, whitespace or control characters in a cookie attribute. */
const COOKIE_ATTRIBUTE = /^[^\s;\p{Cc}]+$/u;
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is what it looks for
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Parsed region map, kept apart from a parsed location until a region is picked. */
class ParsedRegions {
  constructor(readonly regions: Record<string, RedisLocation>) {}
}

/** A zod step that runs a larder parser and turns its ConfigError into an issue. */
function viaParser<T>(parse: (value: unknown) => T, required = false) {
  return z.unknown().transform((value, ctx): T | undefined => {
    if (value === undefined && !required) return undefined;
    try {
      return parse(value);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      ctx.addIssue({
        code: 'custom',
        message: error.expected,
        params: { subPath: error.path, value: error.value },
      });
      return z.NEVER;
    }
  });
}

const duration = (opts: { allowNull?: boolean; allowZero?: boolean; required?: boolean } = {}) =>
  viaParser((value) => {
    const ms = parseDuration(value, '', { allowNull: opts.allowNull, allowZeroOrNegative: opts.allowZero });
    if (ms !== null && ms < 0 && opts.allowZero) {
      throw new ConfigError(
        '',
        value,
        "a duration of 0 or more (a number of seconds or a string like '15s')",
      );
    }
    return ms;
  }, opts.required);
/** Cache timeouts: negative means "expire at once", as Django. */
const cacheTimeout = viaParser((value) =>
  parseDuration(value, '', { allowNull: true, allowZeroOrNegative: true }),
);

const isRegionMap = (value: unknown): value is RegionMap =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  'regions' in value &&
  !('url' in value) &&
  !isExternalClient(value);

function parseSingleLocation(value: unknown): RedisLocation {
  if (isRegionMap(value)) {
    throw new ConfigError(
      '',
      '{ regions: … }',
      'a single location: region maps are only accepted by caches.<name>.location',
    );
  }
  return parseLocation(value as LocationInput, '');
}
const location = viaParser(parseSingleLocation);

const cacheLocation = viaParser((value): RedisLocation | ParsedRegions => {
  if (!isRegionMap(value)) return parseLocation(value as LocationInput, '');
  const { regions, ...rest } = value as RegionMap & Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) {
    throw new ConfigError(
      extra,
      rest[extra],
      "nothing beside 'regions' in a region map: { regions: { us: url, eu: url } }",
    );
  }
  if (
    typeof regions !== 'object' ||
    regions === null ||
    Array.isArray(regions) ||
    Object.keys(regions).length === 0
  ) {
    throw new ConfigError(
      'regions',
      regions,
      'an object of region name → location, like { us: url, eu: url }',
    );
  }
  const parsed: Record<string, RedisLocation> = {};
  for (const [name, input] of Object.entries(regions))
    parsed[name] = parseLocation(input, appendKey('regions', name));
  return new ParsedRegions(parsed);
});

const fn = <T>(what: string) => z.custom<T>((v) => typeof v === 'function', { error: what });
const int = (min: number, what: string) => z.int({ error: what }).min(min, { error: what });
const posInt = (what = 'a whole number greater than 0') => int(1, what);
const text = (what = 'a non-empty string') => z.string({ error: what }).min(1, { error: what });
const bool = z.boolean({ error: 'true or false' });

const cacheSchema = z.strictObject({
  backend: z.enum(['redis', 'memory', 'null', 'tiered']).optional(),
  location: cacheLocation.optional(),
  timeout: cacheTimeout.optional(),
  keyPrefix: z
    .string({ error: 'a string' })
    .refine((v) => !CONTROL.test(v), { error: 'a string without control characters' })
    .optional(),
  version: z.int({ error: 'a whole number' }).optional(),
  keyFunction: fn<KeyFunction>('a function (key, keyPrefix, version) => string').optional(),
  hashLongKeys: bool.optional(),
  serializer: z.enum(['json', 'msgpack']).optional(),
  compress: z
    .union(
      [
        z.literal(false),
        z.strictObject({
          algorithm: z.enum(['zlib', 'gzip', 'brotli', 'lz4', 'zstd']),
          minLength: int(0, 'a whole number of bytes, 0 or more').optional(),
          level: z.int({ error: 'a whole number' }).optional(),
        }),
      ],
      { error: "false or { algorithm: 'zlib' | 'gzip' | 'brotli' | 'lz4' | 'zstd', minLength?, level? }" },
    )
    .optional(),
  ignoreErrors: bool.optional(),
  commandTimeout: duration().optional(),
  maxEntries: posInt().optional(),
  maxBytes: posInt('a whole number of bytes greater than 0').optional(),
  cullFrequency: int(0, 'a whole number, 0 or more (cull 1/N of the entries; 0 clears all)').optional(),
  l1: z
    .strictObject({
      maxEntries: posInt().optional(),
      maxBytes: posInt('a whole number of bytes greater than 0').optional(),
      ttl: duration({ allowNull: true }).optional(),
    })
    .optional(),
});

const secret = z.union(
  [
    z.string(),
    z.array(z.string({ error: 'a string' })).min(1, { error: 'a non-empty list of secrets, newest first' }),
  ],
  {
    error: 'a secret string or a list of them (newest first)',
  },
);

const sessionsSchema = z.strictObject({
  engine: z.enum(['redis', 'cache', 'signed-cookie', 'memory']).optional(),
  location: location.optional(),
  cache: text('the name of a cache in caches').optional(),
  prefix: text().optional(),
  secret: secret.optional(),
  maxAge: duration().optional(),
  absoluteMaxAge: duration({ allowNull: true }).optional(),
  saveEveryRequest: bool.optional(),
  expireAtBrowserClose: bool.optional(),
  maxBytes: posInt('a whole number of bytes greater than 0').optional(),
  touchAfter: duration({ allowZero: true }).optional(),
  durability: z.enum(['async', 'replicated']).optional(),
  cookie: z
    .strictObject({
      name: z
        .string({ error: 'a cookie name' })
        .regex(COOKIE_NAME, { error: "a cookie name: letters, digits and !#$%&'*+-.^_`|~ (RFC 6265)" })
        .optional(),
      maxAge: duration().optional(),
      path: z
        .string({ error: "a path starting with '/'" })
        .regex(/^\/[^\s;\p{Cc}]*$/u, { error: "a path starting with '/', without ';' or spaces" })
        .optional(),
      domain: z
        .string({ error: 'a domain' })
        .regex(COOKIE_ATTRIBUTE, { error: "a domain without ';' or spaces" })
        .optional(),
      secure: z.union([z.boolean(), z.literal('auto')], { error: "true, false or 'auto'" }).optional(),
      httpOnly: bool.optional(),
      sameSite: z.enum(['lax', 'strict', 'none']).optional(),
    })
    .optional(),
});

const rateLimitSchema = z.strictObject({
  limit: posInt(),
  window: duration({ required: true }),
  algorithm: z.enum(['fixed-window', 'sliding-window', 'token-bucket']).optional(),
  burst: posInt().optional(),
  location: location.optional(),
});

const loggerSchema = z.custom<LarderLogger | false>(
  (v) =>
    v === false ||
    (typeof v === 'object' &&
      v !== null &&
      typeof (v as LarderLogger).info === 'function' &&
      typeof (v as LarderLogger).warn === 'function' &&
      typeof (v as LarderLogger).error === 'function'),
  { error: 'an object with info, warn and error functions (console, pino, …), or false to silence larder' },
);

const configSchema = z.strictObject({
  redis: viaParser((value) => (value === false ? false : parseSingleLocation(value))).optional(),
  region: text('a region name').optional(),
  caches: z.record(z.string(), cacheSchema, { error: 'an object of cache name → cache config' }).optional(),
  sessions: sessionsSchema.optional(),
  rateLimits: z
    .record(z.string(), rateLimitSchema, { error: 'an object of limit name → { limit, window }' })
    .optional(),
  tasks: z
    .strictObject({
      broker: location.optional(),
      driver: z.enum(['eager', 'bullmq']).optional(),
      defaultQueue: text()
        .refine((v) => !v.includes(':'), {
          error: "a queue name without ':' (BullMQ uses it as a separator)",
        })
        .optional(),
      prefix: text().optional(),
    })
    .optional(),
  pubsub: z
    .strictObject({
      location: location.optional(),
      streamMaxLen: posInt('a whole number of events greater than 0').optional(),
    })
    .optional(),
  leaderboards: z.strictObject({ location: location.optional() }).optional(),
  // `metrics: false` is `{ enabled: false }`: errors inside the object keep their path.
  metrics: z
    .preprocess(
      (v) => (typeof v === 'boolean' ? { enabled: v } : v),
      z.strictObject(
        { enabled: bool.optional(), defaultMetrics: bool.optional() },
        { error: 'true, false or { enabled?, defaultMetrics? }' },
      ),
    )
    .optional(),
  logger: loggerSchema.optional(),
});

type Parsed = z.output<typeof configSchema>;
type ParsedCache = z.output<typeof cacheSchema>;

// ------------------------------------------------------------------------ resolution

/**
 * Validates a config once and fills in every default (DESIGN §3).
 *
 * The default connection is `config.redis`, else `env.LARDER_REDIS_URL`, else
 * `env.REDIS_URL` (empty variables count as unset; `redis: false` ignores both). With
 * none, every capability without a location of its own runs in memory and
 * `embedded` is true.
 *
 * @param input the user's config; `undefined` is the embedded default
 * @param env where LARDER_REDIS_URL, REDIS_URL and LARDER_REGION are read
 * @throws {ConfigError} naming the path, the value and what is accepted
 * @example
 * const resolved = resolveConfig({ caches: { default: { timeout: '15m' } } }, { REDIS_URL: 'redis://cache:6379' });
 * resolved.caches.default.backend;  // 'redis'
 * resolved.caches.default.timeout;  // 900000
 * resolveConfig({ caches: { default: { keyprefix: 'x' } } });
 * // ConfigError: Invalid config at caches.default.keyprefix: … did you mean 'keyPrefix'? …
 */
export function resolveConfig(input?: LarderConfig, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const raw: unknown = input === undefined ? {} : input;
  const result = configSchema.safeParse(raw, { error: describeIssue });
  if (!result.success) throw toConfigError(result.error.issues, raw, result.error);
  const cfg = result.data;

  const envValue = (name: string) => (env[name] === '' ? undefined : env[name]);
  const larderUrl = envValue('LARDER_REDIS_URL');
  const genericUrl = envValue('REDIS_URL');
  let redis: RedisLocation | undefined;
  if (cfg.redis === false) redis = undefined;
  else if (cfg.redis !== undefined) redis = cfg.redis;
  else if (larderUrl !== undefined) redis = parseLocation(larderUrl, 'env.LARDER_REDIS_URL');
  else if (genericUrl !== undefined) redis = parseLocation(genericUrl, 'env.REDIS_URL');

  const region = cfg.region ?? envValue('LARDER_REGION');
  const regionPath = cfg.region !== undefined ? 'region' : 'env.LARDER_REGION';

  const cacheInputs = cfg.caches ?? { default: {} };
  if (!Object.hasOwn(cacheInputs, 'default')) {
    throw new ConfigError(
      'caches',
      Object.keys(cacheInputs),
      "a caches object with a 'default' entry (Django requires one too); define caches.default",
    );
  }
  const caches: Record<string, ResolvedCacheConfig> = {};
  for (const [name, cache] of Object.entries(cacheInputs)) {
    caches[name] = resolveCache(name, cache as ParsedCache, redis, region, regionPath);
  }

  const sessions = resolveSessions(cfg, redis, caches);

  const rateLimits: Record<string, ResolvedRateLimitConfig> = {};
  for (const [name, limit] of Object.entries(cfg.rateLimits ?? {})) {
    const path = appendKey('rateLimits', name);
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new ConfigError(
        path,
        name,
        'a limit name of letters, digits, _ . - (it appears in headers and keys)',
      );
    }
    const algorithm = limit.algorithm ?? 'fixed-window';
    if (limit.burst !== undefined && algorithm !== 'token-bucket') {
      throw new ConfigError(
        `${path}.burst`,
        limit.burst,
        "no burst unless algorithm is 'token-bucket'; remove it or set that algorithm",
      );
    }
    rateLimits[name] = {
      name,
      limit: limit.limit,
      window: limit.window as number,
      algorithm,
      ...(algorithm === 'token-bucket' ? { burst: limit.burst ?? limit.limit } : {}),
      ...optionalLocation(limit.location ?? redis),
    };
  }

  const tasks = resolveTasks(cfg, redis);
  const pubsub = {
    ...optionalLocation(cfg.pubsub?.location ?? redis),
    streamMaxLen: cfg.pubsub?.streamMaxLen ?? 10_000,
  };
  const leaderboards = optionalLocation(cfg.leaderboards?.location ?? redis);

  const embedded =
    Object.values(caches).every((c) => c.location === undefined) &&
    sessions.location === undefined &&
    Object.values(rateLimits).every((l) => l.location === undefined) &&
    tasks.broker === undefined &&
    pubsub.location === undefined &&
    leaderboards.location === undefined;

  return {
    ...optionalLocation(redis, 'redis'),
    ...(region !== undefined ? { region } : {}),
    caches,
    sessions,
    rateLimits,
    tasks,
    pubsub,
    leaderboards,
    metrics: resolveMetrics(cfg.metrics),
    logger: cfg.logger === undefined ? console : cfg.logger,
    embedded,
  } as ResolvedConfig;
}

/** `metrics` (a boolean already made `{ enabled }`) with its defaults. */
function resolveMetrics(input: Parsed['metrics']): ResolvedConfig['metrics'] {
  return { enabled: input?.enabled ?? true, ...(input?.defaultMetrics ? { defaultMetrics: true } : {}) };
}

function optionalLocation(
  location: RedisLocation | undefined,
  key = 'location',
): { location?: RedisLocation } {
  return (location === undefined ? {} : { [key]: location }) as { location?: RedisLocation };
}

function resolveCache(
  name: string,
  cache: ParsedCache,
  redis: RedisLocation | undefined,
  region: string | undefined,
  regionPath: string,
): ResolvedCacheConfig {
  const path = appendKey('caches', name);
  const own = cache.location;
  const backend = cache.backend ?? (own !== undefined || redis !== undefined ? 'redis' : 'memory');
  const usesRedis = backend === 'redis' || backend === 'tiered';
  if (own !== undefined && !usesRedis) {
    throw new ConfigError(
      `${path}.location`,
      '(a location)',
      `no location for backend '${backend}'; remove it or set backend: 'redis'`,
    );
  }
  for (const key of ['maxEntries', 'maxBytes', 'cullFrequency'] as const) {
    if (cache[key] !== undefined && backend !== 'memory') {
      const hint =
        backend === 'tiered'
          ? `; use l1.${key === 'cullFrequency' ? 'maxEntries' : key} for the in-process layer`
          : '';
      throw new ConfigError(
        `${path}.${key}`,
        cache[key],
        `no ${key} for backend '${backend}' (memory only)${hint}`,
      );
    }
  }
  if (cache.l1 !== undefined && backend !== 'tiered') {
    throw new ConfigError(`${path}.l1`, cache.l1, "no l1 unless backend is 'tiered'");
  }

  let location: RedisLocation | undefined;
  let regions: Record<string, RedisLocation> | undefined;
  if (usesRedis) {
    if (own instanceof ParsedRegions) {
      regions = own.regions;
      const known = Object.keys(regions);
      if (region === undefined) {
        throw new ConfigError(
          `${path}.location`,
          { regions: known },
          `a region to pick from this region map: set \`region\` in the config or LARDER_REGION in the environment to ${listOf(known)}`,
        );
      }
      if (!Object.hasOwn(regions, region)) {
        throw new ConfigError(
          regionPath,
          region,
          `${listOf(known)} (the regions of ${path}.location)${suggestion(region, known)}`,
        );
      }
      location = regions[region];
    } else {
      location = own ?? redis;
    }
    if (location === undefined) {
      throw new ConfigError(
        `${path}.backend`,
        backend,
        `a Redis server for backend '${backend}': set ${path}.location, the top-level redis, ` +
          "or LARDER_REDIS_URL / REDIS_URL — or use backend: 'memory'",
      );
    }
  }

  let compress: ResolvedCacheConfig['compress'] = false;
  if (cache.compress) {
    const { algorithm, minLength = 1024, level } = cache.compress;
    const range = LEVELS[algorithm];
    if (level !== undefined && range !== undefined && (level < range[0] || level > range[1])) {
      throw new ConfigError(
        `${path}.compress.level`,
        level,
        `a ${algorithm} level from ${range[0]} to ${range[1]}`,
      );
    }
    compress = { algorithm, minLength, ...(level !== undefined ? { level } : {}) };
  }

  const ignoreErrors = cache.ignoreErrors ?? false;
  const connectionTimeout = location?.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT;
  const resolved: ResolvedCacheConfig = {
    name,
    backend,
    timeout: cache.timeout === undefined ? 300_000 : cache.timeout,
    keyPrefix: cache.keyPrefix ?? '',
    version: cache.version ?? 1,
    hashLongKeys: cache.hashLongKeys ?? false,
    serializer: cache.serializer ?? 'json',
    compress,
    ignoreErrors,
    commandTimeout: (cache.commandTimeout as number | undefined) ?? (ignoreErrors ? 250 : connectionTimeout),
    maxEntries: cache.maxEntries ?? 300,
    cullFrequency: cache.cullFrequency ?? 3,
  };
  if (location !== undefined) resolved.location = location;
  if (regions !== undefined) {
    resolved.regions = regions;
    resolved.region = region;
  }
  if (cache.keyFunction !== undefined) resolved.keyFunction = cache.keyFunction;
  if (cache.maxBytes !== undefined) resolved.maxBytes = cache.maxBytes;
  if (backend === 'tiered') {
    const l1 = cache.l1 ?? {};
    resolved.l1 = {
      maxEntries: l1.maxEntries ?? 1000,
      ttl: l1.ttl === undefined ? null : (l1.ttl as number | null),
      ...(l1.maxBytes !== undefined ? { maxBytes: l1.maxBytes } : {}),
    };
  }
  return resolved;
}

/** Level ranges Node's zlib accepts; lz4/zstd are checked by their packages. */
const LEVELS: Partial<Record<CompressionAlgorithm, [number, number]>> = {
  zlib: [-1, 9],
  gzip: [-1, 9],
  brotli: [0, 11],
};

function resolveSessions(
  cfg: Parsed,
  redis: RedisLocation | undefined,
  caches: Record<string, ResolvedCacheConfig>,
): ResolvedSessionsConfig {
  const s = cfg.sessions ?? {};
  if (s.cache !== undefined && s.engine !== undefined && s.engine !== 'cache') {
    throw new ConfigError(
      'sessions.cache',
      s.cache,
      `no cache for engine '${s.engine}'; remove it or set engine: 'cache'`,
    );
  }
  const engine =
    s.engine ??
    (s.cache !== undefined ? 'cache' : s.location !== undefined || redis !== undefined ? 'redis' : 'memory');
  if (s.location !== undefined && engine !== 'redis') {
    throw new ConfigError(
      'sessions.location',
      '(a location)',
      `no location for engine '${engine}'; remove it or set engine: 'redis'`,
    );
  }
  const location = engine === 'redis' ? (s.location ?? redis) : undefined;
  if (engine === 'redis' && location === undefined) {
    throw new ConfigError(
      'sessions.engine',
      engine,
      "a Redis server for engine 'redis': set sessions.location, the top-level redis, or LARDER_REDIS_URL / REDIS_URL — " +
        "or use engine 'memory' or 'cache'",
    );
  }
  let cache: string | undefined;
  if (engine === 'cache') {
    cache = s.cache ?? 'default';
    const known = Object.keys(caches);
    if (!Object.hasOwn(caches, cache)) {
      throw new ConfigError(
        'sessions.cache',
        cache,
        `the name of a cache: ${listOf(known)}${suggestion(cache, known)}`,
      );
    }
    if (caches[cache].ignoreErrors) {
      throw new ConfigError(
        'sessions.cache',
        cache,
        `a cache without ignoreErrors: on caches.${cache} an outage would read as "no session" and log users out; ` +
          "add a cache for sessions without ignoreErrors, or use engine 'redis'",
      );
    }
    if (caches[cache].backend === 'null') {
      throw new ConfigError(
        'sessions.cache',
        cache,
        `a cache that stores data; caches.${cache} uses the 'null' backend`,
      );
    }
  }

  if (s.durability === 'replicated' && engine !== 'redis') {
    throw new ConfigError(
      'sessions.durability',
      s.durability,
      `'async' for engine '${engine}': only engine 'redis' can wait for a replica (WAIT)`,
    );
  }
  const secrets = s.secret === undefined ? [] : typeof s.secret === 'string' ? [s.secret] : s.secret;
  secrets.forEach((value, i) => {
    if (value.length < MIN_SECRET_LENGTH) {
      const path = typeof s.secret === 'string' ? 'sessions.secret' : `sessions.secret[${i}]`;
      throw new ConfigError(
        path,
        `(hidden, ${value.length} characters)`,
        `a secret of at least ${MIN_SECRET_LENGTH} random characters; generate one with ${GENERATE_SECRET}`,
      );
    }
  });
  if (engine === 'signed-cookie' && secrets.length === 0) {
    throw new ConfigError(
      'sessions.secret',
      undefined,
      `a secret for engine 'signed-cookie' (a string, or a list with the newest first to rotate); generate one with ${GENERATE_SECRET}`,
    );
  }

  const maxAge = (s.maxAge ?? s.cookie?.maxAge ?? TWO_WEEKS) as number;
  const cookieMaxAge = (s.cookie?.maxAge as number | undefined) ?? maxAge;
  const touchAfter =
    (s.touchAfter as number | undefined) ??
    Math.min(60_000, Math.floor(maxAge / 2), Math.floor(cookieMaxAge / 2));
  if (touchAfter >= maxAge) {
    throw new ConfigError(
      'sessions.touchAfter',
      `${touchAfter / 1000} s`,
      `a duration shorter than sessions.maxAge (${maxAge / 1000} s), or sessions expire before they are touched`,
    );
  }
  if (touchAfter >= cookieMaxAge) {
    throw new ConfigError(
      'sessions.touchAfter',
      `${touchAfter / 1000} s`,
      `a duration shorter than sessions.cookie.maxAge (${cookieMaxAge / 1000} s), or the browser drops the cookie ` +
        'before a touch renews it; lower touchAfter or raise cookie.maxAge',
    );
  }
  const defaultMaxBytes = engine === 'signed-cookie' ? COOKIE_LIMIT : 65_536;
  if (engine === 'signed-cookie' && s.maxBytes !== undefined && s.maxBytes > COOKIE_LIMIT) {
    throw new ConfigError(
      'sessions.maxBytes',
      s.maxBytes,
      `at most ${COOKIE_LIMIT} for engine 'signed-cookie': browsers drop larger cookies (RFC 6265 §6.1)`,
    );
  }
  const c = s.cookie ?? {};
  const secure = c.secure ?? 'auto';
  const sameSite = c.sameSite ?? 'lax';
  if (sameSite === 'none' && secure !== true) {
    throw new ConfigError(
      'sessions.cookie.sameSite',
      sameSite,
      "'lax' or 'strict', or set cookie.secure: true: browsers drop SameSite=None cookies without Secure",
    );
  }
  return {
    engine,
    ...(location !== undefined ? { location } : {}),
    ...(cache !== undefined ? { cache } : {}),
    prefix: s.prefix ?? 'session',
    secrets,
    maxAge,
    absoluteMaxAge: s.absoluteMaxAge === undefined ? null : (s.absoluteMaxAge as number | null),
    saveEveryRequest: s.saveEveryRequest ?? false,
    expireAtBrowserClose: s.expireAtBrowserClose ?? false,
    maxBytes: s.maxBytes ?? defaultMaxBytes,
    touchAfter,
    cookie: {
      name: c.name ?? 'sessionid',
      maxAge: cookieMaxAge,
      path: c.path ?? '/',
      ...(c.domain !== undefined ? { domain: c.domain } : {}),
      secure,
      httpOnly: c.httpOnly ?? true,
      sameSite,
    },
    durability: s.durability ?? 'async',
  };
}

function resolveTasks(cfg: Parsed, redis: RedisLocation | undefined): ResolvedConfig['tasks'] {
  const t = cfg.tasks ?? {};
  const driver = t.driver ?? (t.broker !== undefined || redis !== undefined ? 'bullmq' : 'eager');
  if (driver === 'eager' && t.broker !== undefined) {
    throw new ConfigError(
      'tasks.broker',
      '(a location)',
      "no broker for driver 'eager'; remove it or set driver: 'bullmq'",
    );
  }
  const broker = driver === 'bullmq' ? (t.broker ?? redis) : undefined;
  if (driver === 'bullmq' && broker === undefined) {
    throw new ConfigError(
      'tasks.driver',
      driver,
      "a Redis server for driver 'bullmq': set tasks.broker, the top-level redis, or LARDER_REDIS_URL / REDIS_URL — or use driver 'eager'",
    );
  }
  const cluster = broker?.kind === 'cluster';
  // BullMQ keeps a queue's keys in one slot only when the prefix is a hash tag.
  if (cluster && t.prefix !== undefined && !/\{[^}]+\}/.test(t.prefix)) {
    throw new ConfigError(
      'tasks.prefix',
      t.prefix,
      `a hash-tagged prefix on Redis Cluster, like '{${t.prefix}}', so each queue's keys share a slot`,
    );
  }
  return {
    driver,
    ...(broker !== undefined ? { broker } : {}),
    defaultQueue: t.defaultQueue ?? 'default',
    prefix: t.prefix ?? (cluster ? '{larder}' : 'larder'),
  };
}

// --------------------------------------------------------------------- error rendering

/** Per-parse zod error map: every message is the `expected` of a ConfigError. */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      const what = TYPE_WORDS[issue.expected] ?? `a ${issue.expected}`;
      return issue.input === undefined ? `${what} (required)` : what;
    }
    case 'invalid_value': {
      const values = issue.values as unknown[];
      const words = values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(' | ');
      const hint =
        typeof issue.input === 'string'
          ? suggestion(
              issue.input,
              values.filter((v): v is string => typeof v === 'string'),
            )
          : '';
      return `${values.length === 1 ? words : `one of ${words}`}${hint}`;
    }
    case 'unrecognized_keys': {
      const shape = (issue.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod
        ?.def?.shape;
      const known = shape ? Object.keys(shape) : [];
      const key = (issue.keys as string[])[0];
      return `one of the known keys (${known.join(', ')}); '${key}' is not one${suggestion(key, known)}`;
    }
    case 'too_small':
      return issue.origin === 'string' ? 'a non-empty string' : `a value of at least ${issue.minimum}`;
    default:
      return undefined;
  }
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  record: 'an object',
  array: 'a list',
  function: 'a function',
  nonoptional: 'a value',
};

function toConfigError(issues: readonly z.core.$ZodIssue[], input: unknown, cause: unknown): ConfigError {
  // A misspelt key often explains the other issues (a "missing" required field): report it first.
  const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
  return issueToError(issue, [], input, cause);
}

function issueToError(
  issue: z.core.$ZodIssue,
  prefix: PropertyKey[],
  input: unknown,
  cause: unknown,
): ConfigError {
  const at = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // When exactly one branch matched the type and failed deeper in, its issue is the useful one.
    const deeper = issue.errors.filter((branch) =>
      branch.some((i) => i.path.length > 0 || i.code === 'unrecognized_keys'),
    );
    if (deeper.length === 1) {
      const inner = deeper[0].find((i) => i.code === 'unrecognized_keys') ?? deeper[0][0];
      return issueToError(inner, at, input, cause);
    }
  }
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    return hideSecrets(appendKey(renderPath(at), key), valueAt(input, [...at, key]), issue.message, cause);
  }
  if (issue.code === 'custom' && issue.params?.subPath !== undefined) {
    return hideSecrets(
      appendRendered(renderPath(at), issue.params.subPath),
      issue.params.value,
      issue.message,
      cause,
    );
  }
  const value = valueAt(input, at);
  const required = value === undefined && issue.code !== 'custom' && !issue.message.endsWith('(required)');
  return hideSecrets(renderPath(at), value, required ? `${issue.message} (required)` : issue.message, cause);
}

function hideSecrets(path: string, value: unknown, expected: string, cause: unknown): ConfigError {
  const secret = /(secret|password)(\[\d+\])?$/i.test(path) && value !== undefined;
  return new ConfigError(path, secret ? '(hidden)' : value, expected, { cause });
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Keys shown with a dot (`caches.my-cache`); anything else in brackets (`caches["a.b"]`). */
const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

function renderPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out = appendKey(out, key);
  return out;
}

/** Appends one raw key: `caches` + `default` → `caches.default`; `[1]` for indexes. */
function appendKey(base: string, key: PropertyKey): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  const name = String(key);
  if (PLAIN_KEY.test(name)) return base === '' ? name : `${base}.${name}`;
  return `${base}[${JSON.stringify(name)}]`;
}

/** Appends a path a parser already rendered (`url`, `[1]`, `regions.us.url`). */
function appendRendered(base: string, sub: string): string {
  if (sub === '') return base;
  return sub[0] === '[' || base === '' ? `${base}${sub}` : `${base}.${sub}`;
}

function listOf(names: string[]): string {
  return names.length === 0 ? '(none defined)' : `one of ${names.map((n) => `'${n}'`).join(' | ')}`;
}

/** ` (did you mean 'keyPrefix'?)` for a near miss, else ''. */
function suggestion(input: string, known: readonly string[]): string {
  const best = closest(input, known);
  return best === undefined ? '' : ` (did you mean '${best}'?)`;
}

/** The known name within edit distance 2 of `input` (case-insensitive), if any. */
function closest(input: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(input.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, two rows. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}
