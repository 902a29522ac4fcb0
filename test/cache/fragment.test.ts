/**
 * Template fragment keys and `cacheFragment`: Django's `make_template_fragment_key` vectors
 * (tests/cache/tests.py, TestMakeTemplateFragmentKey), the Python `str()` mapping of
 * non-string vary-on values, and render-once caching on memory and a real Redis server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Cache } from '../../src/cache/cache.js';
import { cacheFragment, makeFragmentKey, pythonStr } from '../../src/cache/fragment.js';
import { ConfigError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('makeFragmentKey: Django’s TestMakeTemplateFragmentKey vectors', () => {
  test('without vary-on: the md5 of nothing', () => {
    assert.equal(makeFragmentKey('a.fragment'), 'template.cache.a.fragment.d41d8cd98f00b204e9800998ecf8427e');
    assert.equal(makeFragmentKey('a.fragment', []), makeFragmentKey('a.fragment'));
  });
  test('with one vary-on', () => {
    assert.equal(makeFragmentKey('foo', ['abc']), 'template.cache.foo.493e283d571a73056196f1a68efd0f66');
  });
  test('with many vary-on', () => {
    assert.equal(
      makeFragmentKey('bar', ['abc', 'def']),
      'template.cache.bar.17c1a507a0cb58384f4c639067a93520',
    );
  });
  test('the separator is not escaped: abc:def and [abc, def] hash alike, as in Django', () => {
    assert.equal(makeFragmentKey('foo', ['abc:def']), 'template.cache.foo.17c1a507a0cb58384f4c639067a93520');
  });
  test('proper escaping', () => {
    assert.equal(
      makeFragmentKey('spam', ['abc:def%']),
      'template.cache.spam.06c8ae8e8c430b69fb0a6443504153dc',
    );
  });
  test('with ints vary-on', () => {
    assert.equal(
      makeFragmentKey('foo', [1, 2, 3, 4, 5]),
      'template.cache.foo.7ae8fd2e0d25d651c683bdeebdb29461',
    );
    assert.equal(makeFragmentKey('foo', [1, 2, 3, 4, 5]), makeFragmentKey('foo', ['1', '2', '3', '4', '5']));
    assert.equal(makeFragmentKey('foo', [5]), makeFragmentKey('foo', ['5']));
    assert.equal(makeFragmentKey('foo', [5]), 'template.cache.foo.016ce7cd3f0850d6c33696df9f9440d5');
  });
  test('with unicode vary-on (UTF-8, astral characters included)', () => {
    assert.equal(
      makeFragmentKey('foo', ['42º', '😀']),
      'template.cache.foo.7ced1c94e543668590ba39b3c08b0237',
    );
  });
  test('long vary-on', () => {
    assert.equal(
      makeFragmentKey('foo', ['x'.repeat(10000)]),
      'template.cache.foo.3670b349b5124aa56bdb50678b02b23a',
    );
  });
});

describe('pythonStr: vary-on values as Python’s str() writes them', () => {
  test('booleans, null, undefined, integers, bigints and floats', () => {
    assert.equal(pythonStr(true), 'True');
    assert.equal(pythonStr(false), 'False');
    assert.equal(pythonStr(null), 'None');
    assert.equal(pythonStr(undefined), 'None');
    assert.equal(pythonStr(-7), '-7');
    assert.equal(pythonStr(-0), '0');
    assert.equal(pythonStr(1e21), '1000000000000000000000');
    assert.equal(pythonStr(12345678901234567890n), '12345678901234567890');
    for (const [value, text] of [
      [2.5, '2.5'],
      [1e-5, '1e-05'],
      [-1.5e-7, '-1.5e-07'],
      [0.0001, '0.0001'],
      [123.456, '123.456'],
      [0.1 + 0.2, '0.30000000000000004'],
      [1 / 3, '0.3333333333333333'],
      [5e-324, '5e-324'],
      [1e-300, '1e-300'],
      [Number.NaN, 'nan'],
      [Number.POSITIVE_INFINITY, 'inf'],
      [Number.NEGATIVE_INFINITY, '-inf'],
    ] as const) {
      assert.equal(pythonStr(value), text, `pythonStr(${value})`);
    }
  });

  test('a mixed key equals the one Python computes (hashlib, str())', () => {
    // python3: make_template_fragment_key('mixed', [True, False, None, 2.5, 1e-05, -1.5e-07, 0.0001,
    //   123.456, float('nan'), float('inf'), -float('inf'), 10**21, -7, 12345678901234567890])
    const values = [
      true,
      false,
      null,
      2.5,
      1e-5,
      -1.5e-7,
      0.0001,
      123.456,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      1e21,
      -7,
      12345678901234567890n,
    ];
    assert.equal(makeFragmentKey('mixed', values), 'template.cache.mixed.3e6a51ce09e177b8ed19f17577335475');
  });

  test('objects: own toString, Date as ISO, arrays and plain objects as JSON, cycles survive', () => {
    assert.equal(pythonStr(new URL('https://example.com/a')), 'https://example.com/a');
    assert.equal(pythonStr(new Date(Date.UTC(2024, 4, 1))), '2024-05-01T00:00:00.000Z');
    assert.equal(pythonStr(new Date(Number.NaN)), 'Invalid Date');
    assert.equal(pythonStr(['a', 1]), '["a",1]');
    assert.equal(pythonStr({ b: 1, n: 2n }), '{"b":1,"n":"2"}');
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    assert.equal(pythonStr(cycle), '[object Object]');
  });
});

for (const target of ['memory', 'standalone'] as const) {
  describe(`cacheFragment [${target}]`, () => {
    let larder: Larder;
    let cache: Cache;

    before(() => {
      const url = redisUrlFor(target);
      larder = url
        ? createLarder(
            {
              logger: false,
              caches: { default: { backend: 'redis', location: url, keyPrefix: uniquePrefix('fragment') } },
            },
            {},
          )
        : createLarder({ logger: false }, {});
      cache = larder.cache();
    });
    after(async () => {
      await cache.clear();
      await larder.close();
    });

    test('renders once, then serves the stored fragment from the fragment key', async () => {
      let renders = 0;
      const render = () => `<p>sidebar ${++renders}</p>`;
      assert.equal(await cacheFragment(cache, 'sidebar', ['alice'], 60, render), '<p>sidebar 1</p>');
      assert.equal(await cacheFragment(cache, 'sidebar', ['alice'], 60, render), '<p>sidebar 1</p>');
      assert.equal(renders, 1);
      assert.equal(
        await cache.get('template.cache.sidebar.770553c33dfa3a641da8312d60b3b9ef'),
        '<p>sidebar 1</p>',
        'stored under Django’s key',
      );
      assert.equal(await cache.get(makeFragmentKey('sidebar', ['alice'])), '<p>sidebar 1</p>');
      const ttl = await cache.ttl(makeFragmentKey('sidebar', ['alice']));
      assert.ok(ttl !== null && ttl > 55 && ttl <= 60, `ttl ${ttl}`);
    });

    test('another vary-on value is another fragment', async () => {
      const bob = await cacheFragment(cache, 'sidebar', ['bob'], 60, () => 'bob’s');
      assert.equal(bob, 'bob’s');
      assert.equal(await cacheFragment(cache, 'sidebar', ['bob'], 60, () => 'again'), 'bob’s');
      assert.notEqual(await cacheFragment(cache, 'sidebar', ['carol'], 60, () => 'carol’s'), 'bob’s');
    });

    test('an async render works, and a duration string is a timeout', async () => {
      const html = await cacheFragment(cache, 'async', [], '2m', async () => {
        await sleep(5);
        return 'later';
      });
      assert.equal(html, 'later');
      const ttl = await cache.ttl(makeFragmentKey('async'));
      assert.ok(ttl !== null && ttl > 115 && ttl <= 120, `ttl ${ttl}`);
    });

    test('timeout 0 renders every time and stores nothing', async () => {
      let renders = 0;
      const render = () => `n${++renders}`;
      assert.equal(await cacheFragment(cache, 'uncached', [], 0, render), 'n1');
      assert.equal(await cacheFragment(cache, 'uncached', [], 0, render), 'n2');
      assert.equal(await cacheFragment(cache, 'uncached', [], -5, render), 'n3');
      assert.equal(await cache.has(makeFragmentKey('uncached')), false);
    });

    test('timeout null stores the fragment forever', async () => {
      await cacheFragment(cache, 'forever', [1], null, () => 'kept');
      assert.equal(await cache.ttl(makeFragmentKey('forever', [1])), null);
      assert.equal(await cacheFragment(cache, 'forever', [1], null, () => 'other'), 'kept');
    });

    test('a short timeout expires: the fragment renders again', async () => {
      let renders = 0;
      const render = () => `r${++renders}`;
      assert.equal(await cacheFragment(cache, 'short', [], 0.3, render), 'r1');
      assert.equal(await cacheFragment(cache, 'short', [], 0.3, render), 'r1');
      await sleep(450);
      assert.equal(await cacheFragment(cache, 'short', [], 0.3, render), 'r2');
    });

    test('concurrent misses render once', async () => {
      let renders = 0;
      const render = async () => {
        renders++;
        await sleep(30);
        return 'shared';
      };
      const results = await Promise.all(
        Array.from({ length: 10 }, () => cacheFragment(cache, 'busy', ['x'], 60, render)),
      );
      assert.deepEqual(results, Array(10).fill('shared'));
      assert.equal(renders, 1);
    });

    test('a bad timeout is a ConfigError before anything renders', async () => {
      let rendered = false;
      await assert.rejects(
        cacheFragment(cache, 'bad', [], '5 minutes', () => {
          rendered = true;
          return 'x';
        }),
        ConfigError,
      );
      assert.equal(rendered, false);
    });

    test('a render that throws stores nothing and the error reaches the caller', async () => {
      await assert.rejects(
        cacheFragment(cache, 'boom', [], 60, () => {
          throw new Error('template broke');
        }),
        /template broke/,
      );
      assert.equal(await cache.has(makeFragmentKey('boom')), false);
      assert.equal(await cacheFragment(cache, 'boom', [], 60, () => 'fixed'), 'fixed');
    });
  });
}
