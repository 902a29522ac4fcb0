import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type LarderConfig, type LarderLogger, resolveConfig } from '../../src/config/schema.js';
import type { ClusterLocation, ExternalRedisClient, StandaloneLocation } from '../../src/config/types.js';
import { ConfigError } from '../../src/errors.js';

const NO_ENV = {};
const SECRET = 'a'.repeat(32);

function rejects(config: unknown, path: string, ...includes: string[]): ConfigError {
  return rejectsWithEnv(config, NO_ENV, path, ...includes);
}

function rejectsWithEnv(
  config: unknown,
  env: NodeJS.ProcessEnv,
  path: string,
  ...includes: string[]
): ConfigError {
  let caught: unknown;
  try {
    resolveConfig(config as LarderConfig, env);
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof ConfigError,
    `expected ConfigError for ${JSON.stringify(config)}, got ${String(caught)}`,
  );
  assert.equal(caught.path, path, caught.message);
  for (const text of includes)
    assert.ok(caught.message.includes(text), `${JSON.stringify(text)} not in: ${caught.message}`);
  return caught;
}

const host = (loc: unknown) => (loc as StandaloneLocation | undefined)?.host;

describe('resolveConfig: the embedded default', () => {
  it('no config, no environment: everything in memory, Django defaults', () => {
    const r = resolveConfig(undefined, NO_ENV);
    assert.equal(r.embedded, true);
    assert.equal(r.redis, undefined);
    assert.deepEqual(r.caches.default, {
      name: 'default',
      backend: 'memory',
      timeout: 300_000,
      keyPrefix: '',
      version: 1,
      hashLongKeys: false,
      serializer: 'json',
      compress: false,
      ignoreErrors: false,
      commandTimeout: 1000,
      maxEntries: 300,
      cullFrequency: 3,
    });
    assert.deepEqual(r.sessions, {
      engine: 'memory',
      prefix: 'session',
      secrets: [],
      maxAge: 1_209_600_000,
      absoluteMaxAge: null,
      saveEveryRequest: false,
      expireAtBrowserClose: false,
      maxBytes: 65_536,
      touchAfter: 60_000,
      cookie: {
        name: 'sessionid',
        maxAge: 1_209_600_000,
        path: '/',
        secure: 'auto',
        httpOnly: true,
        sameSite: 'lax',
      },
      durability: 'async',
    });
    assert.deepEqual(r.rateLimits, {});
    assert.deepEqual(r.tasks, { driver: 'eager', defaultQueue: 'default', prefix: 'larder' });
    assert.deepEqual(r.pubsub, { streamMaxLen: 10_000 });
    assert.deepEqual(r.leaderboards, {});
    assert.deepEqual(r.metrics, { enabled: true });
    assert.equal(r.logger, console);
  });

  it('an empty object is the same as no config', () => {
    assert.deepEqual(resolveConfig({}, NO_ENV), resolveConfig(undefined, NO_ENV));
  });
});

describe('resolveConfig: the default connection and the environment', () => {
  it('REDIS_URL puts every capability on Redis', () => {
    const r = resolveConfig(
      { rateLimits: { api: { limit: 10, window: 1 } } },
      { REDIS_URL: 'redis://from-env:6379/0' },
    );
    assert.equal(host(r.redis), 'from-env');
    assert.equal(r.embedded, false);
    assert.equal(r.caches.default.backend, 'redis');
    assert.equal(host(r.caches.default.location), 'from-env');
    assert.equal(r.sessions.engine, 'redis');
    assert.equal(host(r.sessions.location), 'from-env');
    assert.equal(r.tasks.driver, 'bullmq');
    assert.equal(host(r.tasks.broker), 'from-env');
    assert.equal(host(r.pubsub.location), 'from-env');
    assert.equal(host(r.leaderboards.location), 'from-env');
    assert.equal(host(r.rateLimits.api.location), 'from-env');
  });

  it('LARDER_REDIS_URL wins over REDIS_URL', () => {
    const r = resolveConfig({}, { LARDER_REDIS_URL: 'redis://larder', REDIS_URL: 'redis://generic' });
    assert.equal(host(r.redis), 'larder');
  });

  it('an explicit redis wins over both, and an invalid environment is then ignored', () => {
    const r = resolveConfig(
      { redis: 'redis://explicit' },
      { LARDER_REDIS_URL: 'http://bad', REDIS_URL: 'redis://generic' },
    );
    assert.equal(host(r.redis), 'explicit');
  });

  it('empty variables count as unset', () => {
    assert.equal(
      host(resolveConfig({}, { LARDER_REDIS_URL: '', REDIS_URL: 'redis://generic' }).redis),
      'generic',
    );
    assert.equal(resolveConfig({}, { REDIS_URL: '' }).embedded, true);
  });

  it('redis: false ignores the environment', () => {
    const r = resolveConfig({ redis: false }, { REDIS_URL: 'redis://generic' });
    assert.equal(r.redis, undefined);
    assert.equal(r.embedded, true);
  });

  it('a bad URL in the environment names the variable', () => {
    rejectsWithEnv({}, { REDIS_URL: 'redis://h:0' }, 'env.REDIS_URL', '1 to 65535');
    rejectsWithEnv({}, { LARDER_REDIS_URL: 'mongodb://h' }, 'env.LARDER_REDIS_URL', "'mongodb://'");
  });

  it('a bad explicit redis names redis, without the password', () => {
    const error = rejects({ redis: 'redis://:hunter2hunter2@h:99999' }, 'redis', '1 to 65535');
    assert.ok(!error.message.includes('hunter2'));
  });

  it('accepts every location form as the default connection', () => {
    const client: ExternalRedisClient = { sendCommand: async () => 'OK' };
    assert.equal(resolveConfig({ redis: client }, NO_ENV).redis?.kind, 'external');
    assert.equal(resolveConfig({ redis: ['redis://p', 'redis://r'] }, NO_ENV).redis?.kind, 'replicas');
    assert.equal(
      resolveConfig({ redis: { url: 'redis://h', poolSize: 2 } }, NO_ENV).redis?.kind,
      'standalone',
    );
    assert.equal(resolveConfig({ redis: 'redis+sentinel://s/m' }, NO_ENV).redis?.kind, 'sentinel');
  });
});

describe('resolveConfig: caches', () => {
  it('the DESIGN §3 example resolves', () => {
    const r = resolveConfig(
      {
        redis: 'redis://127.0.0.1:6379',
        caches: {
          default: {
            backend: 'redis',
            location: 'redis://127.0.0.1:6379/1',
            timeout: 300,
            keyPrefix: 'shop',
            version: 1,
            serializer: 'json',
            compress: { algorithm: 'zlib', minLength: 1024 },
            ignoreErrors: true,
          },
          local: { backend: 'memory', maxEntries: 300, cullFrequency: 3 },
        },
        sessions: {
          engine: 'redis',
          location: 'redis://127.0.0.1:6379/2',
          prefix: 'session',
          cookie: { name: 'sessionid', maxAge: 1209600, path: '/', httpOnly: true, sameSite: 'lax' },
        },
        rateLimits: { api: { limit: 100, window: 60, algorithm: 'fixed-window' } },
        tasks: { broker: 'redis://127.0.0.1:6379/0' },
      },
      NO_ENV,
    );
    const cache = r.caches.default;
    assert.equal((cache.location as StandaloneLocation).db, 1);
    assert.deepEqual(cache.compress, { algorithm: 'zlib', minLength: 1024 });
    assert.equal(cache.commandTimeout, 250, 'ignoreErrors → 250 ms');
    assert.equal(r.caches.local.backend, 'memory');
    assert.equal((r.sessions.location as StandaloneLocation).db, 2);
    assert.equal(r.rateLimits.api.window, 60_000);
    assert.equal(r.tasks.driver, 'bullmq');
  });

  it('a cache with its own location defaults to redis even without a default connection', () => {
    const r = resolveConfig({ caches: { default: { location: 'redis://own' } } }, NO_ENV);
    assert.equal(r.caches.default.backend, 'redis');
    assert.equal(r.sessions.engine, 'memory');
    assert.equal(r.embedded, false);
  });

  it('timeouts: durations in ms, null never expires, zero and negative expire at once', () => {
    const t = (timeout: unknown) =>
      resolveConfig({ caches: { default: { timeout: timeout as number } } }, NO_ENV).caches.default.timeout;
    assert.equal(t('15m'), 900_000);
    assert.equal(t(0.5), 500);
    assert.equal(t(null), null);
    assert.equal(t(0), 0);
    assert.equal(t(-1), -1000);
  });

  it('commandTimeout: explicit, 250 ms with ignoreErrors, else the location', () => {
    const cache = (c: object, redis = 'redis://h?commandTimeout=2s') =>
      resolveConfig({ redis, caches: { default: c } }, NO_ENV).caches.default;
    assert.equal(cache({}).commandTimeout, 2000);
    assert.equal(cache({ ignoreErrors: true }).commandTimeout, 250);
    assert.equal(cache({ ignoreErrors: true, commandTimeout: '100ms' }).commandTimeout, 100);
    assert.equal(cache({ commandTimeout: 3 }).commandTimeout, 3000);
  });

  it('compress, serializer, keys and functions', () => {
    const keyFunction = (key: string, prefix: string, version: number) => `${prefix}|${version}|${key}`;
    const c = resolveConfig(
      {
        caches: {
          default: {
            compress: { algorithm: 'brotli', level: 11, minLength: 0 },
            serializer: 'msgpack',
            keyPrefix: 'shop:',
            version: 7,
            hashLongKeys: true,
            keyFunction,
          },
        },
      },
      NO_ENV,
    ).caches.default;
    assert.deepEqual(c.compress, { algorithm: 'brotli', level: 11, minLength: 0 });
    assert.equal(c.serializer, 'msgpack');
    assert.equal(c.keyPrefix, 'shop:');
    assert.equal(c.version, 7);
    assert.equal(c.hashLongKeys, true);
    assert.equal(c.keyFunction, keyFunction, 'functions pass through untouched');
    assert.deepEqual(
      resolveConfig({ caches: { default: { compress: false } } }, NO_ENV).caches.default.compress,
      false,
    );
  });

  it('memory options and the tiered l1', () => {
    const r = resolveConfig(
      {
        redis: 'redis://h',
        caches: {
          default: { backend: 'tiered', l1: { maxEntries: 50, ttl: '10s', maxBytes: 1_000_000 } },
          t2: { backend: 'tiered' },
          local: { backend: 'memory', maxEntries: 10, maxBytes: 4096, cullFrequency: 0 },
          off: { backend: 'null' },
        },
      },
      NO_ENV,
    );
    assert.deepEqual(r.caches.default.l1, { maxEntries: 50, ttl: 10_000, maxBytes: 1_000_000 });
    assert.deepEqual(r.caches.t2.l1, { maxEntries: 1000, ttl: null });
    assert.equal(r.caches.local.maxBytes, 4096);
    assert.equal(r.caches.local.cullFrequency, 0);
    assert.equal(r.caches.local.location, undefined);
    assert.equal(r.caches.off.backend, 'null');
  });

  it('no caches.default', () => {
    rejects({ caches: { local: { backend: 'memory' } } }, 'caches', 'define caches.default');
    rejects({ caches: {} }, 'caches', 'define caches.default');
  });

  it("backend 'redis' or 'tiered' with no Redis anywhere", () => {
    rejects(
      { caches: { default: { backend: 'redis' } } },
      'caches.default.backend',
      'REDIS_URL',
      "backend: 'memory'",
    );
    rejects(
      { caches: { default: { backend: 'tiered' } } },
      'caches.default.backend',
      'caches.default.location',
    );
  });

  it('options that do not belong to the backend', () => {
    rejects(
      { caches: { default: { backend: 'memory', location: 'redis://h' } } },
      'caches.default.location',
      "backend: 'redis'",
    );
    rejects(
      { redis: 'redis://h', caches: { default: { maxEntries: 5 } } },
      'caches.default.maxEntries',
      'memory only',
    );
    rejects(
      { redis: 'redis://h', caches: { default: { backend: 'tiered', maxBytes: 5 } } },
      'caches.default.maxBytes',
      'l1.maxBytes',
    );
    rejects({ caches: { default: { l1: {} } } }, 'caches.default.l1', "'tiered'");
  });

  it('wrong values name the path, the value and what is accepted', () => {
    rejects(
      { caches: { default: { backend: 'mongo' } } },
      'caches.default.backend',
      "one of 'redis' | 'memory' | 'null' | 'tiered'",
      '"mongo"',
    );
    rejects({ caches: { default: { backend: 'Redis' } } }, 'caches.default.backend', "did you mean 'redis'");
    rejects(
      { caches: { default: { timeout: '5 minutes' } } },
      'caches.default.timeout',
      "'15m'",
      '"5 minutes"',
      'null',
    );
    rejects(
      { caches: { default: { timeout: Number.NaN } } },
      'caches.default.timeout',
      'a number of seconds',
    );
    rejects({ caches: { default: { version: 1.5 } } }, 'caches.default.version', 'a whole number');
    rejects({ caches: { default: { keyPrefix: 5 } } }, 'caches.default.keyPrefix', 'a string');
    rejects({ caches: { default: { keyPrefix: 'a\nb' } } }, 'caches.default.keyPrefix', 'control characters');
    rejects({ caches: { default: { keyFunction: 'md5' } } }, 'caches.default.keyFunction', 'a function');
    rejects(
      { caches: { default: { serializer: 'pickle' } } },
      'caches.default.serializer',
      "'json' | 'msgpack'",
    );
    rejects({ caches: { default: { hashLongKeys: 'yes' } } }, 'caches.default.hashLongKeys', 'true or false');
    rejects({ caches: { default: { maxEntries: 0 } } }, 'caches.default.maxEntries', 'greater than 0');
    rejects({ caches: { default: { cullFrequency: -1 } } }, 'caches.default.cullFrequency', '0 clears all');
    rejects(
      { caches: { default: { commandTimeout: 0 } } },
      'caches.default.commandTimeout',
      'greater than zero',
    );
    rejects({ caches: { default: { l1: { ttl: 'x' } } } }, 'caches.default.l1.ttl', "'15m'");
    rejects({ caches: { default: 5 } }, 'caches.default', 'an object');
    rejects({ caches: [] }, 'caches', 'cache name → cache config');
  });

  it('compress errors point inside the object', () => {
    rejects(
      { caches: { default: { compress: true } } },
      'caches.default.compress',
      "false or { algorithm: 'zlib'",
    );
    rejects(
      { caches: { default: { compress: { algorithm: 'lzma' } } } },
      'caches.default.compress.algorithm',
      "'zstd'",
    );
    rejects({ caches: { default: { compress: {} } } }, 'caches.default.compress.algorithm', 'required');
    rejects(
      { caches: { default: { compress: { algorithm: 'zlib', lvl: 1 } } } },
      'caches.default.compress.lvl',
      "did you mean 'level'",
    );
    rejects(
      { caches: { default: { compress: { algorithm: 'zlib', level: 12 } } } },
      'caches.default.compress.level',
      'from -1 to 9',
    );
    rejects(
      { caches: { default: { compress: { algorithm: 'gzip', minLength: -1 } } } },
      'caches.default.compress.minLength',
      '0 or more',
    );
  });

  it('location errors carry the full path, into replica lists and options', () => {
    rejects(
      { caches: { default: { location: 'redis+cluster://a:7000/2' } } },
      'caches.default.location',
      'no database number',
    );
    rejects(
      { caches: { default: { location: ['redis://a/1', 'redis://b/2'] } } },
      'caches.default.location[1]',
      'same db',
    );
    rejects(
      { caches: { default: { location: { url: 'redis://h', bogus: 1 } } } },
      'caches.default.location.bogus',
      'not a location option',
    );
    rejects({ caches: { default: { location: 42 } } }, 'caches.default.location', 'URL string');
  });

  it('odd cache names are quoted in paths', () => {
    rejects(
      { caches: { default: {}, 'page.cache': { timeout: 'x' } } },
      'caches["page.cache"].timeout',
      "'15m'",
    );
    rejects(
      { caches: { default: {}, 'page-cache': { timeout: 'x' } } },
      'caches.page-cache.timeout',
      "'15m'",
    );
  });
});

describe('resolveConfig: unknown keys', () => {
  it('suggests the near key (edit distance ≤ 2, any case)', () => {
    rejects(
      { caches: { default: { keyprefix: 'x' } } },
      'caches.default.keyprefix',
      "did you mean 'keyPrefix'",
      'known keys',
    );
    rejects({ cache: {} }, 'cache', "did you mean 'caches'");
    rejects({ rateLimit: {} }, 'rateLimit', "did you mean 'rateLimits'");
    rejects(
      { sessions: { cookie: { samesite: 'lax' } } },
      'sessions.cookie.samesite',
      "did you mean 'sameSite'",
    );
    rejects({ rateLimits: { api: { limt: 10, window: 1 } } }, 'rateLimits.api.limt', "did you mean 'limit'");
  });

  it('lists the known keys when nothing is near', () => {
    const error = rejects(
      { caches: { default: { options: {} } } },
      'caches.default.options',
      "'options' is not one",
    );
    assert.ok(!error.message.includes('did you mean'));
    assert.ok(error.message.includes('keyPrefix'));
  });

  it('the unknown key is reported before the "missing" field it explains', () => {
    rejects({ rateLimits: { api: { limt: 10, window: 1 } } }, 'rateLimits.api.limt');
  });
});

describe('resolveConfig: region maps', () => {
  const regional = {
    caches: { default: { location: { regions: { us: 'redis://us-cache/1', eu: 'redis://eu-cache/1' } } } },
  };

  it('picks the configured region and keeps every region', () => {
    const r = resolveConfig({ ...regional, region: 'eu' }, NO_ENV);
    assert.equal(r.region, 'eu');
    assert.equal(host(r.caches.default.location), 'eu-cache');
    assert.equal(r.caches.default.region, 'eu');
    assert.deepEqual(Object.keys(r.caches.default.regions ?? {}), ['us', 'eu']);
    assert.equal(host(r.caches.default.regions?.us), 'us-cache');
  });

  it('LARDER_REGION, and region wins over it', () => {
    assert.equal(host(resolveConfig(regional, { LARDER_REGION: 'us' }).caches.default.location), 'us-cache');
    assert.equal(
      host(resolveConfig({ ...regional, region: 'eu' }, { LARDER_REGION: 'us' }).caches.default.location),
      'eu-cache',
    );
  });

  it('no region chosen', () => {
    rejects(regional, 'caches.default.location', 'LARDER_REGION', '`region`', "'us' | 'eu'");
  });

  it('an unknown region lists the known ones', () => {
    rejects({ ...regional, region: 'apac' }, 'region', "one of 'us' | 'eu'");
    rejectsWithEnv(regional, { LARDER_REGION: 'ue' }, 'env.LARDER_REGION', "did you mean 'us'");
  });

  it('bad region maps', () => {
    rejects(
      { region: 'us', caches: { default: { location: { regions: {} } } } },
      'caches.default.location.regions',
      'region name → location',
    );
    rejects(
      {
        region: 'us',
        caches: { default: { location: { regions: { us: 'redis://a' }, fallback: 'redis://b' } } },
      },
      'caches.default.location.fallback',
      "nothing beside 'regions'",
    );
    rejects(
      {
        region: 'us',
        caches: { default: { location: { regions: { us: 'redis://a', eu: 'redis://b:0' } } } },
      },
      'caches.default.location.regions.eu',
      '1 to 65535',
    );
    rejects(
      {
        region: 'us',
        caches: { default: { backend: 'memory', location: { regions: { us: 'redis://a' } } } },
      },
      'caches.default.location',
    );
  });

  it('only caches take region maps', () => {
    rejects(
      { sessions: { location: { regions: { us: 'redis://a' } } } },
      'sessions.location',
      'only accepted by caches',
    );
    rejects({ redis: { regions: { us: 'redis://a' } } }, 'redis', 'only accepted by caches');
  });
});

describe('resolveConfig: sessions', () => {
  it('engine cache: the named cache, default "default"', () => {
    const r = resolveConfig(
      { caches: { default: {}, sessions: { backend: 'memory' } }, sessions: { cache: 'sessions' } },
      NO_ENV,
    );
    assert.equal(r.sessions.engine, 'cache');
    assert.equal(r.sessions.cache, 'sessions');
    assert.equal(resolveConfig({ sessions: { engine: 'cache' } }, NO_ENV).sessions.cache, 'default');
  });

  it('engine cache: unknown or null caches', () => {
    rejects(
      { sessions: { engine: 'cache', cache: 'defualt' } },
      'sessions.cache',
      "one of 'default'",
      "did you mean 'default'",
    );
    rejects(
      { caches: { default: { backend: 'null' } }, sessions: { engine: 'cache' } },
      'sessions.cache',
      "'null' backend",
    );
    rejects(
      { redis: 'redis://h', sessions: { engine: 'redis', cache: 'default' } },
      'sessions.cache',
      "engine: 'cache'",
    );
  });

  it('engine redis: own location or the default connection', () => {
    const r = resolveConfig({ sessions: { location: 'redis://sessions/3' } }, NO_ENV);
    assert.equal(r.sessions.engine, 'redis');
    assert.equal((r.sessions.location as StandaloneLocation).db, 3);
    rejects({ sessions: { engine: 'redis' } }, 'sessions.engine', 'sessions.location', 'REDIS_URL');
    rejects(
      { sessions: { engine: 'memory', location: 'redis://h' } },
      'sessions.location',
      "engine: 'redis'",
    );
  });

  it('signed-cookie needs a secret of 32+ characters, and hides it in errors', () => {
    rejects(
      { sessions: { engine: 'signed-cookie' } },
      'sessions.secret',
      "'signed-cookie'",
      'randomBytes(32)',
    );
    const error = rejects(
      { sessions: { secret: 'hunter2' } },
      'sessions.secret',
      'at least 32',
      'randomBytes',
    );
    assert.ok(!error.message.includes('hunter2'));
    rejects({ sessions: { secret: [SECRET, 'short'] } }, 'sessions.secret[1]', 'at least 32');
    rejects({ sessions: { secret: [] } }, 'sessions.secret', 'newest first');
    const typeError = rejects({ sessions: { secret: ['hunter2', 5] } }, 'sessions.secret[1]', 'a string');
    assert.equal(typeError.value, '(hidden)');
    const r = resolveConfig(
      { sessions: { engine: 'signed-cookie', secret: [SECRET, `${SECRET}b`] } },
      NO_ENV,
    );
    assert.deepEqual(r.sessions.secrets, [SECRET, `${SECRET}b`]);
    assert.equal(r.sessions.maxBytes, 4096, 'a cookie holds 4 KiB');
    rejects(
      { sessions: { engine: 'signed-cookie', secret: SECRET, maxBytes: 65536 } },
      'sessions.maxBytes',
      '4096',
    );
  });

  it('durations and their defaults', () => {
    const s = resolveConfig(
      {
        sessions: {
          maxAge: '1h',
          absoluteMaxAge: '12h',
          touchAfter: 0,
          saveEveryRequest: true,
          expireAtBrowserClose: true,
        },
      },
      NO_ENV,
    ).sessions;
    assert.deepEqual(
      [s.maxAge, s.absoluteMaxAge, s.touchAfter, s.cookie.maxAge, s.saveEveryRequest, s.expireAtBrowserClose],
      [3_600_000, 43_200_000, 0, 3_600_000, true, true],
    );
    assert.equal(
      resolveConfig({ sessions: { maxAge: 60 } }, NO_ENV).sessions.touchAfter,
      30_000,
      'at most maxAge / 2',
    );
    const fromCookie = resolveConfig({ sessions: { cookie: { maxAge: '1d' } } }, NO_ENV).sessions;
    assert.equal(fromCookie.maxAge, 86_400_000, 'cookie.maxAge alone sets both');
    const both = resolveConfig({ sessions: { maxAge: '1h', cookie: { maxAge: '1d' } } }, NO_ENV).sessions;
    assert.deepEqual([both.maxAge, both.cookie.maxAge], [3_600_000, 86_400_000]);
    rejects(
      { sessions: { maxAge: 60, touchAfter: 60 } },
      'sessions.touchAfter',
      'shorter than sessions.maxAge',
    );
    rejects({ sessions: { touchAfter: -1 } }, 'sessions.touchAfter', '0 or more');
    rejects({ sessions: { maxAge: 0 } }, 'sessions.maxAge', 'greater than zero');
    rejects({ sessions: { absoluteMaxAge: 'forever' } }, 'sessions.absoluteMaxAge', 'null');
    assert.equal(resolveConfig({ sessions: { absoluteMaxAge: null } }, NO_ENV).sessions.absoluteMaxAge, null);
  });

  it('cookie options', () => {
    const c = resolveConfig(
      {
        sessions: {
          prefix: 'sess',
          cookie: {
            name: '__Host-sid',
            path: '/app',
            domain: 'example.com',
            secure: true,
            httpOnly: false,
            sameSite: 'none',
          },
        },
      },
      NO_ENV,
    ).sessions;
    assert.equal(c.prefix, 'sess');
    assert.deepEqual(c.cookie, {
      name: '__Host-sid',
      maxAge: 1_209_600_000,
      path: '/app',
      domain: 'example.com',
      secure: true,
      httpOnly: false,
      sameSite: 'none',
    });
  });

  it('cookie errors', () => {
    rejects(
      { sessions: { cookie: { sameSite: 'none' } } },
      'sessions.cookie.sameSite',
      'secure: true',
      'SameSite=None',
    );
    rejects(
      { sessions: { cookie: { sameSite: 'none', secure: 'auto' } } },
      'sessions.cookie.sameSite',
      'secure: true',
    );
    rejects(
      { sessions: { cookie: { sameSite: 'Lax' } } },
      'sessions.cookie.sameSite',
      "one of 'lax' | 'strict' | 'none'",
      "did you mean 'lax'",
    );
    rejects({ sessions: { cookie: { name: 'session id' } } }, 'sessions.cookie.name', 'RFC 6265');
    rejects({ sessions: { cookie: { name: 'a;b' } } }, 'sessions.cookie.name', 'cookie name');
    rejects({ sessions: { cookie: { path: 'app' } } }, 'sessions.cookie.path', "starting with '/'");
    rejects({ sessions: { cookie: { domain: 'a.com; secure' } } }, 'sessions.cookie.domain', "without ';'");
    rejects({ sessions: { cookie: { secure: 'yes' } } }, 'sessions.cookie.secure', "true, false or 'auto'");
    rejects(
      { sessions: { engine: 'file' } },
      'sessions.engine',
      "'redis' | 'cache' | 'signed-cookie' | 'memory'",
    );
    rejects({ sessions: { maxBytes: 0 } }, 'sessions.maxBytes', 'greater than 0');
    rejects({ sessions: { prefix: '' } }, 'sessions.prefix', 'non-empty');
  });
});

describe('resolveConfig: rate limits', () => {
  it('defaults, durations, token-bucket burst, own location', () => {
    const r = resolveConfig(
      {
        rateLimits: {
          api: { limit: 100, window: '1m' },
          login: { limit: 5, window: 900, algorithm: 'sliding-window' },
          upload: { limit: 10, window: 1, algorithm: 'token-bucket' },
          burst: { limit: 10, window: 1, algorithm: 'token-bucket', burst: 20, location: 'redis://limits' },
        },
      },
      NO_ENV,
    ).rateLimits;
    assert.deepEqual(r.api, { name: 'api', limit: 100, window: 60_000, algorithm: 'fixed-window' });
    assert.equal(r.login.window, 900_000);
    assert.equal(r.upload.burst, 10);
    assert.equal(r.burst.burst, 20);
    assert.equal(host(r.burst.location), 'limits');
  });

  it('errors', () => {
    rejects(
      { rateLimits: { api: { window: 60 } } },
      'rateLimits.api.limit',
      'whole number greater than 0',
      'required',
    );
    rejects({ rateLimits: { api: { limit: 0, window: 60 } } }, 'rateLimits.api.limit', 'greater than 0');
    rejects({ rateLimits: { api: { limit: 2.5, window: 60 } } }, 'rateLimits.api.limit', 'whole number');
    rejects({ rateLimits: { api: { limit: 1 } } }, 'rateLimits.api.window', "'15m'");
    rejects({ rateLimits: { api: { limit: 1, window: 0 } } }, 'rateLimits.api.window', 'greater than zero');
    rejects(
      { rateLimits: { api: { limit: 1, window: 1, algorithm: 'leaky' } } },
      'rateLimits.api.algorithm',
      "'token-bucket'",
    );
    rejects(
      { rateLimits: { api: { limit: 1, window: 1, burst: 5 } } },
      'rateLimits.api.burst',
      "'token-bucket'",
    );
    rejects(
      { rateLimits: { api: { limit: 1, window: 1, location: 'redis://h:0' } } },
      'rateLimits.api.location',
      '65535',
    );
  });
});

describe('resolveConfig: tasks, pubsub, leaderboards, metrics, logger', () => {
  it('tasks', () => {
    const t = resolveConfig(
      { tasks: { broker: 'redis://broker/0', defaultQueue: 'emails', prefix: 'shop' } },
      NO_ENV,
    ).tasks;
    assert.deepEqual(
      [t.driver, host(t.broker), t.defaultQueue, t.prefix],
      ['bullmq', 'broker', 'emails', 'shop'],
    );
    const onCluster = resolveConfig({ redis: 'redis+cluster://a:7000' }, NO_ENV).tasks;
    assert.equal((onCluster.broker as ClusterLocation).kind, 'cluster');
    assert.equal(onCluster.prefix, '{larder}', 'BullMQ needs a hash tag on Cluster');
    assert.equal(
      resolveConfig({ redis: 'redis://h', tasks: { driver: 'eager' } }, NO_ENV).tasks.broker,
      undefined,
    );
    rejects({ tasks: { driver: 'bullmq' } }, 'tasks.driver', 'tasks.broker', "driver 'eager'");
    rejects({ tasks: { driver: 'eager', broker: 'redis://h' } }, 'tasks.broker', "driver: 'bullmq'");
    rejects({ redis: 'redis+cluster://a:7000', tasks: { prefix: 'shop' } }, 'tasks.prefix', "'{shop}'");
    rejects({ tasks: { defaultQueue: 'a:b' } }, 'tasks.defaultQueue', "without ':'");
    rejects({ tasks: { driver: 'celery' } }, 'tasks.driver', "one of 'eager' | 'bullmq'");
  });

  it('pubsub and leaderboards', () => {
    const r = resolveConfig(
      { pubsub: { location: 'redis://bus', streamMaxLen: 500 }, leaderboards: { location: 'redis://lb' } },
      NO_ENV,
    );
    assert.equal(host(r.pubsub.location), 'bus');
    assert.equal(r.pubsub.streamMaxLen, 500);
    assert.equal(host(r.leaderboards.location), 'lb');
    assert.equal(r.embedded, false);
    rejects({ pubsub: { streamMaxLen: 0 } }, 'pubsub.streamMaxLen', 'greater than 0');
    rejects(
      { leaderboards: { location: 'redis+cluster://a/1' } },
      'leaderboards.location',
      'no database number',
    );
  });

  it('metrics and logger', () => {
    assert.equal(resolveConfig({ metrics: { enabled: false } }, NO_ENV).metrics.enabled, false);
    assert.equal(resolveConfig({ logger: false }, NO_ENV).logger, false);
    const logger: LarderLogger & { child(): void } = { info() {}, warn() {}, error() {}, child() {} };
    assert.equal(resolveConfig({ logger }, NO_ENV).logger, logger, 'passed through untouched');
    rejects({ logger: { info() {} } }, 'logger', 'info, warn and error');
    rejects({ logger: true }, 'logger', 'false to silence');
    rejects({ metrics: { enabled: 1 } }, 'metrics.enabled', 'true or false');
  });
});

describe('resolveConfig: the error itself', () => {
  it('is one ConfigError with code, path, value, expected and the zod issues as cause', () => {
    const error = rejects({ caches: { default: { timeout: 'soon' } } }, 'caches.default.timeout');
    assert.equal(error.code, 'E_CONFIG');
    assert.equal(error.value, 'soon');
    assert.ok(error.expected.includes("'15m'"));
    assert.ok(error.cause instanceof Error);
  });

  it('a config that is not an object', () => {
    rejects(null, '', 'an object');
    rejects('redis://h', '', 'an object');
    rejects([], '', 'an object');
  });

  it('region must be a non-empty string', () => {
    rejects({ region: '' }, 'region', 'a region name');
    rejects({ region: 5 }, 'region', 'a region name');
  });
});
