/**
 * The `{% cache %}` tag for Nunjucks, ported from Django's
 * tests/template_tests/syntax_tests/test_cache.py (CacheTagTests, CacheTests), plus what a
 * Node engine adds: async bodies, autoescaping, `using=`/`tags=` and errors that reach the
 * render callback.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import nunjucks from 'nunjucks';
import { makeFragmentKey } from '../../src/cache/fragment.js';
import { ConfigError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { installCacheTag } from '../../src/templates/nunjucks.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function render(env: nunjucks.Environment, source: string, context: object = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    env.renderString(source, context, (error, output) => (error ? reject(error) : resolve(output ?? '')));
  });
}

/** Compiles at once, as Django's `engine.get_template` does, so parse errors surface here. */
function compile(env: nunjucks.Environment, source: string): nunjucks.Template {
  return new nunjucks.Template(source, env, 'test.njk', true);
}

function makeEnv(larder: Larder, options?: { defaultCache?: string }): nunjucks.Environment {
  const env = new nunjucks.Environment(null, { autoescape: true });
  env.addFilter('noop', (value: unknown) => value);
  env.addFilter(
    'slow',
    (value: unknown, done: (error: Error | null, result?: unknown) => void) =>
      setTimeout(() => done(null, `slow ${value}`), 5),
    true,
  );
  installCacheTag(env, larder, options);
  return env;
}

describe('nunjucks {% cache %}: Django’s CacheTagTests', () => {
  const larder = createLarder(
    { logger: false, caches: { default: { backend: 'memory' }, other: { backend: 'memory' } } },
    {},
  );
  const env = makeEnv(larder);
  afterEach(async () => {
    await larder.cache('default').clear();
    await larder.cache('other').clear();
  });
  after(() => larder.close());

  test('cache03: renders the body', async () => {
    assert.equal(await render(env, '{% cache 2 test %}cache03{% endcache %}'), 'cache03');
  });

  test('cache04: a second template with the same fragment name is served from the cache', async () => {
    await render(env, '{% cache 2 test %}cache03{% endcache %}');
    assert.equal(await render(env, '{% cache 2 test %}cache04{% endcache %}'), 'cache03');
  });

  test('cache05/06/07: vary-on values key the fragment', async () => {
    assert.equal(await render(env, '{% cache 2 test foo %}cache05{% endcache %}', { foo: 1 }), 'cache05');
    assert.equal(await render(env, '{% cache 2 test foo %}cache06{% endcache %}', { foo: 2 }), 'cache06');
    assert.equal(await render(env, '{% cache 2 test foo %}cache07{% endcache %}', { foo: 1 }), 'cache05');
  });

  test('cache08: the timeout may be a variable', async () => {
    const context = { foo: 2, time: 2 };
    await render(env, '{% cache 2 test foo %}cache06{% endcache %}', context);
    assert.equal(await render(env, '{% cache time test foo %}cache08{% endcache %}', context), 'cache06');
  });

  test('cache11/12: fewer than 2 arguments is a template error at compile time', () => {
    for (const source of ['{% cache %}{% endcache %}', '{% cache 1 %}{% endcache %}']) {
      assert.throws(() => compile(env, source), /'cache' tag requires at least 2 arguments/, source);
    }
  });

  test('cache13/14/15: a non-integer timeout is an error at render time', async () => {
    const source = '{% cache foo bar %}{% endcache %}';
    compile(env, source); // parses fine: the timeout is only known when rendering
    await assert.rejects(render(env, source), /tag 'cache' got a non-integer timeout value: undefined/);
    await assert.rejects(
      render(env, source, { foo: 'fail' }),
      /tag 'cache' got a non-integer timeout value: "fail"/,
    );
    await assert.rejects(
      render(env, source, { foo: [] }),
      /tag 'cache' got a non-integer timeout value: \[\]/,
    );
    await assert.rejects(render(env, source, { foo: true }), /non-integer timeout value: true/);
  });

  test('cache16: vary-on values with spaces (Django #7460)', async () => {
    const output = await render(env, '{% cache 1 foo bar %}{% endcache %}', {
      foo: 'foo',
      bar: 'with spaces',
    });
    assert.equal(output, '');
  });

  test('cache17: a long vary-on value still makes a valid key (Django #11270)', async () => {
    const poem = 'Oh freddled gruntbuggly/Thy micturations are to me/'.repeat(50);
    const output = await render(env, '{% cache 10 long_cache_key poem %}Some Content{% endcache %}', {
      poem,
    });
    assert.equal(output, 'Some Content');
    assert.equal(await larder.cache().get(makeFragmentKey('long_cache_key', [poem])), 'Some Content');
  });

  test('cache18: a filter with whitespace in its argument on the timeout', async () => {
    assert.equal(await render(env, '{% cache 2|noop("x y") cache18 %}cache18{% endcache %}'), 'cache18');
  });
});

describe('nunjucks {% cache %}: Django’s CacheTests and the rest', () => {
  const larder = createLarder(
    { logger: false, caches: { default: { backend: 'memory' }, other: { backend: 'memory' } } },
    {},
  );
  const env = makeEnv(larder);
  const cache = larder.cache();
  afterEach(async () => {
    await cache.clear();
    await larder.cache('other').clear();
  });
  after(() => larder.close());

  test('regression 20130: the fragment name is kept as written, not resolved', async () => {
    await render(env, '{% cache 1 regression_20130 %}foo{% endcache %}', { regression_20130: 'nope' });
    assert.equal(await cache.get(makeFragmentKey('regression_20130')), 'foo');
  });

  test('the key is exactly makeFragmentKey(name, varyOn), read back with cache.get', async () => {
    const output = await render(
      env,
      '{% cache 60 product_list region page %}list {{ region }}{% endcache %}',
      {
        region: 'eu',
        page: 2,
      },
    );
    assert.equal(output, 'list eu');
    const key = makeFragmentKey('product_list', ['eu', 2]);
    assert.equal(key, makeFragmentKey('product_list', ['eu', '2']));
    assert.equal(await cache.get(key), 'list eu');
  });

  test('names as written: dotted, dashed, quoted', async () => {
    await render(env, '{% cache 60 a.fragment %}dotted{% endcache %}');
    await render(env, '{% cache 60 my-frag:2 %}dashed{% endcache %}');
    await render(env, '{% cache 60 "quoted" user %}quoted{% endcache %}', { user: 'u' });
    assert.equal(await cache.get('template.cache.a.fragment.d41d8cd98f00b204e9800998ecf8427e'), 'dotted');
    assert.equal(await cache.get(makeFragmentKey('my-frag:2')), 'dashed');
    assert.equal(await cache.get(makeFragmentKey('quoted', ['u'])), 'quoted');
  });

  test('vary on the user: each user gets their own fragment', async () => {
    const source = '{% cache 60 sidebar user.name %}Hello {{ user.name }} ({{ n }}){% endcache %}';
    assert.equal(await render(env, source, { user: { name: 'alice' }, n: 1 }), 'Hello alice (1)');
    assert.equal(await render(env, source, { user: { name: 'bob' }, n: 2 }), 'Hello bob (2)');
    assert.equal(await render(env, source, { user: { name: 'alice' }, n: 3 }), 'Hello alice (1)');
    assert.equal(await cache.get(makeFragmentKey('sidebar', ['bob'])), 'Hello bob (2)');
  });

  test('the body renders only on a miss', async () => {
    let calls = 0;
    const context = { count: () => ++calls };
    const source = '{% cache 60 counted %}{{ count() }}{% endcache %}';
    assert.equal(await render(env, source, context), '1');
    assert.equal(await render(env, source, context), '1');
    assert.equal(calls, 1);
  });

  test('a short timeout expires (0.3 s, real time)', async () => {
    const source = '{% cache 0.3 expiring %}{{ n }}{% endcache %}';
    assert.equal(await render(env, source, { n: 1 }), '1');
    assert.equal(await render(env, source, { n: 2 }), '1');
    await sleep(450);
    assert.equal(await render(env, source, { n: 3 }), '3');
  });

  test('none and null mean forever', async () => {
    await render(env, '{% cache none forever %}kept{% endcache %}');
    await render(env, '{% cache t forever2 %}kept{% endcache %}', { t: null });
    assert.equal(await cache.ttl(makeFragmentKey('forever')), null);
    assert.equal(await cache.ttl(makeFragmentKey('forever2')), null);
  });

  test('numeric strings and duration strings are timeouts', async () => {
    await render(env, '{% cache t numeric %}x{% endcache %}', { t: '30' });
    await render(env, "{% cache '15m' duration %}x{% endcache %}");
    const numeric = await cache.ttl(makeFragmentKey('numeric'));
    const duration = await cache.ttl(makeFragmentKey('duration'));
    assert.ok(numeric !== null && numeric > 29 && numeric <= 30, `ttl ${numeric}`);
    assert.ok(duration !== null && duration > 899 && duration <= 900, `ttl ${duration}`);
  });

  test('timeout 0 renders every time', async () => {
    const source = '{% cache 0 never %}{{ n }}{% endcache %}';
    assert.equal(await render(env, source, { n: 1 }), '1');
    assert.equal(await render(env, source, { n: 2 }), '2');
    assert.equal(await cache.has(makeFragmentKey('never')), false);
  });

  test('using= picks a second configured cache', async () => {
    await render(env, '{% cache 60 elsewhere using="other" %}in other{% endcache %}');
    assert.equal(await larder.cache('other').get(makeFragmentKey('elsewhere')), 'in other');
    assert.equal(await cache.has(makeFragmentKey('elsewhere')), false);
    await render(env, '{% cache 60 elsewhere2 using=alias %}via variable{% endcache %}', { alias: 'other' });
    assert.equal(await larder.cache('other').get(makeFragmentKey('elsewhere2')), 'via variable');
  });

  test('an unknown using= cache is an error at render time', async () => {
    const source = '{% cache 1 backend using="unknown" %}bar{% endcache %}';
    compile(env, source);
    await assert.rejects(render(env, source), /Invalid cache name specified for cache tag: "unknown"/);
  });

  test('regression: using= naming a variable that is not set (or none) is an error, never the default cache', async () => {
    // Django: "'cache' tag got an unknown variable"; `using=pages` without quotes is the usual slip.
    const source = '{% cache 60 unquoted using=pages %}body{% endcache %}';
    compile(env, source);
    await assert.rejects(render(env, source), /Invalid cache name specified for cache tag: using=undefined/);
    await assert.rejects(
      render(env, '{% cache 60 unquoted using=none %}body{% endcache %}'),
      /Invalid cache name specified for cache tag: using=null/,
    );
    assert.equal(await cache.has(makeFragmentKey('unquoted')), false);
    assert.equal(await larder.cache('other').has(makeFragmentKey('unquoted')), false);
  });

  test('tags= takes an array or a comma-separated string; anything else is an error', async () => {
    assert.equal(await render(env, '{% cache 60 tagged tags=["products", "eu"] %}t{% endcache %}'), 't');
    assert.equal(await render(env, '{% cache 60 tagged2 tags="products,eu" %}t{% endcache %}'), 't');
    await assert.rejects(
      render(env, '{% cache 60 tagged3 tags=5 %}t{% endcache %}'),
      /tag 'cache' got tags=5/,
    );
  });

  test('invalidateTags re-renders exactly the fragments cached with the tag', async () => {
    const source = '{% cache 60 sidebar user tags=["catalog"] %}{{ n }}{% endcache %}';
    const other = '{% cache 60 footer tags="legal" %}{{ n }}{% endcache %}';
    assert.equal(await render(env, source, { user: 'u1', n: 1 }), '1');
    assert.equal(await render(env, other, { n: 1 }), '1');
    assert.equal(await render(env, source, { user: 'u1', n: 2 }), '1', 'cached');
    await cache.invalidateTags(['catalog']);
    assert.equal(await render(env, source, { user: 'u1', n: 3 }), '3', 're-rendered');
    assert.equal(await render(env, other, { n: 3 }), '1', 'other tags untouched');
  });

  test('a vary-on variable called tags or using is still a vary-on value', async () => {
    await render(env, '{% cache 60 listing tags %}x{% endcache %}', { tags: 'red' });
    assert.equal(await cache.get(makeFragmentKey('listing', ['red'])), 'x');
  });

  test('vary-on values may be comma-separated, and a missing variable counts as "" (Django)', async () => {
    await render(env, '{% cache 60 commas a, b %}x{% endcache %}', { a: 1, b: 2 });
    assert.equal(await cache.get(makeFragmentKey('commas', [1, 2])), 'x');
    await render(env, '{% cache 60 missing nobody %}y{% endcache %}');
    assert.equal(await cache.get(makeFragmentKey('missing', [''])), 'y');
  });

  test('the body is escaped once, on a miss and on a hit', async () => {
    const source = '{% cache 60 escaped %}{{ html }}{% endcache %}';
    assert.equal(await render(env, source, { html: '<b>' }), '&lt;b&gt;');
    assert.equal(await render(env, source, { html: '<b>' }), '&lt;b&gt;');
  });

  test('async filters inside the body, and text around the tag', async () => {
    const source = 'before {% cache 60 slowbody %}{{ "x" | slow }}{% endcache %} after {{ y }}';
    assert.equal(await render(env, source, { y: 1 }), 'before slow x after 1');
    assert.equal(await render(env, source, { y: 2 }), 'before slow x after 2');
  });

  test('nested cache tags', async () => {
    const source = '{% cache 60 outer %}[{% cache 60 inner %}{{ n }}{% endcache %}]{% endcache %}';
    assert.equal(await render(env, source, { n: 1 }), '[1]');
    await cache.delete(makeFragmentKey('outer'));
    assert.equal(await render(env, source, { n: 2 }), '[1]', 'the inner fragment is still cached');
  });

  test('regression: an error after the tag reaches the render callback (no crash)', async () => {
    await assert.rejects(
      render(env, '{% cache 60 then_broken %}ok{% endcache %}{{ missing() }}'),
      /Unable to call `missing`/,
    );
  });

  test('an error in the body reaches the render callback, and nothing is stored', async () => {
    await assert.rejects(render(env, '{% cache 60 broken %}{{ missing() }}{% endcache %}'), /Unable to call/);
    assert.equal(await cache.has(makeFragmentKey('broken')), false);
  });

  test('installing twice replaces the tag', async () => {
    const twice = makeEnv(larder);
    installCacheTag(twice, larder);
    assert.equal(await render(twice, '{% cache 60 twice %}once{% endcache %}'), 'once');
  });
});

describe('nunjucks {% cache %}: the default cache', () => {
  test('template_fragments is preferred to default when configured (Django)', async () => {
    const larder = createLarder(
      {
        logger: false,
        caches: { default: { backend: 'memory' }, template_fragments: { backend: 'memory' } },
      },
      {},
    );
    const env = makeEnv(larder);
    const o1 = await render(env, '{% cache 1 fragment %}foo{% endcache %}');
    const o2 = await render(env, '{% cache 1 fragment using="default" %}bar{% endcache %}');
    assert.equal(o1, 'foo');
    assert.equal(o2, 'bar');
    assert.equal(await larder.cache('template_fragments').get(makeFragmentKey('fragment')), 'foo');
    assert.equal(await larder.cache('default').get(makeFragmentKey('fragment')), 'bar');
    await larder.close();
  });

  test('options.defaultCache picks another cache; an unknown one is a ConfigError at install', async () => {
    const larder = createLarder(
      { logger: false, caches: { default: { backend: 'memory' }, pages: { backend: 'memory' } } },
      {},
    );
    const env = makeEnv(larder, { defaultCache: 'pages' });
    await render(env, '{% cache 60 chosen %}p{% endcache %}');
    assert.equal(await larder.cache('pages').get(makeFragmentKey('chosen')), 'p');
    assert.throws(
      () => installCacheTag(new nunjucks.Environment(), larder, { defaultCache: 'nope' }),
      ConfigError,
    );
    await larder.close();
  });
});

describe('nunjucks {% cache %} on Redis', () => {
  let larder: Larder;
  before(() => {
    larder = createLarder(
      {
        logger: false,
        caches: {
          default: { backend: 'redis', location: redisUrlFor('standalone'), keyPrefix: uniquePrefix('njk') },
        },
      },
      {},
    );
  });
  after(async () => {
    await larder.cache().clear();
    await larder.close();
  });

  test('renders once, then serves the fragment from Redis under Django’s key', async () => {
    const env = makeEnv(larder);
    const source = '{% cache 60 sidebar user %}Hello {{ user }} {{ n }}{% endcache %}';
    assert.equal(await render(env, source, { user: 'alice', n: 1 }), 'Hello alice 1');
    assert.equal(await render(env, source, { user: 'alice', n: 2 }), 'Hello alice 1');
    assert.equal(await larder.cache().get(makeFragmentKey('sidebar', ['alice'])), 'Hello alice 1');
  });
});
