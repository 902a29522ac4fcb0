/**
 * @module larder/liquid — Django's `{% cache %}` template tag for LiquidJS 10.
 *
 * ```liquid
 * {% cache 500 sidebar user.username %}…{% endcache %}
 * {% cache '15m' product_list region using: "pages" tags: "products,eu" %}…{% endcache %}
 * ```
 *
 * Arguments, as Django's: a timeout (seconds, a duration string such as `'15m'`, or `nil`
 * for "never expires"; 0 or negative renders every time), then the fragment name — a bare
 * word, never a variable (quotes are optional and dropped) — then any number of vary-on
 * values (literals, variables, property lookups; `assign` a filtered value first).
 * `using=` / `using:` names the cache (default: `template_fragments` when configured, else
 * `default`); `tags=` / `tags:` gives invalidation tags (a comma-separated string or an array).
 *
 * The tag is asynchronous: render with `render`, `parseAndRender` or `renderFile`, not
 * their `Sync` forms.
 */
import {
  type Context,
  type Emitter,
  evalTokenValue,
  type Liquid,
  type Parser,
  type ParseStream,
  Tag,
  type TagToken,
  type Template,
  type TopLevelToken,
  toPromise,
  type ValueToken,
} from 'liquidjs';
import {
  CACHE_TAG_ARGUMENTS_MESSAGE,
  type CacheTagCall,
  type CacheTagOptions,
  createCacheTagRenderer,
} from '../cache/fragment.js';
import { LarderError } from '../errors.js';
import type { Larder } from '../larder.js';
import { writtenUsing } from './using.js';

export type { CacheTagOptions } from '../cache/fragment.js';

// Liquid's filter syntax (`a | f: x, y`) cannot be told apart from space-separated arguments.
const NO_FILTERS =
  "'cache' tag arguments take no filters: assign the filtered value first ({% assign key = x | downcase %})";

/** `using=` / `tags:` (Django's spelling and Liquid's), at the tokenizer's position. */
const KEYWORD = /^(using|tags)\s*[=:]/;

/**
 * Registers `{% cache timeout name varyOn... [using="alias"] [tags=expr] %}…{% endcache %}`
 * on a LiquidJS engine. Fewer than two arguments is a `ParseError` when the template is
 * parsed; a bad timeout or an unknown `using=` cache is a `RenderError` when it renders.
 * The body renders only on a miss; its output is written as is (never escaped twice).
 *
 * @throws {ConfigError} when `options.defaultCache` names no configured cache
 * @example
 * import { Liquid } from 'liquidjs';
 * import { createLarder } from 'larder';
 * import { installCacheTag } from 'larder/liquid';
 *
 * const larder = createLarder();
 * const engine = new Liquid();
 * installCacheTag(engine, larder);
 * await engine.parseAndRender('{% cache 500 sidebar user.id %}{{ user.name }}{% endcache %}', { user });
 */
export function installCacheTag(engine: Liquid, larder: Larder, options?: CacheTagOptions): void {
  engine.registerTag('cache', cacheTagClass(createCacheTagRenderer(larder, options)));
}

/** A Tag class bound to one renderer (the class form: no per-render `Hash` of the arguments). */
function cacheTagClass(renderTag: (call: CacheTagCall) => Promise<string>) {
  return class CacheTag extends Tag {
    readonly timeout: ValueToken;
    readonly fragmentName: string;
    readonly varyOn: ValueToken[] = [];
    using: ValueToken | undefined;
    tags: ValueToken | undefined;
    readonly templates: Template[] = [];

    constructor(token: TagToken, remainTokens: TopLevelToken[], liquid: Liquid, parser: Parser) {
      super(token, remainTokens, liquid);
      const tokenizer = this.tokenizer;
      tokenizer.skipBlank();
      if (tokenizer.end()) throw new LarderError(CACHE_TAG_ARGUMENTS_MESSAGE);
      const timeout = tokenizer.readValue();
      if (!timeout) throw tokenizer.error(`'cache' tag: cannot read a timeout at "${tokenizer.remaining()}"`);
      this.timeout = timeout;
      tokenizer.skipBlank();
      if (tokenizer.end()) throw new LarderError(CACHE_TAG_ARGUMENTS_MESSAGE);
      if (tokenizer.peek() === '|') throw tokenizer.error(NO_FILTERS);
      this.fragmentName = readFragmentName(tokenizer);

      for (tokenizer.skipBlank(); !tokenizer.end(); tokenizer.skipBlank()) {
        if (tokenizer.peek() === ',') {
          tokenizer.advance();
          continue;
        }
        const keyword = KEYWORD.exec(tokenizer.remaining());
        if (keyword) {
          const key = keyword[1] as 'using' | 'tags';
          if (this[key]) throw tokenizer.error(`'cache' tag got ${key}= twice`);
          tokenizer.advance(keyword[0].length);
          const value = tokenizer.readValue();
          if (!value) throw tokenizer.error(`'cache' tag: ${key}= needs a value`);
          this[key] = value;
          continue;
        }
        if (tokenizer.peek() === '|') throw tokenizer.error(NO_FILTERS);
        const value = tokenizer.readValue();
        if (!value) {
          throw tokenizer.error(`'cache' tag: cannot read a vary-on value at "${tokenizer.remaining()}"`);
        }
        this.varyOn.push(value);
      }

      let closed = false;
      parser
        .parseStream(remainTokens)
        .on('tag:endcache', function (this: ParseStream) {
          closed = true;
          this.stop();
        })
        .on('template', (template: Template) => {
          this.templates.push(template);
        })
        .start();
      if (!closed) throw new LarderError(`tag ${token.getText()} not closed: add {% endcache %}`);
    }

    *render(ctx: Context, emitter: Emitter): Generator<unknown, void, unknown> {
      if (ctx.sync) {
        throw new LarderError(
          "the 'cache' tag renders asynchronously: use render, parseAndRender or renderFile, not their Sync forms",
        );
      }
      const timeout = yield evalTokenValue(this.timeout, ctx);
      const varyOn: unknown[] = [];
      for (const token of this.varyOn) varyOn.push(yield evalTokenValue(token, ctx));
      const using = this.using ? writtenUsing(yield evalTokenValue(this.using, ctx)) : undefined;
      const tags = this.tags ? yield evalTokenValue(this.tags, ctx) : undefined;
      const html = yield renderTag({
        timeout,
        name: this.fragmentName,
        varyOn,
        using,
        tags,
        render: () => toPromise(this.liquid.renderer.renderTemplates(this.templates, ctx)) as Promise<string>,
      });
      emitter.write(html);
    }

    // biome-ignore lint/correctness/useYield: LiquidJS's Template.children is a generator; it returns, as CaptureTag's does.
    *children(): Generator<unknown, Template[]> {
      return this.templates;
    }

    *arguments(): Generator<ValueToken> {
      yield this.timeout;
      yield* this.varyOn;
      if (this.using) yield this.using;
      if (this.tags) yield this.tags;
    }
  };
}

type Tokenizer = TagToken['tokenizer'];

/**
 * The fragment name as written: everything up to the next blank (`a.fragment`, `my-frag:2`),
 * as Django's `token.split_contents()` reads it (a comma ends it too). Quotes are dropped.
 */
function readFragmentName(tokenizer: Tokenizer): string {
  const quoted = tokenizer.readQuoted();
  if (quoted) return quoted.content;
  const begin = tokenizer.p;
  while (!tokenizer.end() && !/[\s,]/.test(tokenizer.peek())) tokenizer.advance();
  return tokenizer.input.slice(begin, tokenizer.p);
}
