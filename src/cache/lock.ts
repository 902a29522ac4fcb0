/**
 * A lock kept in a cache's store (django-redis `cache.lock`): the key holds a random
 * token and expires after `timeout`, so a crashed holder cannot block others forever;
 * `release` deletes the key only if it still holds this holder's token (a holder whose
 * lock expired and was taken by someone else cannot release theirs).
 *
 * Waiting polls with a capped backoff here; the tiered cache's stampede protection wakes
 * waiters by notification instead (docs/cache.md).
 */
import { randomBytes } from 'node:crypto';
import { parseDuration } from '../config/duration.js';
import { CacheLockError } from '../errors.js';
import type { CacheBackend, Payload } from './backend.js';
import type { Codec } from './codec.js';

export interface LockOptions {
  /** How long the lock is held at most (seconds or a duration string). @default 60 */
  timeout?: number | string;
  /** How long `acquire` waits for a held lock; 0 = don't wait. @default 10 */
  blockingTimeout?: number | string;
}

/**
 * @example
 * const lock = cache.lock('nightly-report', { timeout: 300, blockingTimeout: 0 });
 * if (await lock.acquire()) {
 *   try { await buildReport(); } finally { await lock.release(); }
 * }
 */
export class CacheLock {
  readonly key: string;
  readonly #backend: CacheBackend;
  readonly #token: Payload;
  readonly #ttl: number;
  readonly #wait: number;
  #held = false;

  constructor(backend: CacheBackend, key: string, codec: Codec, options: LockOptions) {
    this.key = key;
    this.#backend = backend;
    this.#token = codec.encode(randomBytes(16).toString('base64url'));
    this.#ttl = parseDuration(options.timeout ?? 60, 'lock.timeout') as number;
    this.#wait = parseDuration(options.blockingTimeout ?? 10, 'lock.blockingTimeout', {
      allowZeroOrNegative: true,
    }) as number;
  }

  /** True while this holder believes it holds the lock (it may have expired since). */
  get held(): boolean {
    return this.#held;
  }

  /** Takes the lock, waiting up to `blockingTimeout`; returns whether it got it. */
  async acquire(): Promise<boolean> {
    const giveUpAt = Date.now() + Math.max(0, this.#wait);
    let pause = 5;
    for (;;) {
      if (await this.#backend.add(this.key, this.#token, this.#ttl)) {
        this.#held = true;
        return true;
      }
      const left = giveUpAt - Date.now();
      if (left <= 0) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      pause = Math.min(pause * 2, 200);
    }
  }

  /** Releases the lock if this holder still owns it; returns whether it did. */
  async release(): Promise<boolean> {
    if (!this.#held) return false;
    this.#held = false;
    return this.#backend.deleteIfEquals(this.key, this.#token);
  }

  /** Runs `fn` under the lock; throws if the lock could not be taken in time. */
  async withLock<T>(fn: () => Promise<T> | T): Promise<T> {
    if (!(await this.acquire())) {
      throw new CacheLockError(this.key);
    }
    try {
      return await fn();
    } finally {
      await this.release();
    }
  }
}
