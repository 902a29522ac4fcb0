/**
 * @module larder/nunjucks — Django's `{% cache %}` template tag for Nunjucks.
 *
 * ```njk
 * {% cache 500 sidebar request.user.username %}…{% endcache %}
 * {% cache '15m' product_list region using="pages" tags=["products"] %}…{% endcache %}
 * ```
 *
 * Arguments, as Django's: a timeout expression (seconds, a duration string such as `'15m'`,
 * or `none` for "never expires"; 0 or negative renders every time), then the fragment name
 * — a bare word, never a variable (quotes are optional and dropped) — then any number of
 * vary-on expressions, space- or comma-separated. `using=` names the cache (default:
 * `template_fragments` when configured, else `default`), `tags=` gives invalidation tags.
 *
 * The tag is asynchronous: render with a callback (`env.render(name, ctx, cb)`, Express's
 * `res.render`), not the synchronous form. Nothing of Nunjucks is imported at run time: the
 * parser hands the extension its node classes.
 */
import type { Environment, Extension } from 'nunjucks';
import {
  CACHE_TAG_ARGUMENTS_MESSAGE,
  type CacheTagCall,
  type CacheTagOptions,
  createCacheTagRenderer,
} from '../cache/fragment.js';
import type { Larder } from '../larder.js';
import { writtenUsing } from './using.js';

export type { CacheTagOptions } from '../cache/fragment.js';

/** The name the extension is registered under (`env.getExtension(CACHE_TAG_EXTENSION)`). */
const CACHE_TAG_EXTENSION = 'LarderCacheTag';

// Nunjucks' parser API is undocumented (its typings say `any`); these are the parts used here.
interface Token {
  type: string;
  value: string;
  lineno: number;
  colno: number;
}
interface Node {
  lineno: number;
  colno: number;
}
interface NodeList extends Node {
  addChild(node: Node): void;
}
interface Parser {
  nextToken(withWhitespace?: boolean): Token | null;
  peekToken(): Token | null;
  pushToken(token: Token): void;
  skipValue(type: string, value: string): boolean;
  fail(message: string, lineno?: number, colno?: number): never;
  parseExpression(): Node;
  parsePostfix(node: Node): Node;
  parseFilter(node: Node): Node;
  advanceAfterBlockEnd(name?: string): Token;
  parseUntilBlocks(...names: string[]): Node;
}
interface Nodes {
  NodeList: new (lineno: number, colno: number, children?: Node[]) => NodeList;
  Array: new (lineno: number, colno: number, children?: Node[]) => Node;
  Literal: new (lineno: number, colno: number, value: string | null) => Node;
  Symbol: new (lineno: number, colno: number, value: string) => Node;
  CallExtensionAsync: new (ext: object, prop: string, args: NodeList, contentArgs: Node[]) => Node;
}
interface Lexer {
  TOKEN_BLOCK_END: string;
  TOKEN_WHITESPACE: string;
  TOKEN_COMMA: string;
  TOKEN_SYMBOL: string;
  TOKEN_OPERATOR: string;
  TOKEN_STRING: string;
}
/** The compiled body: renders into `callback` (at once, or later when it holds async tags). */
type Body = (callback: (error: Error | null, output?: string) => void) => string;
type Callback = (error: Error | null, output?: string) => void;

/**
 * Registers `{% cache timeout name varyOn... [using="alias"] [tags=expr] %}…{% endcache %}`
 * on a Nunjucks environment. Fewer than two arguments is a template error when the template
 * compiles; a bad timeout or an unknown `using=` cache is an error when it renders. The body
 * renders only on a miss, and its output is emitted as is (already escaped, never twice).
 *
 * @throws {ConfigError} when `options.defaultCache` names no configured cache
 * @example
 * import nunjucks from 'nunjucks';
 * import { createLarder } from 'larder';
 * import { installCacheTag } from 'larder/nunjucks';
 *
 * const larder = createLarder();
 * const env = new nunjucks.Environment(new nunjucks.FileSystemLoader('views'));
 * installCacheTag(env, larder);
 * env.renderString('{% cache 500 sidebar user.id %}{{ user.name }}{% endcache %}', { user }, (err, html) => {});
 */
export function installCacheTag(env: Environment, larder: Larder, options?: CacheTagOptions): void {
  const renderTag = createCacheTagRenderer(larder, options);
  if (env.hasExtension(CACHE_TAG_EXTENSION)) env.removeExtension(CACHE_TAG_EXTENSION);
  env.addExtension(CACHE_TAG_EXTENSION, new CacheTagExtension(renderTag));
}

class CacheTagExtension implements Extension {
  readonly tags = ['cache'];
  // The node compiler reads this: false means the tag's output is not escaped again.
  readonly autoescape = false;
  readonly #renderTag: (call: CacheTagCall) => Promise<string>;

  constructor(renderTag: (call: CacheTagCall) => Promise<string>) {
    this.#renderTag = renderTag;
  }

  parse(parser: Parser, nodes: Nodes, lexer: Lexer): Node {
    const tag = parser.nextToken()!;
    const { lineno, colno } = tag;
    const tooFew = () => parser.fail(CACHE_TAG_ARGUMENTS_MESSAGE, lineno, colno);
    if (isEnd(parser.peekToken(), lexer)) tooFew();
    const timeout = parser.parseExpression();
    if (isEnd(parser.peekToken(), lexer)) tooFew();
    const name = readFragmentName(parser, lexer);

    const varyOn: Node[] = [];
    const keywords: Record<'using' | 'tags', Node | undefined> = { using: undefined, tags: undefined };
    for (let token = parser.peekToken(); !isEnd(token, lexer); token = parser.peekToken()) {
      if (token!.type === lexer.TOKEN_COMMA) {
        parser.nextToken();
        continue;
      }
      if (token!.type === lexer.TOKEN_SYMBOL && (token!.value === 'using' || token!.value === 'tags')) {
        const word = parser.nextToken()!;
        if (parser.skipValue(lexer.TOKEN_OPERATOR, '=')) {
          const key = word.value as 'using' | 'tags';
          if (keywords[key]) parser.fail(`'cache' tag got ${key}= twice`, word.lineno, word.colno);
          keywords[key] = parser.parseExpression();
          continue;
        }
        // A variable that happens to be called `using` or `tags` (`{% cache 60 list tags %}`).
        const symbol = new nodes.Symbol(word.lineno, word.colno, word.value);
        varyOn.push(parser.parseFilter(parser.parsePostfix(symbol)));
        continue;
      }
      varyOn.push(parser.parseExpression());
    }
    parser.advanceAfterBlockEnd(tag.value);
    const body = parser.parseUntilBlocks('endcache');
    parser.advanceAfterBlockEnd();

    const none = () => new nodes.Literal(lineno, colno, null);
    const args = new nodes.NodeList(lineno, colno);
    args.addChild(timeout);
    args.addChild(new nodes.Literal(lineno, colno, name));
    args.addChild(new nodes.Array(lineno, colno, varyOn));
    // Wrapped, so a written `using=` whose value is undefined (a variable not set) or `none`
    // is told apart from no `using=` at all (null).
    args.addChild(keywords.using ? new nodes.Array(lineno, colno, [keywords.using]) : none());
    args.addChild(keywords.tags ?? none());
    return new nodes.CallExtensionAsync(this, 'run', args, [body]);
  }

  /** Called by the compiled template with the resolved arguments (see `parse`). */
  run(
    _context: unknown,
    timeout: unknown,
    name: string,
    varyOn: unknown[],
    using: [unknown] | null,
    tags: unknown,
    body: Body,
    callback: Callback,
  ): void {
    new Promise<string>((resolve) =>
      resolve(
        this.#renderTag({
          timeout,
          name,
          varyOn,
          using: using === null ? undefined : writtenUsing(using[0]),
          tags: tags ?? undefined,
          render: () => renderBody(body),
        }),
      ),
    ).then(
      (html) => {
        try {
          callback(null, html);
        } catch (error) {
          // The rest of the template runs inside this callback; Nunjucks' own try/catch is
          // long gone by now, so a later error ("Unable to call `foo`") would crash the
          // process. Hand it to the render callback instead, as Nunjucks does for sync code.
          callback(error as Error);
        }
      },
      (error: Error) => callback(error),
    );
  }
}

function isEnd(token: Token | null, lexer: Lexer): boolean {
  return token === null || token.type === lexer.TOKEN_BLOCK_END;
}

/**
 * The fragment name as written: every token up to the next whitespace (`a.fragment`,
 * `my-frag:2`), as Django's `token.split_contents()` reads it (a comma ends it too). Quotes are dropped.
 */
function readFragmentName(parser: Parser, lexer: Lexer): string {
  const first = parser.nextToken()!;
  let name = first.value;
  for (;;) {
    const token = parser.nextToken(true);
    if (token === null || token.type === lexer.TOKEN_WHITESPACE) break;
    if (token.type === lexer.TOKEN_BLOCK_END || token.type === lexer.TOKEN_COMMA) {
      parser.pushToken(token);
      break;
    }
    name += token.value;
  }
  return name;
}

function renderBody(body: Body): Promise<string> {
  return new Promise((resolve, reject) => {
    try {
      body((error, output) => (error ? reject(error) : resolve(output ?? '')));
    } catch (error) {
      reject(error);
    }
  });
}
