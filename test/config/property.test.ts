import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseDuration } from '../../src/config/duration.js';
import { MAX_DB, parseLocation, redactUrl } from '../../src/config/location.js';
import { type LarderConfig, resolveConfig } from '../../src/config/schema.js';
import type {
  ClusterLocation,
  LocationInput,
  SentinelLocation,
  StandaloneLocation,
} from '../../src/config/types.js';
import { ConfigError } from '../../src/errors.js';

const RUNS = { numRuns: 2000 };

// Characters that mean something in a URL, plus a few non-ASCII ones.
const SPECIAL = [...':@/?#%[]&=+ ,;!$\'()*~\\"<>`{}|^', 'a', 'Z', '0', 'é', '€', '𝄞'];
const secretText = fc.oneof(
  fc.string({ minLength: 1, maxLength: 24, unit: 'grapheme' }),
  fc.string({ minLength: 1, maxLength: 24, unit: fc.constantFrom(...SPECIAL) }),
);
const hostArb = fc.oneof(
  fc.domain().map((host) => ({ host, text: host })),
  fc.ipV4().map((host) => ({ host, text: host })),
  fc.ipV6().map((host) => ({ host, text: `[${host}]` })),
);
const portArb = fc.integer({ min: 1, max: 65535 });
const credentials = fc.record({
  username: fc.option(secretText, { nil: undefined }),
  password: fc.option(secretText, { nil: undefined }),
});

function userinfo({ username, password }: { username?: string; password?: string }): string {
  if (username === undefined && password === undefined) return '';
  return `${username === undefined ? '' : encodeURIComponent(username)}${password === undefined ? '' : `:${encodeURIComponent(password)}`}@`;
}

function expectParsesOrConfigError(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    assert.ok(
      error instanceof ConfigError,
      `expected ConfigError, got ${String((error as Error)?.stack ?? error)}`,
    );
    assert.equal(typeof error.path, 'string');
    assert.equal(typeof error.expected, 'string');
  }
}

describe('property: URLs round-trip', () => {
  it('redis:// and rediss:// with any host, port, db, user and password', () => {
    fc.assert(
      fc.property(
        hostArb,
        portArb,
        fc.integer({ min: 0, max: MAX_DB }),
        credentials,
        fc.boolean(),
        (host, port, db, auth, tls) => {
          const url = `${tls ? 'rediss' : 'redis'}://${userinfo(auth)}${host.text}:${port}/${db}`;
          const loc = parseLocation(url, 'redis') as StandaloneLocation;
          assert.equal(loc.kind, 'standalone');
          assert.equal(loc.host, host.host);
          assert.equal(loc.port, port);
          assert.equal(loc.db, db);
          assert.equal(loc.tls, tls);
          assert.equal(loc.username, auth.username);
          assert.equal(loc.password, auth.password);
          // The redacted form parses back to the same server, with the password masked.
          const back = parseLocation(redactUrl(loc), 'redis') as StandaloneLocation;
          assert.deepEqual(
            [back.host, back.port, back.db, back.tls, back.username],
            [host.host, port, db, tls, auth.username],
          );
          assert.equal(back.password, auth.password === undefined ? undefined : '***');
        },
      ),
      RUNS,
    );
  });

  it('redis+sentinel:// and redis+cluster:// host lists', () => {
    const hosts = fc.array(fc.tuple(hostArb, portArb), { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(
        hosts,
        credentials,
        secretText,
        fc.integer({ min: 0, max: 15 }),
        (list, auth, master, db) => {
          const authority = `${userinfo(auth)}${list.map(([h, p]) => `${h.text}:${p}`).join(',')}`;
          const expected = list.map(([h, p]) => ({ host: h.host, port: p }));
          const sentinel = parseLocation(
            `redis+sentinel://${authority}/${encodeURIComponent(master)}/${db}`,
            'redis',
          ) as SentinelLocation;
          assert.deepEqual(sentinel.sentinels, expected);
          assert.equal(sentinel.masterName, master);
          assert.equal(sentinel.db, db);
          assert.equal(sentinel.password, auth.password);
          const cluster = parseLocation(`redis+cluster://${authority}`, 'redis') as ClusterLocation;
          assert.deepEqual(cluster.nodes, expected);
          assert.equal(cluster.username, auth.username);
          assert.deepEqual((parseLocation(redactUrl(cluster), 'redis') as ClusterLocation).nodes, expected);
        },
      ),
      RUNS,
    );
  });

  it('errors never show the password', () => {
    const password = fc.string({
      minLength: 12,
      maxLength: 24,
      unit: fc.constantFrom(...'abcdefghijklmnop'),
    });
    const badTail = fc.constantFrom(':0', ':70000', ':x/1', '/abc', '/1?db=2', '?nope=1', '#f', ',other');
    fc.assert(
      fc.property(password, badTail, (pw, tail) => {
        try {
          parseLocation(`redis://user:${pw}@host${tail}`, 'redis');
          assert.fail('should not parse');
        } catch (error) {
          assert.ok(error instanceof ConfigError);
          assert.ok(!error.message.includes(pw), error.message);
        }
      }),
      RUNS,
    );
  });
});

describe('property: durations', () => {
  const units: Array<[string, number]> = [
    ['ms', 1],
    ['s', 1000],
    ['m', 60_000],
    ['h', 3_600_000],
    ['d', 86_400_000],
    ['', 1000],
  ];

  it('n followed by a unit is n × the unit in ms', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom(...units), (n, [unit, ms]) => {
        assert.equal(parseDuration(`${n}${unit}`, 'x'), n * ms);
      }),
      RUNS,
    );
  });

  it('decimals round to the nearest ms, never to zero', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.constantFrom(...units),
        (hundredths, [unit, ms]) => {
          const n = hundredths / 100;
          assert.equal(parseDuration(`${n}${unit}`, 'x'), Math.max(1, Math.round(n * ms)));
        },
      ),
      RUNS,
    );
  });

  it('a number is seconds', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 1e9, noNaN: true }), (seconds) => {
        assert.equal(parseDuration(seconds, 'x'), Math.max(1, Math.round(seconds * 1000)));
      }),
      RUNS,
    );
  });
});

describe('property: anything either parses or throws ConfigError', () => {
  const urlish = fc
    .tuple(
      fc.constantFrom(
        'redis://',
        'rediss://',
        'unix://',
        'redis+unix://',
        'redis+sentinel://',
        'redis+cluster://',
        'http://',
        '',
      ),
      fc.string({ maxLength: 40, unit: fc.constantFrom(...SPECIAL, '1', '6', '3', '7', '9', 'h', '.', '-') }),
    )
    .map(([scheme, rest]) => scheme + rest);
  const anyString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), urlish);
  const anyValue = fc.oneof(anyString, fc.jsonValue(), fc.array(anyString, { maxLength: 3 }));

  it('parseLocation', () => {
    fc.assert(
      fc.property(anyValue, (value) =>
        expectParsesOrConfigError(() => parseLocation(value as LocationInput, 'redis')),
      ),
      RUNS,
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom('url', 'password', 'tls', 'poolSize', 'commandTimeout', 'x'), anyValue),
        (value) => expectParsesOrConfigError(() => parseLocation(value as unknown as LocationInput, 'redis')),
      ),
      RUNS,
    );
  });

  it('redactUrl never throws', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        assert.equal(typeof redactUrl(value as LocationInput), 'string');
      }),
      RUNS,
    );
  });

  it('parseDuration', () => {
    const durationish = fc
      .tuple(fc.oneof(fc.double(), fc.integer()), fc.constantFrom('', 'ms', 's', 'm', 'h', 'd', 'x', ' s'))
      .map(([n, unit]) => `${n}${unit}`);
    fc.assert(
      fc.property(
        fc.oneof(anyValue, durationish, fc.double()),
        fc.boolean(),
        fc.boolean(),
        (value, allowNull, allowZero) =>
          expectParsesOrConfigError(() =>
            parseDuration(value, 'x', { allowNull, allowZeroOrNegative: allowZero }),
          ),
      ),
      RUNS,
    );
  });

  it('resolveConfig', () => {
    const field = fc.oneof(
      anyValue,
      fc.constantFrom('redis://h', 'memory', 'redis', 'tiered', 'cache', 60, '15m', null, true),
    );
    const cache = fc.dictionary(
      fc.constantFrom(
        'backend',
        'location',
        'timeout',
        'keyPrefix',
        'compress',
        'maxEntries',
        'l1',
        'ignoreErrors',
        'bogus',
      ),
      field,
    );
    const config = fc.record(
      {
        redis: field,
        region: field,
        caches: fc.oneof(fc.dictionary(fc.constantFrom('default', 'other'), cache), field),
        sessions: fc.oneof(
          fc.dictionary(
            fc.constantFrom('engine', 'cache', 'secret', 'maxAge', 'touchAfter', 'cookie', 'location'),
            field,
          ),
          field,
        ),
        rateLimits: fc.dictionary(
          fc.string({ maxLength: 4 }),
          fc.dictionary(fc.constantFrom('limit', 'window', 'algorithm', 'burst'), field),
        ),
        tasks: field,
        logger: field,
      },
      { requiredKeys: [] },
    );
    const env = fc.dictionary(fc.constantFrom('REDIS_URL', 'LARDER_REDIS_URL', 'LARDER_REGION'), anyString);
    fc.assert(
      fc.property(fc.oneof(config, fc.jsonValue()), env, (value, environment) =>
        expectParsesOrConfigError(() => resolveConfig(value as LarderConfig, environment)),
      ),
      RUNS,
    );
  });
});
