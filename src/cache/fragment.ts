/**
 * @module larder/cache/fragment — template fragment caching, as Django's
 * `make_template_fragment_key` and `{% cache %}` tag: the key maker, the `cacheFragment`
 * helper, and the engine-neutral half of the Nunjucks and LiquidJS tags.
 *
 * Keys are byte-for-byte Django's (`template.cache.<name>.<md5>`), so a Django app and a
 * Node app sharing one Redis can read and invalidate each other's fragments as long as
 * their vary-on values are strings, integers, booleans or null (see {@link pythonStr}).
 */
import { createHash } from 'node:crypto';
import { parseDuration } from '../config/duration.js';
import { ConfigError, describeValue, LarderError } from '../errors.js';
import type { Cache, Timeout } from './cache.js';

/**
 * Django's cache key for a template fragment: `template.cache.<name>.<hexdigest>`, where
 * the digest is the MD5 of each vary-on value as text, UTF-8, each followed by `':'` (the
 * MD5 of nothing with no vary-on values). Values become text as Python's `str()` would
 * make them ({@link pythonStr}), so `5` and `'5'` give the same key, as in Django.
 *
 * Like Django, the separator is not escaped: `['abc:def']` and `['abc', 'def']` share a key.
 *
 * @param fragmentName the name in `{% cache 500 sidebar %}` (`'sidebar'`)
 * @param varyOn the values the fragment varies on (`[user.id]`)
 * @example
 * makeFragmentKey('a.fragment');   // 'template.cache.a.fragment.d41d8cd98f00b204e9800998ecf8427e'
 * makeFragmentKey('foo', ['abc']); // 'template.cache.foo.493e283d571a73056196f1a68efd0f66'
 * await larder.cache().delete(makeFragmentKey('sidebar', [user.id])); // invalidate one user's sidebar
 */
export function makeFragmentKey(fragmentName: string, varyOn?: readonly unknown[]): string {
  // Django: md5(usedforsecurity=False) — a key digest, not a secret.
  const hasher = createHash('md5');
  if (varyOn) {
    for (const value of varyOn) {
      hasher.update(pythonStr(value), 'utf8');
      hasher.update(':');
    }
  }
  return `template.cache.${fragmentName}.${hasher.digest('hex')}`;
}

/**
 * A JS value as Python's `str()` writes it, which is what Django hashes for a vary-on value:
 *
 * | JS value | text | as Python |
 * | --- | --- | --- |
 * | string | itself | `str` |
 * | integer `number` (any magnitude), `bigint` | decimal digits, no exponent (`-0` → `'0'`) | `int` |
 * | other `number` | Python's float repr: `'2.5'`, `'1e-05'`, `'nan'`, `'inf'` | `float` |
 * | `true` / `false` | `'True'` / `'False'` | `bool` |
 * | `null` / `undefined` | `'None'` | `None` |
 * | `Date` | ISO 8601 (`toISOString()`), `'Invalid Date'` | — |
 * | object with its own `toString` (a class instance, `URL`, …) | `String(value)` | `__str__` |
 * | array, plain object | `JSON.stringify` (larder's choice: Python's `repr` quoting is not JSON) | — |
 *
 * Strings, integers, booleans and null give exactly Django's keys; the rest are stable
 * within larder but do not match a Django app's keys.
 *
 * @example
 * pythonStr(5);       // '5'
 * pythonStr(true);    // 'True'
 * pythonStr(null);    // 'None'
 * pythonStr(0.00001); // '1e-05'
 */
export function pythonStr(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return pythonNumber(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'True' : 'False';
    case 'undefined':
      return 'None';
    case 'symbol':
      return value.toString();
    case 'function':
      return String(value);
  }
  if (value === null) return 'None';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  const object = value as object;
  if (
    !Array.isArray(object) &&
    typeof (object as { toString?: unknown }).toString === 'function' &&
    (object as { toString: unknown }).toString !== Object.prototype.toString
  ) {
    return String(object);
  }
  try {
    return JSON.stringify(object, (_key, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'None';
  } catch {
    // A cycle: no stable text, but never an exception from a key maker.
    return Object.prototype.toString.call(object);
  }
}

function pythonNumber(value: number): string {
  if (Number.isInteger(value)) return BigInt(value).toString();
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  // Python's repr(float) and JS share the shortest round-trip digits but not the layout:
  // Python switches to an exponent below 1e-4 (JS: 1e-6) and pads it to two digits. A
  // non-integer is below 2**53, so the large-exponent side never arises here.
  const [mantissa, exponentText] = value.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent >= -4) return String(value);
  const digits = String(Math.abs(exponent)).padStart(2, '0');
  return `${mantissa}e-${digits}`;
}

/** Options of {@link cacheFragment}. @example await cacheFragment(cache, 'nav', [], 60, render, { tags: ['menu'] }) */
export interface CacheFragmentOptions {
  /** Tags to store the fragment under, for `cache.invalidateTags`. */
  tags?: string[];
}

/**
 * The fragment `name` for `varyOn`, from `cache` when it is there; otherwise `render()` runs
 * and its output is stored for `timeout` (Django's `{% cache %}`, as a helper to call from
 * a handler). Concurrent misses in one process share one render (`cache.getOrSet`).
 *
 * @param timeout seconds or a duration (`'15m'`); `null` = never expires; 0 or negative =
 *   not cached at all: `render()` runs on every call and the cache is neither read nor written
 * @throws {ConfigError} for a timeout that is not a duration, before anything renders
 * @example
 * const html = await cacheFragment(larder.cache(), 'sidebar', [user.id], '15m', () =>
 *   renderSidebar(user),
 * );
 */
export async function cacheFragment(
  cache: Cache,
  name: string,
  varyOn: readonly unknown[],
  timeout: Timeout,
  render: () => string | Promise<string>,
  options: CacheFragmentOptions = {},
): Promise<string> {
  // Checked before rendering, so a bad timeout fails fast instead of after the work.
  const ms = parseDuration(timeout, 'timeout', { allowNull: true, allowZeroOrNegative: true });
  if (ms !== null && ms <= 0) return render();
  const key = makeFragmentKey(name, varyOn);
  // An async wrapper, so a render that throws synchronously still rejects after getOrSet has
  // registered its in-flight load (else the failed load stays registered for the key).
  return cache.getOrSet<string>(key, async () => render(), { timeout, tags: options.tags });
}

/**
 * The parse-time message of a `{% cache %}` tag with fewer than two arguments (Django's
 * `'cache' tag requires at least 2 arguments`), shared by the Nunjucks and LiquidJS tags.
 *
 * @example throw new Error(CACHE_TAG_ARGUMENTS_MESSAGE)
 */
export const CACHE_TAG_ARGUMENTS_MESSAGE =
  "'cache' tag requires at least 2 arguments: a timeout and a fragment name, " +
  'as in {% cache 500 sidebar %}…{% endcache %}';

/**
 * Where a `{% cache %}` tag finds its caches: a `Larder` has this shape.
 *
 * @example const source: FragmentCacheSource = larder;
 */
export interface FragmentCacheSource {
  cache(name: string): Cache;
  readonly config: { readonly caches: Readonly<Record<string, unknown>> };
}

/**
 * Options of the `{% cache %}` tags (`installCacheTag`).
 *
 * @example installCacheTag(env, larder, { defaultCache: 'fragments' });
 */
export interface CacheTagOptions {
  /**
   * The cache a tag without `using=` stores in.
   * @default 'template_fragments' when that cache is configured (Django), else 'default'
   */
  defaultCache?: string;
}

/**
 * What a template engine's `{% cache %}` tag resolved, handed to {@link createCacheTagRenderer}.
 *
 * @example
 * const call: CacheTagCall = { timeout: 500, name: 'sidebar', varyOn: ['alice'], using: 'other', render: () => body() };
 */
export interface CacheTagCall {
  /** The timeout expression's value (seconds, a duration string, `null`). */
  timeout: unknown;
  /** The fragment name, as written in the template (never resolved as a variable). */
  name: string;
  /** The vary-on values; `undefined` (a missing variable) counts as `''`, as in Django. */
  varyOn: unknown[];
  /** `using=`'s value, or `undefined` when absent. */
  using?: unknown;
  /** `tags=`'s value (a string, comma-separated, or an array of strings), or `undefined`. */
  tags?: unknown;
  /** Renders the tag's body; called only on a miss. */
  render: () => string | Promise<string>;
}

/**
 * The engine-neutral half of the `{% cache %}` tags: checks a call's timeout, picks its cache
 * and runs {@link cacheFragment}. Errors are render-time `LarderError`s with Django's words.
 * The default cache is chosen (and checked) once, here.
 *
 * @throws {ConfigError} when `options.defaultCache` names no configured cache
 * @example
 * const renderTag = createCacheTagRenderer(larder);
 * const html = await renderTag({ timeout: 500, name: 'sidebar', varyOn: [user.id], render: body });
 */
export function createCacheTagRenderer(
  source: FragmentCacheSource,
  options: CacheTagOptions = {},
): (call: CacheTagCall) => Promise<string> {
  const caches = source.config.caches;
  const configured = () =>
    Object.keys(caches)
      .map((n) => `'${n}'`)
      .join(', ');
  let defaultName = options.defaultCache;
  if (defaultName === undefined) {
    defaultName = Object.hasOwn(caches, 'template_fragments') ? 'template_fragments' : 'default';
  } else if (!Object.hasOwn(caches, defaultName)) {
    throw new ConfigError('defaultCache', defaultName, `one of the configured caches: ${configured()}`);
  }
  const fallback = defaultName;

  function pickCache(using: unknown): Cache {
    if (using === undefined || using === null) return source.cache(fallback);
    if (typeof using !== 'string' || !Object.hasOwn(caches, using)) {
      throw new LarderError(
        `Invalid cache name specified for cache tag: ${describeValue(using)}. ` +
          `Use one of the configured caches: ${configured()}.`,
      );
    }
    return source.cache(using);
  }

  return async function renderCacheTag(call: CacheTagCall): Promise<string> {
    const timeout = tagTimeout(call.timeout);
    const cache = pickCache(call.using);
    const tags = tagList(call.tags);
    // Django resolves a missing vary-on variable to string_if_invalid, '' by default.
    const varyOn = call.varyOn.map((v) => (v === undefined ? '' : v));
    return cacheFragment(cache, call.name, varyOn, timeout, call.render, { tags });
  };
}

/** A tag's timeout as `cacheFragment` takes it, or Django's "non-integer timeout" error. */
function tagTimeout(value: unknown): Timeout {
  if (value === null) return null;
  const candidate = typeof value === 'string' ? value.trim() : value;
  if (typeof candidate === 'number' || (typeof candidate === 'string' && candidate !== '')) {
    try {
      parseDuration(candidate, 'timeout', { allowNull: true, allowZeroOrNegative: true });
      return candidate;
    } catch (error) {
      throw timeoutError(value, error);
    }
  }
  throw timeoutError(value);
}

function timeoutError(value: unknown, cause?: unknown): LarderError {
  return new LarderError(
    `tag 'cache' got a non-integer timeout value: ${describeValue(value)}. ` +
      "Use a number of seconds, a duration such as '15m', or null (never expires).",
    { cause },
  );
}

function tagList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') {
    return value
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '');
  }
  if (Array.isArray(value) && value.every((t) => typeof t === 'string')) return value;
  throw new LarderError(
    `tag 'cache' got tags=${describeValue(value)}. Use a string ('a,b') or an array of strings.`,
  );
}
