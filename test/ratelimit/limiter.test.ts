/**
 * `larder.rateLimiter` and `RateLimiter` policy: configured names (unknown ones name the
 * configured ones), rules validated once with a `ConfigError` that names the path, argument
 * checks on every call (a bad cost or key → RateLimitUsageError, HTTP 400), `hit` → `RateLimitedError` 429,
 * named limiters created once, several names combined into one all-or-nothing limiter, and
 * the documented key layout `rl:{subject}:<limiter>:<rule>:<algorithm>`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import calculateSlot from 'cluster-key-slot';
import type { LarderConfig } from '../../src/config/index.js';
import {
  BackendUnavailableError,
  ConfigError,
  LarderError,
  RateLimitedError,
  RateLimitUsageError,
} from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import {
  memoryRateLimitStore,
  RateLimiter,
  type RateLimiterSpec,
  type RateLimitStore,
} from '../../src/ratelimit/index.js';

const configured: LarderConfig['rateLimits'] = {
  api: { limit: 2, window: 60 },
  login: { limit: 5, window: '15m', algorithm: 'sliding-window' },
  bursty: { limit: 2, window: 1, algorithm: 'token-bucket', burst: 10 },
};

function larderWith(
  rateLimits: LarderConfig['rateLimits'] = configured,
  redis: string | false = false,
): Larder {
  return createLarder({ redis, logger: false, rateLimits }, {});
}

function configError(fn: () => unknown, path: string, ...mentions: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.path, path);
    assert.equal(error.code, 'E_CONFIG');
    for (const text of mentions)
      assert.ok(error.message.includes(text), `"${error.message}" mentions ${text}`);
    return true;
  });
}

/** A limiter on a fake clock (`now` forces the memory store). */
function clocked(spec: Omit<RateLimiterSpec, 'now'>) {
  const clock = { t: 1_000_000 };
  const larder = larderWith();
  const limiter = larder.rateLimiter({ ...spec, now: () => clock.t });
  return { clock, limiter, larder };
}

describe('larder.rateLimiter(name): configured limits', () => {
  it('an unknown name is a ConfigError naming the configured limits', async () => {
    const larder = larderWith();
    configError(() => larder.rateLimiter('unknown'), 'rateLimits.unknown', "'api'", "'login'", "'bursty'");
    configError(() => larder.rateLimiter(['api', 'nope']), 'rateLimits.nope', "'api', 'login', 'bursty'");
    configError(() => larder.rateLimiter('toString'), 'rateLimits.toString', "'api'");
    configError(() => larder.rateLimiter([]), 'rateLimiter', 'configured limit name');
    await larder.close();
  });

  it('with no limits configured, the error says where to configure them', async () => {
    const larder = larderWith({});
    configError(() => larder.rateLimiter('api'), 'rateLimits.api', 'config.rateLimits');
    await larder.close();
  });

  it('a named limiter is created once; a limiter given in code each time', async () => {
    const larder = larderWith();
    assert.equal(larder.rateLimiter('api'), larder.rateLimiter('api'));
    assert.equal(larder.rateLimiter(['api', 'login']), larder.rateLimiter(['api', 'login']));
    assert.notEqual(larder.rateLimiter(['api', 'login']), larder.rateLimiter('api'));
    const spec = { name: 'code', limit: 1, window: 1 };
    assert.notEqual(larder.rateLimiter(spec), larder.rateLimiter(spec));
    await larder.close();
  });

  it('the configured rule: limit, window (ms), algorithm, burst; results in seconds', async () => {
    const larder = larderWith();
    const api = larder.rateLimiter('api');
    assert.equal(api.name, 'api');
    assert.deepEqual(
      api.rules.map((r) => [r.name, r.limit, r.window, r.algorithm, r.burst]),
      [['api', 2, 60_000, 'fixed-window', 2]],
    );
    assert.deepEqual(
      larder.rateLimiter('bursty').rules.map((r) => [r.algorithm, r.limit, r.burst]),
      [['token-bucket', 2, 10]],
    );
    assert.equal(api.store.name, 'memory', 'no Redis configured: the memory store');
    const first = await api.consume('subject');
    assert.deepEqual(
      [first.allowed, first.limit, first.remaining, first.retryAfter, first.degraded],
      [true, 2, 1, 0, false],
    );
    assert.equal(first.rules[0].window, 60, 'window in seconds');
    assert.ok(first.resetAfter > 59 && first.resetAfter <= 60, `resetAfter in seconds: ${first.resetAfter}`);
    await larder.close();
  });

  it('a configured Redis location puts the limiter on Redis (lazily: nothing connects here)', async () => {
    const larder = larderWith(configured, 'redis://127.0.0.1:1');
    assert.match(larder.rateLimiter('api').store.name, /^redis /);
    assert.match(larder.rateLimiter({ name: 'code', limit: 1, window: 1 }).store.name, /^redis /);
    assert.equal(
      larder.rateLimiter({ name: 'clocked', limit: 1, window: 1, now: Date.now }).store.name,
      'memory',
      'a clock of its own forces the memory store',
    );
    await larder.close();
  });

  it("rateLimiter(['api', 'login']) checks both limits and consumes from both or neither", async () => {
    const larder = larderWith();
    const both = larder.rateLimiter(['api', 'login']);
    assert.equal(both.name, 'api+login');
    assert.deepEqual(
      both.rules.map((r) => [r.name, r.limit, r.window, r.algorithm]),
      [
        ['api', 2, 60_000, 'fixed-window'],
        ['login', 5, 900_000, 'sliding-window'],
      ],
    );
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await both.consume('subject'));
    assert.deepEqual(
      results.map((r) => r.allowed),
      [true, true, false],
    );
    const refused = results[2];
    assert.deepEqual(
      refused.rules.map((r) => [r.name, r.allowed, r.remaining]),
      [
        ['api', false, 0],
        ['login', true, 3],
      ],
      'login would have allowed it and was not consumed',
    );
    assert.deepEqual([refused.limit, refused.remaining], [2, 0], 'top level: the most constrained rule');
    await both.reset('subject');
    assert.equal((await both.consume('subject')).allowed, true, 'reset forgets every rule');
    await larder.close();
  });

  it('limits checked together must live together', async () => {
    const larder = larderWith({
      local: { limit: 1, window: 1, location: 'redis://127.0.0.1:1' },
      embedded: { limit: 1, window: 1 },
    });
    configError(
      () => larder.rateLimiter(['embedded', 'local']),
      'rateLimits.local.location',
      'same location',
    );
    await larder.close();
  });

  it('a closed Larder makes no limiters', async () => {
    const larder = larderWith();
    await larder.close();
    assert.throws(() => larder.rateLimiter('api'), BackendUnavailableError);
  });
});

describe('larder.rateLimiter(options): rules are validated once, with the path', () => {
  const cases: Array<[string, unknown, string, string?]> = [
    ['limit 0', { name: 'x', limit: 0, window: 1 }, 'rateLimiter("x").limit', 'whole number'],
    ['fractional limit', { name: 'x', limit: 1.5, window: 1 }, 'rateLimiter("x").limit'],
    ['missing limit', { name: 'x', window: 1 }, 'rateLimiter("x").limit'],
    ['window 0', { name: 'x', limit: 1, window: 0 }, 'rateLimiter("x").window', 'greater than zero'],
    ['negative window', { name: 'x', limit: 1, window: -5 }, 'rateLimiter("x").window'],
    ['window in words', { name: 'x', limit: 1, window: '5 minutes' }, 'rateLimiter("x").window', "'15m'"],
    ['missing window', { name: 'x', limit: 1 }, 'rateLimiter("x").window'],
    [
      'unknown algorithm',
      { name: 'x', limit: 1, window: 1, algorithm: 'leaky-bucket' },
      'rateLimiter("x").algorithm',
      "'token-bucket'",
    ],
    [
      'burst without token-bucket',
      { name: 'x', limit: 1, window: 1, burst: 3 },
      'rateLimiter("x").burst',
      'token-bucket',
    ],
    [
      'burst 0',
      { name: 'x', limit: 1, window: 1, algorithm: 'token-bucket', burst: 0 },
      'rateLimiter("x").burst',
    ],
    ['no name', { limit: 1, window: 1 }, 'rateLimiter(undefined).name'],
    ['a name with spaces', { name: 'my api', limit: 1, window: 1 }, 'rateLimiter("my api").name'],
    ['a name with a brace', { name: 'a{b}', limit: 1, window: 1 }, 'rateLimiter("a{b}").name'],
    ['empty rules', { name: 'x', rules: [] }, 'rateLimiter("x").rules', 'non-empty'],
    [
      'a bad second rule',
      {
        name: 'x',
        rules: [
          { limit: 1, window: 1 },
          { limit: 2, window: 'soon' },
        ],
      },
      'rateLimiter("x").rules[1].window',
    ],
    ['a rule that is not an object', { name: 'x', rules: [5] }, 'rateLimiter("x").rules[0]'],
    [
      'duplicate rule names',
      {
        name: 'x',
        rules: [
          { name: 'a', limit: 1, window: 1 },
          { name: 'a', limit: 2, window: 2 },
        ],
      },
      'rateLimiter("x").rules',
      'distinct',
    ],
    [
      'a bad rule name',
      { name: 'x', rules: [{ name: 'a:b', limit: 1, window: 1 }] },
      'rateLimiter("x").rules[0].name',
    ],
    ['a bad location', { name: 'x', limit: 1, window: 1, location: 'http://h' }, 'rateLimiter("x").location'],
    ['null', null, 'rateLimiter'],
  ];
  for (const [label, spec, path, mention] of cases) {
    it(`${label} → ConfigError at ${path}`, async () => {
      const larder = larderWith();
      configError(() => larder.rateLimiter(spec as RateLimiterSpec), path, ...(mention ? [mention] : []));
      await larder.close();
    });
  }

  it('defaults: fixed window, burst = limit, the rule named after the limiter (rules: r0, r1, …)', async () => {
    const larder = larderWith();
    const one = larder.rateLimiter({ name: 'one', limit: 5, window: '1m' });
    assert.deepEqual(one.rules, [
      { name: 'one', limit: 5, window: 60_000, algorithm: 'fixed-window', burst: 5 },
    ]);
    const two = larder.rateLimiter({
      name: 'two',
      rules: [
        { limit: 10, window: 1 },
        { limit: 1000, window: '1h', algorithm: 'token-bucket' },
      ],
    });
    assert.deepEqual(
      two.rules.map((r) => [r.name, r.window, r.burst]),
      [
        ['r0', 1000, 10],
        ['r1', 3_600_000, 1000],
      ],
    );
    await larder.close();
  });

  it('configured limits are validated by createLarder, with the path', () => {
    const bad: Array<[LarderConfig['rateLimits'], string]> = [
      [{ api: { limit: 0, window: 1 } }, 'rateLimits.api.limit'],
      [{ api: { limit: 1, window: 'soon' as '1s' } }, 'rateLimits.api.window'],
      [{ api: { limit: 1, window: 1, burst: 3 } }, 'rateLimits.api.burst'],
      [{ api: { limit: 1, window: 1, algorithm: 'leaky' as 'fixed-window' } }, 'rateLimits.api.algorithm'],
    ];
    for (const [rateLimits, path] of bad) configError(() => larderWith(rateLimits), path);
  });
});

describe('RateLimiter calls', () => {
  it('cost must be a whole number from 1 to the smallest limit: else RateLimitUsageError, nothing consumed', async () => {
    const { limiter, larder } = clocked({ name: 'cost', limit: 5, window: 60 });
    for (const cost of [0, -1, 1.5, Number.NaN, 6, Number.POSITIVE_INFINITY]) {
      await assert.rejects(limiter.consume('s', { cost }), RateLimitUsageError, `consume cost ${cost}`);
      await assert.rejects(limiter.peek('s', { cost }), RateLimitUsageError, `peek cost ${cost}`);
    }
    await assert.rejects(limiter.consume('s', { cost: 6 }), /from 1 to 5/);
    const full = await limiter.consume('s', { cost: 5 });
    assert.deepEqual(
      [full.allowed, full.remaining],
      [true, 0],
      'cost = limit is fine, and nothing was taken before',
    );
    await larder.close();
  });

  it('the smallest limit bounds cost across rules; a token bucket allows up to its burst', async () => {
    const larder = larderWith();
    const multi = larder.rateLimiter({
      name: 'multi',
      rules: [
        { limit: 10, window: 1 },
        { limit: 3, window: 60 },
      ],
      now: () => 0,
    });
    await assert.rejects(multi.consume('s', { cost: 4 }), RateLimitUsageError);
    assert.equal((await multi.consume('s', { cost: 3 })).allowed, true);
    const bucket = larder.rateLimiter({
      name: 'bucket',
      limit: 2,
      window: 1,
      algorithm: 'token-bucket',
      burst: 6,
      now: () => 0,
    });
    assert.equal((await bucket.consume('s', { cost: 6 })).allowed, true);
    await assert.rejects(bucket.consume('s', { cost: 7 }), RateLimitUsageError);
    await larder.close();
  });

  it("key '', not a string, or with a lone surrogate → RateLimitUsageError (400), nothing counted", async () => {
    const { limiter, larder } = clocked({ name: 'keys', limit: 5, window: 60 });
    for (const key of ['', 42, undefined, null, 'user:\ud800', 'user:\udfff!']) {
      await assert.rejects(limiter.consume(key as string), RateLimitUsageError, `consume(${String(key)})`);
      await assert.rejects(limiter.peek(key as string), RateLimitUsageError, `peek(${String(key)})`);
      await assert.rejects(limiter.hit(key as string), RateLimitUsageError, `hit(${String(key)})`);
      await assert.rejects(limiter.reset(key as string), RateLimitUsageError, `reset(${String(key)})`);
    }
    await assert.rejects(limiter.consume('user:\ud800'), (error: unknown) => {
      assert.ok(error instanceof RateLimitUsageError);
      assert.equal(error.status, 400);
      assert.equal(error.limiter, 'keys');
      assert.match(error.message, /lone UTF-16 surrogate.*toWellFormed/);
      return true;
    });
    assert.equal(
      (await limiter.peek('user:\ufffd')).remaining,
      4,
      'nothing was counted (peek answers as if it took 1)',
    );
    await larder.close();
  });

  it('hit passes through an allowed call and throws RateLimitedError (429, retryAfter) when refused', async () => {
    const { clock, limiter, larder } = clocked({ name: 'login', limit: 2, window: 10 });
    assert.equal((await limiter.hit('user:1')).remaining, 1);
    clock.t += 1000;
    assert.equal((await limiter.hit('user:1')).remaining, 0);
    clock.t += 3000;
    await assert.rejects(limiter.hit('user:1'), (error: unknown) => {
      assert.ok(error instanceof RateLimitedError, `got ${String(error)}`);
      assert.ok(error instanceof LarderError);
      assert.equal(error.status, 429);
      assert.equal(error.code, 'E_RATE_LIMITED');
      assert.equal(error.retryAfter, 6, 'seconds until the window that began at the first hit ends');
      assert.match(error.message, /'login'/);
      return true;
    });
    clock.t += 6000;
    assert.equal((await limiter.hit('user:1')).allowed, true, 'after retryAfter it passes');
    await larder.close();
  });

  it('the top-level answer is the most constrained rule', async () => {
    const { clock, limiter, larder } = clocked({
      name: 'two',
      rules: [
        { name: 'second', limit: 10, window: 1 },
        { name: 'minute', limit: 3, window: 60 },
      ],
    });
    const first = await limiter.consume('s');
    assert.deepEqual([first.limit, first.remaining, first.resetAfter], [3, 2, 60]);
    clock.t += 30_000;
    await limiter.consume('s');
    await limiter.consume('s');
    const refused = await limiter.consume('s');
    assert.equal(refused.allowed, false);
    assert.equal(refused.retryAfter, 30, 'the longest wait of the refusing rules');
    assert.deepEqual(
      refused.rules.map((r) => [r.name, r.allowed]),
      [
        ['second', true],
        ['minute', false],
      ],
    );
    await larder.close();
  });
});

describe('keys: rl:{subject}:<limiter>:<rule>:<algorithm f|s|g>', () => {
  /** A memory store that records the keys it is handed. */
  function recording(): RateLimitStore & { seen: string[][] } {
    const store = memoryRateLimitStore();
    const seen: string[][] = [];
    return {
      name: store.name,
      seen,
      consume: (keys, rules, cost, peek) => {
        seen.push([...keys]);
        return store.consume(keys, rules, cost, peek);
      },
      reset: (keys) => {
        seen.push([...keys]);
        return store.reset(keys);
      },
    };
  }
  const rules = [
    { name: 'perSecond', limit: 10, window: 1000, algorithm: 'fixed-window' as const, burst: 10 },
    { name: 'perHour', limit: 100, window: 3_600_000, algorithm: 'token-bucket' as const, burst: 100 },
  ];

  it('the subject is the hash tag; every rule has a key; reset touches the same keys', async () => {
    const store = recording();
    const limiter = new RateLimiter({ name: 'api', store, rules });
    await limiter.consume('user:42');
    await limiter.peek('user:42');
    await limiter.reset('user:42');
    const expected = ['rl:{user:42}:api:perSecond:f', 'rl:{user:42}:api:perHour:g'];
    assert.deepEqual(store.seen, [expected, expected, expected]);
    const custom = new RateLimiter({ name: 'api', store, rules, prefix: 'shop:rl' });
    await custom.consume('ip:1.2.3.4');
    assert.deepEqual(store.seen.at(-1), [
      'shop:rl:{ip:1.2.3.4}:api:perSecond:f',
      'shop:rl:{ip:1.2.3.4}:api:perHour:g',
    ]);
  });

  it('a subject with braces or over 200 characters becomes a hashed tag: one slot, no collisions', async () => {
    const store = recording();
    const limiter = new RateLimiter({ name: 'api', store, rules });
    const subjects = ['a{b}c', 'a{b}d', '{', '}', 'x'.repeat(201), `${'x'.repeat(201)}y`, 'x'.repeat(200)];
    for (const subject of subjects) await limiter.consume(subject);
    const tags = store.seen.map((keys) => {
      const slots = new Set(keys.map((key) => calculateSlot(key)));
      assert.equal(slots.size, 1, `one slot for ${keys.join(', ')}`);
      const tag = /^rl:\{([^{}]*)\}:api:perSecond:f$/.exec(keys[0]);
      assert.ok(tag, `a well-formed key with one tag: ${keys[0].slice(0, 60)}`);
      return tag[1];
    });
    assert.equal(new Set(tags).size, subjects.length, 'every subject has a tag of its own');
    assert.equal(tags.at(-1), 'x'.repeat(200), '200 characters are kept as they are');
    for (const tag of tags.slice(0, -1)) assert.ok(tag.length <= 32, `hashed tags are short: ${tag}`);
  });
});
