/**
 * The `{% cache %}` tag for LiquidJS, ported from Django's
 * tests/template_tests/syntax_tests/test_cache.py (CacheTagTests, CacheTests), plus what
 * Liquid adds: `using:`/`tags:` spellings, output escaping, sync rendering refused, and
 * static analysis of the tag's arguments and body.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { analyze, Liquid } from 'liquidjs';
import { makeFragmentKey } from '../../src/cache/fragment.js';
import { ConfigError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { installCacheTag } from '../../src/templates/liquid.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function makeEngine(larder: Larder, options?: { defaultCache?: string }): Liquid {
  const engine = new Liquid({ outputEscape: 'escape' });
  installCacheTag(engine, larder, options);
  return engine;
}

describe('liquid {% cache %}: Django’s CacheTagTests', () => {
  const larder = createLarder(
    { logger: false, caches: { default: { backend: 'memory' }, other: { backend: 'memory' } } },
    {},
  );
  const engine = makeEngine(larder);
  const render = (source: string, context: object = {}) => engine.parseAndRender(source, context);
  afterEach(async () => {
    await larder.cache('default').clear();
    await larder.cache('other').clear();
  });
  after(() => larder.close());

  test('cache03: renders the body', async () => {
    assert.equal(await render('{% cache 2 test %}cache03{% endcache %}'), 'cache03');
  });

  test('cache04: a second template with the same fragment name is served from the cache', async () => {
    await render('{% cache 2 test %}cache03{% endcache %}');
    assert.equal(await render('{% cache 2 test %}cache04{% endcache %}'), 'cache03');
  });

  test('cache05/06/07: vary-on values key the fragment', async () => {
    assert.equal(await render('{% cache 2 test foo %}cache05{% endcache %}', { foo: 1 }), 'cache05');
    assert.equal(await render('{% cache 2 test foo %}cache06{% endcache %}', { foo: 2 }), 'cache06');
    assert.equal(await render('{% cache 2 test foo %}cache07{% endcache %}', { foo: 1 }), 'cache05');
  });

  test('cache08: the timeout may be a variable', async () => {
    const context = { foo: 2, time: 2 };
    await render('{% cache 2 test foo %}cache06{% endcache %}', context);
    assert.equal(await render('{% cache time test foo %}cache08{% endcache %}', context), 'cache06');
  });

  test('cache11/12: fewer than 2 arguments is a ParseError at parse time', () => {
    for (const source of ['{% cache %}{% endcache %}', '{% cache 1 %}{% endcache %}']) {
      assert.throws(
        () => engine.parse(source),
        (error: Error) =>
          error.name === 'ParseError' && /'cache' tag requires at least 2 arguments/.test(error.message),
        source,
      );
    }
  });

  test('cache13/14/15: a non-integer timeout is a RenderError at render time', async () => {
    const source = '{% cache foo bar %}{% endcache %}';
    engine.parse(source); // parses fine: the timeout is only known when rendering
    const rejects = (context: object, message: RegExp) =>
      assert.rejects(render(source, context), (error: Error) => {
        assert.equal(error.name, 'RenderError');
        assert.match(error.message, message);
        return true;
      });
    await rejects({}, /tag 'cache' got a non-integer timeout value: undefined/);
    await rejects({ foo: 'fail' }, /tag 'cache' got a non-integer timeout value: "fail"/);
    await rejects({ foo: [] }, /tag 'cache' got a non-integer timeout value: \[\]/);
    await rejects({ foo: true }, /non-integer timeout value: true/);
  });

  test('cache16: vary-on values with spaces (Django #7460)', async () => {
    assert.equal(await render('{% cache 1 foo bar %}{% endcache %}', { foo: 'foo', bar: 'with spaces' }), '');
  });

  test('cache17: a long vary-on value still makes a valid key (Django #11270)', async () => {
    const poem = 'Oh freddled gruntbuggly/Thy micturations are to me/'.repeat(50);
    const output = await render('{% cache 10 long_cache_key poem %}Some Content{% endcache %}', { poem });
    assert.equal(output, 'Some Content');
    assert.equal(await larder.cache().get(makeFragmentKey('long_cache_key', [poem])), 'Some Content');
  });

  test('cache18 (Liquid differs): filters in arguments are a ParseError that says what to do', () => {
    for (const source of [
      '{% cache 2 | abs cache18 %}x{% endcache %}',
      '{% cache 2 cache18 user | downcase %}x{% endcache %}',
    ]) {
      assert.throws(() => engine.parse(source), /arguments take no filters: assign the filtered value first/);
    }
  });
});

describe('liquid {% cache %}: Django’s CacheTests and the rest', () => {
  const larder = createLarder(
    { logger: false, caches: { default: { backend: 'memory' }, other: { backend: 'memory' } } },
    {},
  );
  const engine = makeEngine(larder);
  const render = (source: string, context: object = {}) => engine.parseAndRender(source, context);
  const cache = larder.cache();
  afterEach(async () => {
    await cache.clear();
    await larder.cache('other').clear();
  });
  after(() => larder.close());

  test('regression 20130: the fragment name is kept as written, not resolved', async () => {
    await render('{% cache 1 regression_20130 %}foo{% endcache %}', { regression_20130: 'nope' });
    assert.equal(await cache.get(makeFragmentKey('regression_20130')), 'foo');
  });

  test('the key is exactly makeFragmentKey(name, varyOn), read back with cache.get', async () => {
    const output = await render('{% cache 60 product_list region page %}list {{ region }}{% endcache %}', {
      region: 'eu',
      page: 2,
    });
    assert.equal(output, 'list eu');
    assert.equal(await cache.get(makeFragmentKey('product_list', ['eu', 2])), 'list eu');
    assert.equal(await cache.get(makeFragmentKey('product_list', ['eu', '2'])), 'list eu');
  });

  test('names as written: dotted, dashed, quoted; whitespace control works', async () => {
    await render('{% cache 60 a.fragment %}dotted{% endcache %}');
    await render('{% cache 60 my-frag:2 %}dashed{% endcache %}');
    await render('{%- cache 60 "quoted" user -%} quoted {%- endcache -%}', { user: 'u' });
    assert.equal(await cache.get('template.cache.a.fragment.d41d8cd98f00b204e9800998ecf8427e'), 'dotted');
    assert.equal(await cache.get(makeFragmentKey('my-frag:2')), 'dashed');
    assert.equal(await cache.get(makeFragmentKey('quoted', ['u'])), 'quoted');
  });

  test('vary on the user: each user gets their own fragment', async () => {
    const source = '{% cache 60 sidebar user.name %}Hello {{ user.name }} ({{ n }}){% endcache %}';
    assert.equal(await render(source, { user: { name: 'alice' }, n: 1 }), 'Hello alice (1)');
    assert.equal(await render(source, { user: { name: 'bob' }, n: 2 }), 'Hello bob (2)');
    assert.equal(await render(source, { user: { name: 'alice' }, n: 3 }), 'Hello alice (1)');
    assert.equal(await cache.get(makeFragmentKey('sidebar', ['bob'])), 'Hello bob (2)');
  });

  test('the body renders only on a miss', async () => {
    let calls = 0;
    const context = {
      get count() {
        return ++calls;
      },
    };
    const source = '{% cache 60 counted %}{{ count }}{% endcache %}';
    assert.equal(await render(source, context), '1');
    assert.equal(await render(source, context), '1');
    assert.equal(calls, 1);
  });

  test('a short timeout expires (0.3 s, real time)', async () => {
    const source = '{% cache 0.3 expiring %}{{ n }}{% endcache %}';
    assert.equal(await render(source, { n: 1 }), '1');
    assert.equal(await render(source, { n: 2 }), '1');
    await sleep(450);
    assert.equal(await render(source, { n: 3 }), '3');
  });

  test('nil, null and a null variable mean forever', async () => {
    await render('{% cache nil forever %}kept{% endcache %}');
    await render('{% cache null forever2 %}kept{% endcache %}');
    await render('{% cache t forever3 %}kept{% endcache %}', { t: null });
    for (const name of ['forever', 'forever2', 'forever3']) {
      assert.equal(await cache.ttl(makeFragmentKey(name)), null, name);
    }
  });

  test('numeric strings and duration strings are timeouts', async () => {
    await render('{% cache t numeric %}x{% endcache %}', { t: '30' });
    await render("{% cache '15m' duration %}x{% endcache %}");
    const numeric = await cache.ttl(makeFragmentKey('numeric'));
    const duration = await cache.ttl(makeFragmentKey('duration'));
    assert.ok(numeric !== null && numeric > 29 && numeric <= 30, `ttl ${numeric}`);
    assert.ok(duration !== null && duration > 899 && duration <= 900, `ttl ${duration}`);
  });

  test('timeout 0 renders every time', async () => {
    const source = '{% cache 0 never %}{{ n }}{% endcache %}';
    assert.equal(await render(source, { n: 1 }), '1');
    assert.equal(await render(source, { n: 2 }), '2');
    assert.equal(await cache.has(makeFragmentKey('never')), false);
  });

  test('using= and using: pick a second configured cache, also from a variable', async () => {
    await render('{% cache 60 elsewhere using="other" %}in other{% endcache %}');
    await render('{% cache 60 elsewhere2 using: alias %}via variable{% endcache %}', { alias: 'other' });
    assert.equal(await larder.cache('other').get(makeFragmentKey('elsewhere')), 'in other');
    assert.equal(await larder.cache('other').get(makeFragmentKey('elsewhere2')), 'via variable');
    assert.equal(await cache.has(makeFragmentKey('elsewhere')), false);
  });

  test('an unknown using= cache is a RenderError at render time', async () => {
    const source = '{% cache 1 backend using="unknown" %}bar{% endcache %}';
    engine.parse(source);
    await assert.rejects(render(source), /Invalid cache name specified for cache tag: "unknown"/);
  });

  test('regression: using= naming a variable that is not set (or nil) is a RenderError, never the default cache', async () => {
    // Django: "'cache' tag got an unknown variable"; `using=pages` without quotes is the usual slip.
    const source = '{% cache 60 unquoted using=pages %}body{% endcache %}';
    engine.parse(source);
    await assert.rejects(render(source), (error: Error) => {
      assert.equal(error.name, 'RenderError');
      assert.match(error.message, /Invalid cache name specified for cache tag: using=undefined/);
      return true;
    });
    await assert.rejects(
      render('{% cache 60 unquoted using: nil %}body{% endcache %}'),
      /Invalid cache name specified for cache tag: using=null/,
    );
    assert.equal(await cache.has(makeFragmentKey('unquoted')), false);
    assert.equal(await larder.cache('other').has(makeFragmentKey('unquoted')), false);
  });

  test('tags= takes a comma-separated string or an array; anything else is an error', async () => {
    assert.equal(await render('{% cache 60 tagged tags: "products,eu" %}t{% endcache %}'), 't');
    assert.equal(await render('{% cache 60 tagged2 tags=list %}t{% endcache %}', { list: ['a', 'b'] }), 't');
    await assert.rejects(render('{% cache 60 tagged3 tags=5 %}t{% endcache %}'), /tag 'cache' got tags=5/);
    assert.throws(() => engine.parse('{% cache 60 x using="a" using="b" %}{% endcache %}'), /using= twice/);
  });

  test('invalidateTags re-renders exactly the fragments cached with the tag', async () => {
    const source = '{% cache 60 sidebar user tags: "catalog" %}{{ n }}{% endcache %}';
    const other = '{% cache 60 footer tags: "legal" %}{{ n }}{% endcache %}';
    assert.equal(await render(source, { user: 'u1', n: 1 }), '1');
    assert.equal(await render(other, { n: 1 }), '1');
    assert.equal(await render(source, { user: 'u1', n: 2 }), '1', 'cached');
    await cache.invalidateTags(['catalog']);
    assert.equal(await render(source, { user: 'u1', n: 3 }), '3', 're-rendered');
    assert.equal(await render(other, { n: 3 }), '1', 'other tags untouched');
  });

  test('vary-on values may be comma-separated, and a missing variable counts as "" (Django)', async () => {
    await render('{% cache 60 commas a, b %}x{% endcache %}', { a: 1, b: 2 });
    assert.equal(await cache.get(makeFragmentKey('commas', [1, 2])), 'x');
    await render('{% cache 60 missing nobody %}y{% endcache %}');
    assert.equal(await cache.get(makeFragmentKey('missing', [''])), 'y');
  });

  test('the body is escaped once (outputEscape), on a miss and on a hit', async () => {
    const source = '{% cache 60 escaped %}{{ html }}{% endcache %}';
    assert.equal(await render(source, { html: '<b>' }), '&lt;b&gt;');
    assert.equal(await render(source, { html: '<b>' }), '&lt;b&gt;');
  });

  test('text around the tag, loops inside and around it, nested cache tags', async () => {
    const source =
      '{% for i in (1..2) %}[{% cache 60 row i %}{% for j in (1..i) %}{{ j }}{% endfor %}{% endcache %}]{% endfor %}';
    assert.equal(await render(source), '[1][12]');
    const nested = '{% cache 60 outer %}({% cache 60 inner %}{{ n }}{% endcache %}){% endcache %}';
    assert.equal(await render(nested, { n: 1 }), '(1)');
    await cache.delete(makeFragmentKey('outer'));
    assert.equal(await render(nested, { n: 2 }), '(1)', 'the inner fragment is still cached');
  });

  test('an error in the body is a RenderError, and nothing is stored', async () => {
    const strict = new Liquid({ strictVariables: true });
    installCacheTag(strict, larder);
    await assert.rejects(strict.parseAndRender('{% cache 60 broken %}{{ nobody }}{% endcache %}'), /nobody/);
    assert.equal(await cache.has(makeFragmentKey('broken')), false);
  });

  test('a missing {% endcache %} is a ParseError', () => {
    assert.throws(() => engine.parse('{% cache 60 open %}never closed'), /not closed/);
  });

  test('the Sync render forms are refused with a message that says what to use', () => {
    assert.throws(
      () => engine.parseAndRenderSync('{% cache 60 sync %}x{% endcache %}'),
      /renders asynchronously: use render, parseAndRender or renderFile/,
    );
  });

  test('static analysis sees the arguments and the body', async () => {
    const result = await analyze(
      engine.parse('{% cache t sidebar user.id using=alias %}{{ n }}{% endcache %}'),
    );
    assert.deepEqual(Object.keys(result.variables).sort(), ['alias', 'n', 't', 'user']);
  });
});

describe('liquid {% cache %}: the default cache', () => {
  test('template_fragments is preferred to default when configured (Django)', async () => {
    const larder = createLarder(
      {
        logger: false,
        caches: { default: { backend: 'memory' }, template_fragments: { backend: 'memory' } },
      },
      {},
    );
    const engine = makeEngine(larder);
    assert.equal(await engine.parseAndRender('{% cache 1 fragment %}foo{% endcache %}'), 'foo');
    assert.equal(
      await engine.parseAndRender('{% cache 1 fragment using="default" %}bar{% endcache %}'),
      'bar',
    );
    assert.equal(await larder.cache('template_fragments').get(makeFragmentKey('fragment')), 'foo');
    assert.equal(await larder.cache('default').get(makeFragmentKey('fragment')), 'bar');
    await larder.close();
  });

  test('options.defaultCache picks another cache; an unknown one is a ConfigError at install', async () => {
    const larder = createLarder(
      { logger: false, caches: { default: { backend: 'memory' }, pages: { backend: 'memory' } } },
      {},
    );
    const engine = makeEngine(larder, { defaultCache: 'pages' });
    await engine.parseAndRender('{% cache 60 chosen %}p{% endcache %}');
    assert.equal(await larder.cache('pages').get(makeFragmentKey('chosen')), 'p');
    assert.throws(() => installCacheTag(new Liquid(), larder, { defaultCache: 'nope' }), ConfigError);
    await larder.close();
  });
});

describe('liquid {% cache %} on Redis', () => {
  let larder: Larder;
  before(() => {
    larder = createLarder(
      {
        logger: false,
        caches: {
          default: {
            backend: 'redis',
            location: redisUrlFor('standalone'),
            keyPrefix: uniquePrefix('liquid'),
          },
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
    const engine = makeEngine(larder);
    const source = '{% cache 60 sidebar user %}Hello {{ user }} {{ n }}{% endcache %}';
    assert.equal(await engine.parseAndRender(source, { user: 'alice', n: 1 }), 'Hello alice 1');
    assert.equal(await engine.parseAndRender(source, { user: 'alice', n: 2 }), 'Hello alice 1');
    assert.equal(await larder.cache().get(makeFragmentKey('sidebar', ['alice'])), 'Hello alice 1');
  });
});
