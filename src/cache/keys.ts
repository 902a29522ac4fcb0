/**
 * Key making and validation, as Django's `BaseCache.make_key` / `validate_key`:
 * `${keyPrefix}:${version}:${key}` by default (so `':1:k'` with no prefix), or a
 * `keyFunction(key, keyPrefix, version)`. Made keys longer than 250 bytes or holding
 * control characters raise `CacheKeyError`, or — with `hashLongKeys` — long keys are
 * replaced by a SHA-256 of the user key (control characters are always an error).
 */
import { createHash } from 'node:crypto';
import type { KeyFunction } from '../config/schema.js';
import { CacheKeyError, ConfigError, describeValue } from '../errors.js';
import { escapeGlob } from './glob.js';

/** Memcached's limit, which Django applies to every backend so keys stay portable. */
export const MAX_KEY_BYTES = 250;

// C0 controls and DEL. Django (for memcached) also refuses the space; Redis does not care,
// and keys such as 'product list' are common, so larder allows it.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f]/;

export interface KeyMakerOptions {
  keyPrefix: string;
  version: number;
  keyFunction?: KeyFunction;
  hashLongKeys: boolean;
}

/**
 * `keyPrefix` with `{region}` replaced (`'shop:{region}'` → `'shop:eu'`): the prefix a
 * cache's keys really start with. Everything that names this cache's keys in the store
 * (keys, patterns, the tiered cache's tracking prefix) must start from it.
 *
 * @example regionalPrefix('shop:{region}', 'eu') // 'shop:eu'
 */
export function regionalPrefix(prefix: string, region: string | undefined): string {
  return region === undefined ? prefix : prefix.replaceAll('{region}', region);
}

/** Makes and checks keys for one cache. */
export class KeyMaker {
  readonly keyPrefix: string;
  readonly version: number;
  readonly #keyFunction: KeyFunction | undefined;
  readonly #hashLongKeys: boolean;
  // Default-version prefix, built once: the hot path is one concatenation.
  readonly #head: string;

  constructor(options: KeyMakerOptions) {
    this.keyPrefix = options.keyPrefix;
    this.version = options.version;
    this.#keyFunction = options.keyFunction;
    this.#hashLongKeys = options.hashLongKeys;
    this.#head = `${this.keyPrefix}:${this.version}:`;
  }

  /** True when keys have the default `prefix:version:key` shape (so they can be stripped). */
  get isDefaultFormat(): boolean {
    return this.#keyFunction === undefined;
  }

  /**
   * The store key for a user key, validated.
   *
   * @example new KeyMaker({ keyPrefix: 'shop', version: 1, hashLongKeys: false }).make('k') // 'shop:1:k'
   */
  make(key: string, version?: number): string {
    if (typeof key !== 'string') {
      throw new CacheKeyError(String(key), `is a ${key === null ? 'null' : typeof key}, not a string`);
    }
    // A lone surrogate has no UTF-8 form: it would reach the store as U+FFFD, so two
    // different keys would share one entry.
    if (!key.isWellFormed())
      throw new CacheKeyError(key, 'is not well-formed Unicode (it has a lone surrogate)');
    const made = this.#raw(key, version);
    // Fast path: at most 3 bytes per UTF-16 unit, so short keys cannot exceed the limit.
    if (made.length * 3 <= MAX_KEY_BYTES || Buffer.byteLength(made) <= MAX_KEY_BYTES) {
      if (CONTROL.test(made)) throw new CacheKeyError(key, 'contains control characters');
      return made;
    }
    if (CONTROL.test(key)) throw new CacheKeyError(key, 'contains control characters');
    if (!this.#hashLongKeys) {
      throw new CacheKeyError(
        key,
        `is ${Buffer.byteLength(made)} bytes once prefixed (the limit is ${MAX_KEY_BYTES})`,
      );
    }
    return this.#raw(`#${createHash('sha256').update(key).digest('hex')}`, version);
  }

  /** A store-side glob for a user glob (`pattern` keeps its wildcards; the prefix is escaped). */
  pattern(pattern: string, version?: number | '*'): string {
    const v = version ?? this.version;
    // A custom keyFunction decides the shape; with every version asked, its current one is used.
    if (this.#keyFunction) return this.#keyFunction(pattern, this.keyPrefix, v === '*' ? this.version : v);
    return `${escapeGlob(this.keyPrefix)}:${v}:${pattern}`;
  }

  /** The user key inside a made key (default format only); `undefined` if it isn't ours. */
  strip(made: string, version?: number): string | undefined {
    const head = version === undefined || version === null ? this.#head : `${this.keyPrefix}:${version}:`;
    return made.startsWith(head) ? made.slice(head.length) : undefined;
  }

  #raw(key: string, version: number | undefined): string {
    // `null` is the default version, as Django's version=None (and as `pattern` reads it).
    if (version === undefined || version === null || version === this.version) {
      return this.#keyFunction ? this.#custom(key, this.version) : this.#head + key;
    }
    // A version that is not a whole number (1.5, NaN, '2') would make a key `clear()` cannot
    // match (it deletes `prefix:<integer>:*` only), so the value would outlive every clear.
    if (!Number.isSafeInteger(version)) {
      throw new ConfigError('version', version, 'a whole number (the key version), or undefined');
    }
    if (this.#keyFunction) return this.#custom(key, version);
    return `${this.keyPrefix}:${version}:${key}`;
  }

  /** The user's keyFunction, whose answer must be a string (a number would reach the store as another key). */
  #custom(key: string, version: number): string {
    const made: unknown = this.#keyFunction!(key, this.keyPrefix, version);
    if (typeof made !== 'string') {
      throw new CacheKeyError(
        key,
        `was made into ${describeValue(made)} by keyFunction, which must return a string`,
      );
    }
    return made;
  }
}
