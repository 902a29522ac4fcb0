/**
 * Bad input to the `{% cache %}` tags (issue 12), Nunjucks and LiquidJS, on a memory and a
 * Redis cache: any timeout, fragment name, vary-on value, `using=` and `tags=` gives either
 * the right output — the body on a miss, the cached body on a hit (a fresh render every time
 * for a timeout of 0 or less) — or an error through the engine's own channel (the render
 * callback, the rejected promise) that is, or wraps, a larder error or the engine's parse
 * error. Never an exception outside the render, never another fragment's output.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Liquid } from 'liquidjs';
import nunjucks from 'nunjucks';
import * as errors from '../../src/errors.js';
import { LarderError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { installCacheTag as installLiquid } from '../../src/templates/liquid.js';
import { installCacheTag as installNunjucks } from '../../src/templates/nunjucks.js';
import { redisUrlFor, type Target, uniquePrefix } from '../support/conformance.js';
import { hostileString } from './support.js';

const RUNS: Record<Target, number> = { memory: 550, standalone: 400, cluster: 0 };

type Render = (source: string, context: Record<string, unknown>) => Promise<string>;

/** The class names of larder's errors (Nunjucks keeps only the message: `LarderError: …`). */
const LARDER_ERROR_NAMES = Object.values(errors)
  .filter(
    (value) =>
      typeof value === 'function' && (value === LarderError || value.prototype instanceof LarderError),
  )
  .map((value) => (value as { name: string }).name);

/**
 * A larder error: the error itself, one in its chain (`cause`, Liquid's `originalError`), or
 * Nunjucks' wrapper whose message starts the line with a larder error's class name.
 */
function isLarderError(error: unknown): boolean {
  for (
    let e = error as { cause?: unknown; originalError?: unknown } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (e instanceof LarderError) return true;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  const { name, message } = error as Error;
  return (
    name === 'Template render error' &&
    LARDER_ERROR_NAMES.some((n) => new RegExp(`(^|\\n)\\s*${n}: `).test(message))
  );
}

/** The engine's own parse/compile error (a template the engine cannot read). */
function isParseError(error: unknown): boolean {
  const { name, message } = error as Error;
  return (
    ['ParseError', 'TokenizationError'].includes(name) ||
    (name === 'Template render error' &&
      /parse|expected|unexpected|unknown block tag|requires at least 2 arguments|twice/i.test(message))
  );
}

/** Timeouts: valid ones (seconds, durations, null, 0 and negative) and hostile ones. */
const timeoutArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(60, '15m', ' 60 ', null, '2h', 90.5, 3600) },
  { weight: 2, arbitrary: fc.constantFrom(0, -5, '0', '-1') },
  {
    weight: 3,
    arbitrary: fc.constantFrom('abc', '', NaN, Infinity, true, {}, [], [60], '1e3s', '5 s', 1e300, undefined),
  },
  { weight: 1, arbitrary: hostileString(40) },
);

/** Fragment names as written in the template: words, dotted and odd ones, and long ones. */
const nameArb = fc.oneof(
  { weight: 5, arbitrary: fc.stringMatching(/^[a-z][a-z0-9_.:-]{0,20}$/) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('清单', 'a"b', "'quoted'", '"dq"', 'a,b', 'for', 'endcache'),
  },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 400 }).map((n) => 'n'.repeat(n)) },
);

/** Vary-on values: anything a context can hold. */
const varyArb = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  hostileString(60),
  fc.constantFrom(
    undefined,
    Symbol('s'),
    () => 1,
    10n ** 40n,
    new Date(Number.NaN),
    new Map([[1, 2]]),
    Number.NaN,
  ),
  fc.constant(null).map(() => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    return cycle;
  }),
);

const usingArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constantFrom('default', 'other') },
  { weight: 1, arbitrary: fc.constantFrom('nope', '', 5, null, ['default'], '__proto__', 'constructor') },
);
const tagsArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constantFrom('t1', 't1,t2', ['t1', 't2']) },
  { weight: 1, arbitrary: fc.constantFrom(5, [5], [''], ',', '\u0000', ['x'.repeat(300)], {}) },
);

function nunjucksRender(larder: Larder): Render {
  const env = new nunjucks.Environment(null, { autoescape: true });
  installNunjucks(env, larder);
  return (source, context) =>
    new Promise((resolve, reject) => {
      try {
        env.renderString(source, context, (error, output) => (error ? reject(error) : resolve(output ?? '')));
      } catch (error) {
        reject(error);
      }
    });
}

function liquidRender(larder: Larder): Render {
  const engine = new Liquid();
  installLiquid(engine, larder);
  return (source, context) => engine.parseAndRender(source, context);
}

for (const target of ['memory', 'standalone'] as Target[]) {
  for (const [engineName, makeRender] of [
    ['nunjucks', nunjucksRender],
    ['liquid', liquidRender],
  ] as const) {
    describe(`bad input: {% cache %} arguments [${engineName}, ${target}]`, () => {
      let larder: Larder;
      let render: Render;
      const uncaught: unknown[] = [];
      const onUncaught = (error: unknown) => uncaught.push(error);

      before(() => {
        const url = redisUrlFor(target);
        const keyPrefix = uniquePrefix('bad-tpl');
        const cache = url
          ? { backend: 'redis' as const, keyPrefix }
          : { backend: 'memory' as const, keyPrefix };
        larder = createLarder(
          {
            logger: false,
            redis: url ?? false,
            caches: { default: cache, other: { ...cache, keyPrefix: `${keyPrefix}o` } },
          },
          {},
        );
        render = makeRender(larder);
        process.on('uncaughtException', onUncaught);
      });
      after(async () => {
        process.off('uncaughtException', onUncaught);
        await larder.cache().clear();
        await larder.cache('other').clear();
        await larder.close();
      });

      it('any timeout, name, vary-on, using and tags: the right output, or an error through the render', async () => {
        let run = 0;
        const seen = { cached: 0, fresh: 0, larderErrors: 0, parseErrors: 0 };
        await fc.assert(
          fc.asyncProperty(
            timeoutArb,
            nameArb,
            fc.array(varyArb, { maxLength: 3 }),
            usingArb,
            tagsArb,
            async (timeout, name, varyOn, using, tags) => {
              run++;
              // `n` (unique per run) keeps runs from reading each other's fragments.
              const vars = varyOn.map((_, i) => `v${i}`).join(' ');
              const keywords = `${using === undefined ? '' : ' using=u'}${tags === undefined ? '' : ' tags=g'}`;
              const source = `[{% cache t ${name} n ${vars}${keywords} %}{{ body }}{% endcache %}]`;
              const context: Record<string, unknown> = { t: timeout, n: run, u: using, g: tags };
              varyOn.forEach((value, i) => {
                context[`v${i}`] = value;
              });
              let first: string;
              try {
                first = await render(source, { ...context, body: 'first' });
              } catch (error) {
                if (isLarderError(error)) seen.larderErrors++;
                else if (isParseError(error)) seen.parseErrors++;
                else
                  assert.fail(
                    `an error that is neither larder's nor a parse error: ${String((error as Error)?.stack ?? error)}`,
                  );
                return;
              }
              assert.equal(first, '[first]');
              const second = await render(source, { ...context, body: 'second' });
              const everyTime =
                typeof timeout === 'number'
                  ? timeout <= 0
                  : typeof timeout === 'string' && /^\s*-?0*\s*$|^\s*-/.test(timeout);
              if (everyTime) {
                assert.equal(second, '[second]', 'a timeout of 0 or less renders every time');
                seen.fresh++;
              } else {
                assert.equal(second, '[first]', 'a hit serves the cached fragment');
                seen.cached++;
              }
            },
          ),
          { numRuns: RUNS[target] },
        );
        assert.deepEqual(uncaught, [], 'nothing escaped a render');
        for (const kind of ['cached', 'fresh', 'larderErrors'] as const)
          assert.ok(seen[kind] > 5, `few ${kind}: ${JSON.stringify(seen)}`);
        // Healthy: a plain fragment still caches, and the cache still answers.
        const source = '{% cache 60 healthy %}{{ body }}{% endcache %}';
        assert.equal(await render(source, { body: 'a' }), 'a');
        assert.equal(await render(source, { body: 'b' }), 'a');
        await larder.cache().set('healthy:key', 1);
        assert.equal(await larder.cache().get('healthy:key'), 1);
      });
    });
  }
}
