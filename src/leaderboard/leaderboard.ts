/**
 * The `Leaderboard` facade (DESIGN §4.7): names, validation, windows and the first-achiever
 * encoding live here, once; a store (memory or Redis) keeps the sorted sets. Every method is
 * one store call — one round trip on Redis — and a bad input throws before anything is sent.
 */
import { parseDuration } from '../config/duration.js';
import type { Duration } from '../config/types.js';
import { ConfigError, describeValue, LeaderboardError } from '../errors.js';
import {
  DEFAULT_MAX_SCORE,
  decode,
  type LeaderboardEntry,
  radixFor,
  rankAll,
  rankSlice,
  TWO_53,
} from './scoring.js';
import type { Aggregate, BoardShape, BucketKeys, LeaderboardStore, Ranking } from './store.js';
import {
  type Bucket,
  bucketOf,
  type LeaderboardWindow,
  lastBuckets,
  WINDOW_LENGTH,
  WINDOWS,
} from './windows.js';

/** How equal scores are ordered: by member (Redis' own order), or earliest first. */
export type Ties = 'lexical' | 'first-achiever';

/**
 * Options of `larder.leaderboard(name, options)`. A board's options are part of the board:
 * open it with the same `order`, `ties`, `ranking` and `maxScore` everywhere.
 *
 * @example
 * larder.leaderboard('best-sellers', { window: 'weekly' });
 * larder.leaderboard('speedrun', { order: 'asc', ties: 'first-achiever', ranking: 'competition' });
 */
export interface LeaderboardOptions {
  /** One bucket per UTC day, ISO week or month, each expiring on its own. @default all-time */
  window?: LeaderboardWindow;
  /** `desc`: higher scores rank first; `asc`: lower scores (times, golf). @default 'desc' */
  order?: 'desc' | 'asc';
  /**
   * `lexical`: equal scores are ordered by member, as Redis orders them (reversed on a
   * `desc` board, as ZREVRANGE lists them). `first-achiever`: the member that reached the
   * score earlier ranks higher; scores must then be integers within ±`maxScore`.
   * @default 'lexical'
   */
  ties?: Ties;
  /** Ranks of equal scores: 1,2,3,4 (`ordinal`), 1,2,2,3 (`dense`), 1,2,2,4 (`competition`). @default 'ordinal' */
  ranking?: Ranking;
  /** Refuse any `add` or `incr` that moves a score by more than this (a new member starts at 0). */
  maxDelta?: number;
  /**
   * First-achiever boards only: the largest |score|. Each bucket then takes
   * ⌊2^53 / (maxScore + 1)⌋ writes (2^32 with the default).
   * @default 2097151 (2^21 − 1)
   */
  maxScore?: number;
  /** How long a finished bucket is kept, for `at()` and `combine()`. @default one window: 1d, 7d or 31d */
  retain?: Duration;
  /** Key prefix: keys are `<prefix>:{<name>}:<bucket>`. @default 'lb' */
  prefix?: string;
  /** The clock for windows, epoch ms (tests; the memory store expires buckets by it too). @default Date.now */
  now?: () => number;
}

/**
 * Options of `combine`.
 *
 * @example await board.combine(7, { aggregate: 'sum', ttl: 300 });
 */
export interface CombineOptions {
  /** How a member's scores merge across buckets. @default 'sum' */
  aggregate?: Aggregate;
  /** How long the combined board is kept (it is a stored copy). @default 60 s */
  ttl?: Duration;
}

/** Most entries one listing returns (`top`, a `page`, `around`); most members `friends` takes. */
export const MAX_LISTING = 1000;
export const MAX_FRIENDS = 10_000;
/** Most buckets one `combine` merges (a year of days). */
export const MAX_COMBINE = 366;
const MAX_MEMBER_LENGTH = 512;
const NAME = /^[A-Za-z0-9_.:@-]{1,100}$/;
const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

const oneOf = (values: readonly unknown[]) => `one of ${values.map((v) => `'${v}'`).join(', ')}`;

/** A derived board: one bucket (`at`) or a combined copy (read-only). */
interface Pin {
  bucket?: Bucket;
  key?: string;
  readOnly?: boolean;
  label?: string;
}

/**
 * A sorted-set leaderboard: `larder.leaderboard(name, options)`.
 *
 * @example
 * const board = larder.leaderboard('best-sellers', { window: 'weekly' });
 * await board.incr('sku-42', 3);
 * const top = await board.top(10);       // [{ member: 'sku-42', score: 3, rank: 1 }, …]
 * const mine = await board.rank('sku-42'); // 1
 */
export class Leaderboard {
  /** The board's name (the `{hash tag}` of its keys). */
  readonly name: string;
  readonly window: LeaderboardWindow | undefined;
  readonly order: 'desc' | 'asc';
  readonly ties: Ties;
  readonly ranking: Ranking;
  readonly maxDelta: number | undefined;
  readonly maxScore: number | undefined;
  readonly #store: LeaderboardStore;
  readonly #shape: BoardShape;
  readonly #base: string;
  readonly #now: () => number;
  readonly #retainMs: number;
  readonly #pin: Pin;
  readonly #options: LeaderboardOptions;

  constructor(name: string, options: LeaderboardOptions, store: LeaderboardStore, pin: Pin = {}) {
    const at = `leaderboard(${describeValue(name)})`;
    if (typeof name !== 'string' || !NAME.test(name))
      throw new ConfigError(at, name, 'a board name of 1–100 letters, digits, _ . : @ or - (no braces)');
    if (options === null || typeof options !== 'object')
      throw new ConfigError(at, options, 'an options object');
    const check = <T>(field: keyof LeaderboardOptions, allowed: readonly T[], fallback: T): T => {
      const value = options[field];
      if (value === undefined) return fallback;
      if (!allowed.includes(value as T)) throw new ConfigError(`${at}.${field}`, value, oneOf(allowed));
      return value as T;
    };
    this.window = check<LeaderboardWindow | undefined>('window', WINDOWS, undefined);
    this.order = check('order', ['desc', 'asc'] as const, 'desc');
    this.ties = check('ties', ['lexical', 'first-achiever'] as const, 'lexical');
    this.ranking = check('ranking', ['ordinal', 'dense', 'competition'] as const, 'ordinal');
    if (options.maxDelta !== undefined && !(typeof options.maxDelta === 'number' && options.maxDelta >= 0))
      throw new ConfigError(
        `${at}.maxDelta`,
        options.maxDelta,
        'a number >= 0 (the largest change one update may make)',
      );
    this.maxDelta = options.maxDelta;
    if (options.maxScore !== undefined) {
      if (this.ties !== 'first-achiever')
        throw new ConfigError(
          `${at}.maxScore`,
          options.maxScore,
          "nothing: maxScore applies to ties: 'first-achiever' only",
        );
      if (!Number.isInteger(options.maxScore) || options.maxScore < 1 || radixFor(options.maxScore) < 1024)
        throw new ConfigError(
          `${at}.maxScore`,
          options.maxScore,
          `an integer from 1 to ${Math.floor(TWO_53 / 1024) - 1}`,
        );
    }
    this.maxScore = this.ties === 'first-achiever' ? (options.maxScore ?? DEFAULT_MAX_SCORE) : undefined;
    const prefix = options.prefix ?? 'lb';
    if (typeof prefix !== 'string' || !PREFIX.test(prefix))
      throw new ConfigError(`${at}.prefix`, prefix, 'a prefix of 1–64 letters, digits, _ . : or -');
    if (options.retain !== undefined && this.window === undefined)
      throw new ConfigError(
        `${at}.retain`,
        options.retain,
        'nothing: retain applies to boards with a window',
      );
    this.#retainMs = this.window
      ? options.retain === undefined
        ? WINDOW_LENGTH[this.window]
        : (parseDuration(options.retain, `${at}.retain`) as number)
      : 0;
    if (options.now !== undefined && typeof options.now !== 'function')
      throw new ConfigError(`${at}.now`, options.now, 'a function returning epoch milliseconds');
    this.name = name;
    this.#store = store;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#base = `${prefix}:{${name}}`;
    this.#pin = pin;
    this.#shape = {
      desc: this.order === 'desc',
      radix: this.maxScore === undefined ? 0 : radixFor(this.maxScore),
      maxScore: this.maxScore ?? 0,
      ranking: this.ranking,
    };
  }

  /** The id of the bucket that holds `when` (default: now), e.g. `2026-W48`; undefined without a window. */
  bucket(when?: Date | number): string | undefined {
    if (this.#pin.label) return this.#pin.label;
    if (!this.window) return undefined;
    return (
      when === undefined
        ? (this.#pin.bucket ?? this.#bucketAt(this.#now()))
        : this.#bucketAt(this.#time(when))
    ).id;
  }

  /**
   * This board as it was in the bucket that holds `when` (a window's past or future bucket).
   *
   * @example const lastWeek = await board.at(Date.now() - 7 * 86_400_000).top(3);
   */
  at(when: Date | number): Leaderboard {
    if (!this.window)
      throw this.#error('window', 'at() needs a board with a window (daily, weekly or monthly).');
    if (this.#pin.key) throw this.#error('read-only', 'at() is not available on a combined board.');
    return new Leaderboard(this.name, this.#options, this.#store, {
      bucket: this.#bucketAt(this.#time(when)),
    });
  }

  /**
   * Sets `member`'s score. Returns the score stored.
   *
   * @throws {LeaderboardError} for a bad member or score, over `maxDelta`, out of range
   * @example await board.add('alice', 1200);
   */
  async add(member: string, score: number): Promise<number> {
    this.#member(member);
    this.#score(score, 'score');
    return this.#write({ mode: 'set', member, value: score === 0 ? 0 : score, maxDelta: this.maxDelta });
  }

  /**
   * Adds `delta` (default 1) to `member`'s score (a new member starts at 0); returns the new score.
   *
   * @example const sold = await board.incr('sku-42', quantity);
   */
  async incr(member: string, delta = 1): Promise<number> {
    this.#member(member);
    this.#score(delta, 'delta');
    if (this.maxDelta !== undefined && Math.abs(delta) > this.maxDelta) {
      throw this.#error(
        'max-delta',
        `incr(${describeValue(member)}, ${delta}) moves the score by more than maxDelta (${this.maxDelta}); nothing was written. ` +
          'Split a legitimate large change, or raise maxDelta.',
      );
    }
    return this.#write({ mode: 'incr', member, value: delta === 0 ? 0 : delta, maxDelta: this.maxDelta });
  }

  /** Removes `member`; true if it was on the board. */
  async remove(member: string): Promise<boolean> {
    this.#member(member);
    const keys = this.#keys(true);
    return this.#store.remove(keys, this.#shape, member, this.#now());
  }

  /** `member`'s score, or undefined when it is not on the board. */
  async score(member: string): Promise<number | undefined> {
    this.#member(member);
    const stored = await this.#store.score(this.#keys(), member, this.#now());
    return stored === undefined ? undefined : decode(stored, this.#shape);
  }

  /** `member`'s 1-based rank under the board's `ranking`, or undefined when absent. */
  async rank(member: string): Promise<number | undefined> {
    this.#member(member);
    return this.#store.rank(this.#keys(), this.#shape, member, this.#now());
  }

  /**
   * The best `n` entries (default 10, at most 1000), best first.
   *
   * @example for (const { member, score, rank } of await board.top(10)) console.log(rank, member, score);
   */
  async top(n = 10): Promise<LeaderboardEntry[]> {
    this.#count(n, 'top(n)', 0, MAX_LISTING);
    if (n === 0) return [];
    return rankSlice(await this.#store.range(this.#keys(), this.#shape, 0, n - 1, this.#now()), this.#shape);
  }

  /**
   * Page `n` (1-based) of `size` entries (default 10, at most 1000); `[]` past the end.
   *
   * @example const second = await board.page(2, 20); // ranks 21–40
   */
  async page(n: number, size = 10): Promise<LeaderboardEntry[]> {
    this.#count(n, 'page(n)', 1, Number.MAX_SAFE_INTEGER);
    this.#count(size, 'page(n, size)', 1, MAX_LISTING);
    const start = (n - 1) * size;
    if (start > Number.MAX_SAFE_INTEGER - size) return [];
    return rankSlice(
      await this.#store.range(this.#keys(), this.#shape, start, start + size - 1, this.#now()),
      this.#shape,
    );
  }

  /**
   * `member` and up to `radius` entries either side (default 5), clipped at the top and the
   * bottom of the board; `[]` when `member` is not on it.
   *
   * @example const neighbours = await board.around('alice', 2); // up to 5 entries
   */
  async around(member: string, radius = 5): Promise<LeaderboardEntry[]> {
    this.#member(member);
    this.#count(radius, 'around(member, radius)', 0, (MAX_LISTING - 1) / 2);
    return rankSlice(
      await this.#store.around(this.#keys(), this.#shape, member, radius, this.#now()),
      this.#shape,
    );
  }

  /** How many members the board has. */
  async count(): Promise<number> {
    return this.#store.count(this.#keys(), this.#now());
  }

  /** Empties the board (on a board with a window: the current or pinned bucket). */
  async reset(): Promise<void> {
    await this.#store.reset(this.#keys(true));
  }

  /**
   * The members of `members` that are on the board, ranked among themselves (a friends
   * board; ZINTERSTORE on Redis). At most 10,000 members; `limit` caps the result.
   *
   * @example const friends = await board.friends(['bob', 'carol', 'dave']);
   */
  async friends(members: Iterable<string>, options: { limit?: number } = {}): Promise<LeaderboardEntry[]> {
    const list = [...new Set(members)];
    if (list.length > MAX_FRIENDS)
      throw this.#error('argument', `friends() takes at most ${MAX_FRIENDS} members; got ${list.length}.`);
    for (const member of list) this.#member(member);
    const limit = options.limit ?? list.length;
    this.#count(limit, 'friends(members, { limit })', 0, MAX_FRIENDS);
    if (list.length === 0 || limit === 0) return [];
    return rankAll(await this.#store.among(this.#keys(), this.#shape, list, limit, this.#now()), this.#shape);
  }

  /**
   * Merges buckets of a windowed board into a read-only board (ZUNIONSTORE on Redis), kept
   * for `ttl`: the last `n` buckets (this one included), or the buckets holding the given times.
   *
   * @example
   * const daily = larder.leaderboard('points', { window: 'daily', retain: '7d' });
   * const lastSevenDays = await daily.combine(7);
   * await lastSevenDays.top(10);
   */
  async combine(
    buckets: number | Iterable<Date | number>,
    options: CombineOptions = {},
  ): Promise<Leaderboard> {
    if (!this.window)
      throw this.#error('window', 'combine() needs a board with a window (daily, weekly or monthly).');
    if (this.#pin.key) throw this.#error('read-only', 'combine() is not available on a combined board.');
    const aggregate = options.aggregate ?? 'sum';
    if (!['sum', 'max', 'min'].includes(aggregate))
      throw this.#error(
        'argument',
        `combine(): aggregate must be 'sum', 'max' or 'min'; got ${describeValue(aggregate)}.`,
      );
    if (aggregate === 'sum' && this.#shape.radix > 0) {
      throw this.#error(
        'argument',
        "combine() cannot sum first-achiever scores (their tie-breaks would add up); use aggregate 'max' or 'min'.",
      );
    }
    const ttlMs = parseDuration(options.ttl ?? 60, 'combine({ ttl })') as number;
    let chosen: Bucket[];
    if (typeof buckets === 'number') {
      this.#count(buckets, 'combine(n)', 1, MAX_COMBINE);
      chosen = lastBuckets(this.window, this.#pin.bucket?.start ?? this.#now(), buckets);
    } else {
      const byId = new Map<string, Bucket>();
      for (const when of buckets) {
        const bucket = this.#bucketAt(this.#time(when));
        byId.set(bucket.id, bucket);
      }
      chosen = [...byId.values()];
      if (chosen.length === 0 || chosen.length > MAX_COMBINE)
        throw this.#error('argument', `combine() takes 1 to ${MAX_COMBINE} buckets; got ${chosen.length}.`);
    }
    const label = `${aggregate}:${chosen.map((b) => b.id).join(',')}`;
    const dest = this.#keysFor(`${this.#base}:combined:${label}`);
    await this.#store.combine(
      dest,
      chosen.map((b) => this.#keysFor(`${this.#base}:${b.id}`)),
      this.#shape,
      aggregate,
      ttlMs,
      this.#now(),
    );
    return new Leaderboard(this.name, this.#options, this.#store, { key: dest.key, readOnly: true, label });
  }

  /** The keys this call reads or writes (`write`: refuse read-only and expired buckets). */
  #keys(write = false): BucketKeys {
    if (this.#pin.key) {
      if (write)
        throw this.#error('read-only', 'a combined board is read-only: write to the board it came from.');
      return this.#keysFor(this.#pin.key);
    }
    if (!this.window) return this.#keysFor(`${this.#base}:all`);
    const bucket = this.#pin.bucket ?? this.#bucketAt(this.#now());
    const keys = this.#keysFor(`${this.#base}:${bucket.id}`, bucket.end + this.#retainMs);
    if (write && keys.expireAt! <= this.#now()) {
      throw this.#error(
        'window',
        `bucket ${bucket.id} ended and its retention (retain) has passed; a write there would expire at once.`,
      );
    }
    return keys;
  }

  #keysFor(key: string, expireAt?: number): BucketKeys {
    return { key, aux: `${key}:scores`, seq: `${key}:seq`, expireAt };
  }

  async #write(op: {
    mode: 'set' | 'incr';
    member: string;
    value: number;
    maxDelta?: number;
  }): Promise<number> {
    const outcome = await this.#store.write(this.#keys(true), this.#shape, op, this.#now());
    if (outcome.ok) return outcome.score;
    const call = `${op.mode === 'set' ? 'add' : 'incr'}(${describeValue(op.member)}, ${op.value})`;
    switch (outcome.reason) {
      case 'max-delta':
        throw this.#error(
          'max-delta',
          `${call} would move the score from ${outcome.previous} to ${outcome.score}, more than maxDelta (${this.maxDelta}); ` +
            'nothing was written. Split a legitimate large change, or raise maxDelta.',
        );
      case 'range':
        throw this.#error(
          'range',
          `${call} would make the score ${outcome.score}, ${this.#rangeText()}; nothing was written.`,
        );
      default:
        throw this.#error(
          'sequence',
          `${call}: this bucket used all ${this.#shape.radix - 1} first-achiever tie-breaks; nothing was written. ` +
            'Reset the board, use a window, or lower maxScore (more tie-breaks per bucket).',
        );
    }
  }

  #rangeText(): string {
    return this.maxScore === undefined
      ? 'which is not a finite number'
      : `outside ±${this.maxScore} (maxScore of this first-achiever board)`;
  }

  #bucketAt(t: number): Bucket {
    return bucketOf(this.window!, t);
  }

  #time(when: Date | number): number {
    const t = when instanceof Date ? when.getTime() : when;
    if (typeof t !== 'number' || !Number.isFinite(t))
      throw this.#error('argument', `expected a Date or epoch milliseconds; got ${describeValue(when)}.`);
    return t;
  }

  #member(member: unknown): asserts member is string {
    if (
      typeof member !== 'string' ||
      member.length === 0 ||
      member.length > MAX_MEMBER_LENGTH ||
      !member.isWellFormed()
    ) {
      throw this.#error(
        'member',
        `member ${describeValue(member)} is not a member name: use a non-empty string of at most ${MAX_MEMBER_LENGTH} characters ` +
          '(well-formed Unicode), such as a user id.',
      );
    }
  }

  #score(value: unknown, what: 'score' | 'delta'): asserts value is number {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw this.#error(
        'score',
        `the ${what} must be a finite number; got ${describeValue(value)}. Nothing was written.`,
      );
    if (this.maxScore !== undefined && (!Number.isInteger(value) || Math.abs(value) > this.maxScore)) {
      throw this.#error(
        'range',
        `the ${what} ${value} is not an integer within ±${this.maxScore}: a first-achiever board stores integer scores ` +
          'in that range (scale fractional scores, e.g. cents; or raise maxScore). Nothing was written.',
      );
    }
  }

  #count(value: unknown, what: string, min: number, max: number): asserts value is number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
      throw this.#error(
        'argument',
        `${what} must be an integer from ${min} to ${max}; got ${describeValue(value)}.`,
      );
  }

  #error(reason: string, message: string): LeaderboardError {
    const where = this.#pin.label ?? this.#pin.bucket?.id;
    return new LeaderboardError(where ? `${this.name} [${where}]` : this.name, reason, message);
  }
}
