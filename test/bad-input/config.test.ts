/**
 * Bad input to `createLarder` (issue 12): an arbitrary config object and environment give a
 * `ConfigError` naming the path of the field at fault, or a Larder that works — every
 * configured cache stores and reads back, a session saves and reopens, every configured
 * rate limit counts — and closes. Never a TypeError, never a crash. test/config/property.test.ts
 * covers `resolveConfig` on its own; this goes through `createLarder` and uses the result,
 * on the real Redis server when a location names it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { assertTyped, hostileString } from './support.js';

const RUNS = 2000;
const url = redisUrlFor('standalone')!;

const thrower = () => {
  throw new Error('keyFunction threw');
};

/** Values any field may get: plausible ones, wrong types, hostile strings and objects. */
const anything = fc.oneof(
  fc.constantFrom(
    undefined,
    null,
    true,
    false,
    0,
    -1,
    1,
    1.5,
    60,
    Number.NaN,
    Infinity,
    2 ** 53,
    '',
    '15m',
    '500ms',
    '-5s',
    'memory',
    'redis',
    'tiered',
    'null',
    'json',
    'msgpack',
    'zlib',
    'fixed-window',
    'token-bucket',
    'signed-cookie',
    'cache',
    'default',
    'x'.repeat(40),
    [],
    {},
    [1, 2],
    new Date(0),
    Symbol('s'),
    () => 1,
  ),
  hostileString(50),
  fc.jsonValue({ maxDepth: 2 }),
);

/** Mostly `valid`, now and then anything at all: most configs carry one or two bad fields, some none. */
function mostly<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 30, arbitrary: valid }, { weight: 1, arbitrary: anything });
}

/** Locations: the real server (several dbs), and malformed ones (never an unreachable host: no timeouts). */
const location = fc.oneof(
  { weight: 30, arbitrary: fc.constantFrom(url, `${url.replace(/\/\d+$/, '')}/3`, { url }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'redis://',
      'redis://:99999',
      'http://x',
      'redis+cluster://',
      'unix://',
      'redis://h/99',
      [url, 5],
    ),
  },
  { weight: 1, arbitrary: anything },
);

const protoKey = fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty');
const name = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('default', 'other', 'pages') },
  { weight: 1, arbitrary: protoKey },
  { weight: 1, arbitrary: hostileString(20) },
);

function dict<T>(keys: fc.Arbitrary<string>, values: fc.Arbitrary<T>, maxKeys = 3) {
  return fc.dictionary(keys, values, { maxKeys });
}

const duration = fc.constantFrom(60, '15m', '500ms', 3600, '2h');

/** The fields every backend takes. */
const commonCacheFields = {
  timeout: mostly(fc.oneof(duration, fc.constant(null))),
  keyPrefix: mostly(fc.constantFrom('shop', '', 'a:b', '{tag}')),
  version: mostly(fc.integer({ min: -5, max: 5 })),
  keyFunction: fc.oneof(
    {
      weight: 12,
      arbitrary: fc.constant((key: string, prefix: string, v: number) => `${prefix}/${v}/${key}`),
    },
    { weight: 1, arbitrary: fc.constantFrom(() => 5, thrower) },
    { weight: 1, arbitrary: anything },
  ),
  hashLongKeys: mostly(fc.boolean()),
  serializer: mostly(fc.constantFrom('json', 'msgpack')),
  compress: mostly(
    fc.oneof(
      fc.constant(false),
      fc.record({ algorithm: fc.constantFrom('zlib', 'gzip', 'brotli'), minLength: fc.nat(2000) }),
    ),
  ),
};

const cacheConfig = mostly(
  fc.oneof(
    fc.record(
      {
        backend: mostly(fc.constantFrom('redis', 'tiered')),
        location,
        ignoreErrors: mostly(fc.boolean()),
        ...commonCacheFields,
      },
      { requiredKeys: ['backend'] },
    ),
    fc.record(
      {
        backend: mostly(fc.constantFrom('memory', 'null')),
        maxEntries: mostly(fc.integer({ min: 1, max: 1000 })),
        cullFrequency: mostly(fc.integer({ min: 0, max: 5 })),
        ...commonCacheFields,
      },
      { requiredKeys: ['backend'] },
    ),
  ),
);

const config = fc.record(
  {
    redis: location,
    region: mostly(fc.constantFrom('eu', 'us')),
    caches: mostly(
      fc.oneof(
        {
          weight: 8,
          arbitrary: fc.record(
            { default: cacheConfig, other: cacheConfig, pages: cacheConfig },
            { requiredKeys: ['default'] },
          ),
        },
        { weight: 1, arbitrary: dict(name, cacheConfig) },
      ),
    ),
    sessions: mostly(
      fc
        .tuple(
          fc.oneof(
            fc.record({ engine: fc.constant('redis'), location }, { requiredKeys: ['engine'] }),
            fc.record({ engine: fc.constant('memory') }),
            fc.record({ engine: fc.constant('cache'), cache: mostly(name) }, { requiredKeys: ['engine'] }),
            fc.record({
              engine: fc.constant('signed-cookie'),
              secret: mostly(fc.constantFrom('s'.repeat(32), ['a'.repeat(40), 'b'.repeat(32)])),
            }),
          ),
          fc.record(
            {
              prefix: mostly(fc.constantFrom('session', 's:x')),
              maxAge: mostly(duration),
              maxBytes: mostly(fc.integer({ min: 1, max: 100_000 })),
              touchAfter: mostly(duration),
              cookie: mostly(
                fc.record(
                  {
                    name: mostly(fc.constantFrom('sid', 'larder_sid')),
                    sameSite: mostly(fc.constantFrom('lax', 'strict')),
                    secure: mostly(fc.constantFrom(true, false, 'auto')),
                    path: mostly(fc.constantFrom('/', '/app')),
                  },
                  { requiredKeys: [] },
                ),
              ),
            },
            { requiredKeys: [] },
          ),
        )
        .map(([engine, rest]) => ({ ...engine, ...rest })),
    ),
    rateLimits: mostly(
      dict(
        name,
        mostly(
          fc.record(
            {
              limit: mostly(fc.integer({ min: 1, max: 100 })),
              window: mostly(duration),
              algorithm: mostly(fc.constantFrom('fixed-window', 'sliding-window', 'token-bucket')),
              burst: fc.oneof(fc.constant(undefined), mostly(fc.integer({ min: 1, max: 100 }))),
            },
            { requiredKeys: ['limit', 'window'] },
          ),
        ),
      ),
    ),
    tasks: mostly(fc.record({ driver: mostly(fc.constantFrom('eager')) }, { requiredKeys: [] })),
    pubsub: mostly(
      fc.record({ streamMaxLen: mostly(fc.integer({ min: 1, max: 1000 })) }, { requiredKeys: [] }),
    ),
    metrics: mostly(fc.boolean()),
    logger: mostly(fc.constant(false)),
  },
  { requiredKeys: [] },
);

/** Now and then an unknown field beside the known ones. */
const withExtra = fc
  .tuple(
    config,
    fc.oneof(
      { weight: 7, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.tuple(fc.oneof(hostileString(12), protoKey), anything) },
    ),
  )
  .map(([input, extra]) => (extra ? { ...input, [extra[0]]: extra[1] } : input));

const env = dict(
  fc.constantFrom('REDIS_URL', 'LARDER_REDIS_URL', 'LARDER_REGION'),
  fc.oneof(fc.constantFrom(url, 'eu'), hostileString(20)),
  2,
);

/** Every configured cache, session engine and rate limit of `larder` does its job. */
async function assertWorks(larder: Larder, marker: string): Promise<void> {
  for (const cacheName of Object.keys(larder.config.caches)) {
    const cache = larder.cache(cacheName);
    try {
      await cache.set(marker, { cache: cacheName }, { timeout: 30 });
    } catch (error) {
      // A user keyFunction that throws or returns no string: its own error, or a typed one.
      if ((error as Error)?.message === 'keyFunction threw') continue;
      assertTyped(error);
      continue;
    }
    const back = await cache.get(marker);
    // The null backend stores nothing (Django's DummyCache).
    if (larder.config.caches[cacheName]!.backend !== 'null') assert.deepEqual(back, { cache: cacheName });
    await cache.delete(marker);
  }
  const session = larder.sessions.open();
  await session.set('marker', marker);
  await session.save();
  const cookie = larder.sessions.store.kind === 'cookie' ? session.cookieValue() : (session.key ?? undefined);
  assert.equal(await larder.sessions.open({ cookie }).get('marker'), marker, 'the session reopens');
  for (const limit of Object.keys(larder.config.rateLimits)) {
    const limiter = larder.rateLimiter(limit);
    const before = await limiter.peek(marker);
    const after = await limiter.consume(marker);
    assert.equal(after.allowed, before.allowed);
    await limiter.reset(marker);
  }
}

describe('bad input: createLarder(arbitrary config, arbitrary env)', () => {
  it('is a ConfigError naming a path, or a Larder that works and closes', async () => {
    const seen = { built: 0, used: 0, refused: 0, paths: new Set<string>() };
    await fc.assert(
      fc.asyncProperty(withExtra, env, fc.nat(7), async (input, environment, draw) => {
        const given = { logger: false, ...input } as Record<string, unknown>;
        let larder: Larder;
        try {
          larder = createLarder(given as never, environment);
        } catch (error) {
          assertTyped(error, [ConfigError]);
          const configError = error as ConfigError;
          assert.equal(typeof configError.path, 'string');
          assert.equal(typeof configError.expected, 'string');
          assert.match(configError.message, /^Invalid config at /);
          // The path starts at a field that was given (or at the root, or at `env.<VARIABLE>`).
          const head = configError.path.split(/[.[]/)[0]!;
          if (head !== '' && head !== '(root)' && head !== 'env')
            assert.ok(Object.hasOwn(given, head), `path ${configError.path} names no given field`);
          seen.refused++;
          seen.paths.add(head);
          return;
        }
        seen.built++;
        try {
          // A built Larder that connects costs 50-500 ms to use and close: one in eight is put to work.
          if (draw === 0) {
            seen.used++;
            await assertWorks(larder, uniquePrefix('cfg'));
          }
        } catch (error) {
          // The user's own keyFunction throwing reaches the caller as it is; anything else is typed.
          if ((error as Error)?.message !== 'keyFunction threw') assertTyped(error);
        } finally {
          await larder.close();
        }
      }),
      { numRuns: RUNS },
    );
    assert.ok(seen.built > RUNS / 40, `only ${seen.built} configs built a Larder`);
    assert.ok(seen.used > 5, `only ${seen.used} built Larders were put to work`);
    assert.ok(seen.refused > RUNS / 4, `only ${seen.refused} configs refused`);
    assert.ok(seen.paths.size >= 5, `refusals name few fields: ${[...seen.paths].join(', ')}`);
    // Healthy afterwards: a fresh Larder on the same server works.
    const larder = createLarder({ logger: false, redis: url }, {});
    await assertWorks(larder, uniquePrefix('cfg-after'));
    await larder.close();
  });
});
