/**
 * Redis glob patterns (`KEYS` / `SCAN MATCH`), for backends that filter keys themselves.
 *
 * Hand-written: picomatch/minimatch implement shell globs (`!` negation, `**`, path
 * separators), not Redis' `stringmatchlen`, whose quirks this file reproduces:
 * - matching is per byte of the key's UTF-8 encoding, so `?` does not match `é` (2 bytes);
 * - only `[^…]` negates (`[!a]` is the set `!`, `a`); `\` escapes inside and outside a set;
 * - a range's ends may come in either order (`[z-a]`), and its end may be `]` (`[a-]…]`);
 * - an unterminated set runs to the end of the pattern; `[]` matches nothing, `[^]` anything;
 * - a trailing lone `\` is a literal backslash;
 * - the empty key matches only the patterns `*` and `''`.
 */

/** One step of a pattern; every kind except `star` consumes exactly one byte. */
type Token =
  | { kind: 'star' }
  | { kind: 'any' }
  | { kind: 'byte'; code: number }
  | { kind: 'set'; negated: boolean; ranges: Array<[number, number]> };

interface Compiled {
  regexp: RegExp;
  matcher: (key: string) => boolean;
}

const CACHE_LIMIT = 256;
const compiledCache = new Map<string, Compiled>();
const NON_ASCII = /[\u0080-\uffff]/;

/** A string of one char per UTF-8 byte of `s` (identical to `s` when `s` is ASCII). */
function toByteString(s: string): string {
  return NON_ASCII.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s;
}

function parse(pattern: string): Token[] {
  const p = toByteString(pattern);
  const n = p.length;
  const tokens: Token[] = [];
  let i = 0;
  while (i < n) {
    const c = p.charCodeAt(i);
    if (c === 0x2a /* * */) {
      if (tokens.at(-1)?.kind !== 'star') tokens.push({ kind: 'star' });
      i++;
    } else if (c === 0x3f /* ? */) {
      tokens.push({ kind: 'any' });
      i++;
    } else if (c === 0x5c /* \ */) {
      // A trailing lone backslash matches itself.
      tokens.push({ kind: 'byte', code: i + 1 < n ? p.charCodeAt(i + 1) : c });
      i += 2;
    } else if (c === 0x5b /* [ */) {
      i++;
      const negated = i < n && p.charCodeAt(i) === 0x5e; /* ^ */
      if (negated) i++;
      const ranges: Array<[number, number]> = [];
      while (i < n) {
        const d = p.charCodeAt(i);
        if (d === 0x5c && i + 1 < n) {
          ranges.push([p.charCodeAt(i + 1), p.charCodeAt(i + 1)]);
          i += 2;
        } else if (d === 0x5d /* ] */) {
          i++;
          break;
        } else if (i + 2 < n && p.charCodeAt(i + 1) === 0x2d /* - */) {
          const end = p.charCodeAt(i + 2);
          ranges.push(d <= end ? [d, end] : [end, d]);
          i += 3;
        } else {
          ranges.push([d, d]);
          i++;
        }
      }
      tokens.push({ kind: 'set', negated, ranges });
    } else {
      tokens.push({ kind: 'byte', code: c });
      i++;
    }
  }
  return tokens;
}

function byteSource(code: number): string {
  return /[A-Za-z0-9_:]/.test(String.fromCharCode(code)) ? String.fromCharCode(code) : hex(code);
}

function hex(code: number): string {
  return `\\x${code.toString(16).padStart(2, '0')}`;
}

function tokenSource(token: Token): string {
  switch (token.kind) {
    case 'any':
      return '[^]';
    case 'byte':
      return byteSource(token.code);
    case 'set': {
      const body = token.ranges.map(([lo, hi]) => (lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`)).join('');
      // `[]` matches nothing and `[^]` matches anything, exactly as Redis' empty sets.
      return `[${token.negated ? '^' : ''}${body}]`;
    }
    case 'star':
      return '[^]*';
  }
}

/**
 * Regex source without catastrophic backtracking: each segment between two stars is
 * matched at its leftmost position inside an atomic lookahead (`(?=([^]*?seg))\1`).
 * Leftmost is always right for fixed-width segments, so no other split is ever tried —
 * matching stays O(key × pattern) as Redis' own matcher, whatever the number of stars.
 */
function regexpSource(tokens: Token[]): string {
  const segments: string[][] = [[]];
  for (const token of tokens) {
    if (token.kind === 'star') segments.push([]);
    else segments.at(-1)!.push(tokenSource(token));
  }
  if (segments.length === 1) return `^${segments[0].join('')}$`;
  let source = `^${segments[0].join('')}`;
  let group = 0;
  for (const middle of segments.slice(1, -1)) {
    group++;
    source += `(?=([^]*?${middle.join('')}))(?:\\${group})`;
  }
  const last = segments.at(-1)!;
  // A trailing star leaves the end unconstrained: a prefix match is enough.
  return last.length === 0 ? source : `${source}[^]*${last.join('')}$`;
}

function compile(pattern: string): Compiled {
  const cached = compiledCache.get(pattern);
  if (cached !== undefined) return cached;
  const regexp = new RegExp(regexpSource(parse(pattern)));
  const emptyMatches = pattern === '' || pattern === '*';
  const matcher =
    pattern === '*'
      ? () => true // KEYS and SCAN skip matching for a lone `*`: every key, the empty one too.
      : (key: string) => (key === '' ? emptyMatches : regexp.test(toByteString(key)));
  const compiled = { regexp, matcher };
  if (compiledCache.size >= CACHE_LIMIT) compiledCache.delete(compiledCache.keys().next().value!);
  compiledCache.set(pattern, compiled);
  return compiled;
}

/**
 * Compiles a Redis glob pattern to a `RegExp` over the key's UTF-8 bytes, one char per
 * byte (`Buffer.from(key).toString('latin1')`) — for an ASCII key, the key itself. Prefer
 * {@link globMatcher}, which does that conversion and handles the empty key as Redis.
 * The result is cached and shared: it has no `g`/`y` flag, so it holds no state.
 *
 * @example
 * globToRegExp('user:*').test('user:42'); // true
 * globToRegExp('h[^e]llo').test('hallo'); // true
 */
export function globToRegExp(pattern: string): RegExp {
  return compile(pattern).regexp;
}

/**
 * A predicate that says whether a key matches a Redis glob pattern, exactly as Redis'
 * `KEYS` and `SCAN … MATCH` decide (`*`, `?`, `[abc]`, `[^a]`, `[a-c]`, `\` escapes).
 * Compiled patterns are cached (the last 256).
 *
 * @example
 * const match = globMatcher('session:[0-9]*');
 * match('session:7f'); // true
 * match('session:x');  // false
 */
export function globMatcher(pattern: string): (key: string) => boolean {
  return compile(pattern).matcher;
}

/**
 * Escapes `*`, `?`, `[`, `]` and `\` so a literal string matches only itself — a
 * user-provided key is never interpreted as a pattern.
 *
 * @example
 * const pattern = `${escapeGlob(userKey)}:*`; // 'a*b' → 'a\*b:*'
 */
export function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, '\\$&');
}
