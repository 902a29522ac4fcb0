/**
 * @module larder/errors — every error larder throws, in one place.
 *
 * Each class has a stable `code` (safe to match on across versions), the context that
 * produced it as fields, and the underlying `cause` when there is one. Errors that can
 * reach an HTTP response carry the `status` the adapters render them with.
 */

/** Fields any larder error may carry; subclasses narrow them. */
export interface LarderErrorOptions {
  cause?: unknown;
  /** HTTP status an adapter answers with when this error reaches a response. */
  status?: number;
}

/**
 * Base class of every larder error.
 *
 * @example
 * try { await cache.incr('missing') } catch (e) {
 *   if (e instanceof LarderError && e.code === 'E_CACHE_MISS') { ... }
 * }
 */
export class LarderError extends Error {
  static readonly code: string = 'E_LARDER';
  readonly code: string;
  readonly status: number | undefined;

  constructor(message: string, options: LarderErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = (new.target as typeof LarderError).code;
    this.status = options.status;
  }

  /** A JSON body adapters can send (RFC 9457 problem details shape). */
  toProblem(): { type: string; title: string; status: number; detail: string; code: string } {
    return {
      type: `https://larder.dev/errors/${this.code.toLowerCase().replace(/^e_/, '').replaceAll('_', '-')}`,
      title: this.name,
      status: this.status ?? 500,
      detail: this.message,
      code: this.code,
    };
  }
}

/** A configuration value is wrong. `path` names the field (`caches.default.timeout`). */
export class ConfigError extends LarderError {
  static override readonly code = 'E_CONFIG';
  readonly path: string;
  readonly value: unknown;
  /** What would have been accepted, in words (`a number of seconds or '15m'`). */
  readonly expected: string;

  constructor(path: string, value: unknown, expected: string, options: LarderErrorOptions = {}) {
    super(
      `Invalid config at ${path || '(root)'}: got ${describeValue(value)}; expected ${expected}.`,
      options,
    );
    this.path = path;
    this.value = value;
    this.expected = expected;
  }
}

/** A cache key is unusable: too long, or with control characters. */
export class CacheKeyError extends LarderError {
  static override readonly code = 'E_CACHE_KEY';
  readonly key: string;
  constructor(key: string, reason: string, options: LarderErrorOptions = {}) {
    super(
      `Cache key ${describeValue(key.length > 80 ? `${key.slice(0, 80)}…` : key)} ${reason}. ` +
        'Use a shorter key without control characters, or turn on hashLongKeys.',
      options,
    );
    this.key = key;
  }
}

/** `incr`/`decr` on a key that is not in the cache (Django raises ValueError). */
export class CacheMissError extends LarderError {
  static override readonly code = 'E_CACHE_MISS';
  readonly key: string;
  constructor(key: string, operation: string, options: LarderErrorOptions = {}) {
    super(
      `Key '${key}' not found: ${operation} needs an existing key. Set it first (e.g. cache.add(key, 0)).`,
      options,
    );
    this.key = key;
  }
}

/** A stored value has the wrong type for the operation (`incr` on a string). */
export class CacheValueError extends LarderError {
  static override readonly code = 'E_CACHE_VALUE';
  readonly key: string;
  constructor(key: string, message: string, options: LarderErrorOptions = {}) {
    super(`Key '${key}': ${message}`, options);
    this.key = key;
  }
}

/** A cache lock could not be taken within its `blockingTimeout`. */
export class CacheLockError extends LarderError {
  static override readonly code = 'E_CACHE_LOCK';
  readonly lock: string;
  constructor(lock: string, options: LarderErrorOptions = {}) {
    super(
      `Lock '${lock}' is held by another holder; gave up after blockingTimeout. Retry later or raise blockingTimeout.`,
      options,
    );
    this.lock = lock;
  }
}

/**
 * `getOrSet`'s loader ran past `hardTimeout` and there was no stale value to serve. The load
 * goes on in the background and stores its value when it finishes. HTTP 503.
 */
export class CacheLoadTimeoutError extends LarderError {
  static override readonly code = 'E_CACHE_LOAD_TIMEOUT';
  readonly key: string;
  constructor(key: string, timeoutMs: number, options: LarderErrorOptions = {}) {
    super(
      `Key '${key}': the loader did not finish within hardTimeout (${timeoutMs} ms) and no stale value was ` +
        'kept. Raise hardTimeout, give the key a grace period to serve stale values, or make the loader faster.',
      { status: 503, ...options },
    );
    this.key = key;
  }
}

/**
 * Redis refused a cache command with an error of its own — the key holds another type
 * (`WRONGTYPE`), the server is out of memory (`OOM`), a script failed — rather than being
 * out of reach. `reply` is Redis' message.
 */
export class CacheCommandError extends LarderError {
  static override readonly code = 'E_CACHE_COMMAND';
  /** The cache's name. */
  readonly cache: string;
  /** The cache operation (`get`, `set`, …). */
  readonly operation: string;
  /** What Redis answered. */
  readonly reply: string;
  constructor(cache: string, operation: string, reply: string, options: LarderErrorOptions = {}) {
    super(`cache ${cache}: Redis refused ${operation}: ${reply}. ${adviceFor(reply)}`, options);
    this.cache = cache;
    this.operation = operation;
    this.reply = reply;
  }
}

function adviceFor(reply: string): string {
  if (reply.startsWith('WRONGTYPE'))
    return 'Another program stored a non-string value under this key: give this cache its own keyPrefix or database.';
  if (reply.startsWith('OOM'))
    return "The server reached maxmemory with a 'noeviction' policy: give a cache database a policy such as allkeys-lru, or raise maxmemory.";
  return 'Check the server log and the command it names.';
}

/** A value cannot be encoded, or stored bytes cannot be decoded. */
export class SerializationError extends LarderError {
  static override readonly code = 'E_SERIALIZATION';
}

/** A backend (a Redis server, usually) cannot be reached in time. HTTP 503. */
export class BackendUnavailableError extends LarderError {
  static override readonly code = 'E_BACKEND_UNAVAILABLE';
  /** The connection's name (`caches.default`, `redis://127.0.0.1:6379/0`). */
  readonly backend: string;
  constructor(backend: string, message: string, options: LarderErrorOptions = {}) {
    super(`${backend}: ${message}`, { status: 503, ...options });
    this.backend = backend;
  }
}

/** Session data went over `maxBytes`; nothing was stored. HTTP 413. */
export class SessionTooLargeError extends LarderError {
  static override readonly code = 'E_SESSION_TOO_LARGE';
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number, options: LarderErrorOptions = {}) {
    super(
      `Session data is ${size} bytes, over the ${limit}-byte limit (sessions.maxBytes); nothing was stored. ` +
        'Keep large data in the database and only its id in the session.',
      { status: 413, ...options },
    );
    this.size = size;
    this.limit = limit;
  }
}

/** The session was destroyed (logout, revoke) while this request was using it. HTTP 400. */
export class SessionInterruptedError extends LarderError {
  static override readonly code = 'E_SESSION_INTERRUPTED';
  constructor(
    message = 'The session was deleted before this request finished; its changes were not saved.',
    options: LarderErrorOptions = {},
  ) {
    super(message, { status: 400, ...options });
  }
}

/**
 * The session API was called wrongly: `login` without a user id, `setExpiry` with a value
 * it cannot keep, `cookieValue()` on a server-side engine, or `forUser` / `count` on an
 * engine that cannot list sessions. Thrown at the call, before anything changed; the message
 * says what to pass or which engine to use. A programming error: no HTTP status of its own.
 */
export class SessionUsageError extends LarderError {
  static override readonly code = 'E_SESSION_USAGE';
}

/**
 * A rate limit refused the call (`limiter.hit()`). HTTP 429, and it renders itself wherever
 * it is thrown: `headers` carries `Retry-After` as `http-errors` does, which Express's final
 * handler and Fastify's default error handler send; `getResponse()` is the 429 as
 * problem+json, which Hono's default error handler sends (as for its `HTTPException`).
 *
 * @example
 * app.use((error, _req, res, next) => {
 *   if (!(error instanceof RateLimitedError)) return next(error);
 *   res.status(429).set(error.headers).type('application/problem+json').send(JSON.stringify(error.toProblem()));
 * });
 */
export class RateLimitedError extends LarderError {
  static override readonly code = 'E_RATE_LIMITED';
  /** Seconds until a retry can succeed (fractional). */
  readonly retryAfter: number;
  /** `{ 'retry-after': <whole seconds, at least 1> }`: the headers a 429 for this error needs. */
  readonly headers: Readonly<Record<string, string>>;
  constructor(message: string, retryAfter: number, options: LarderErrorOptions = {}) {
    super(message, { status: 429, ...options });
    this.retryAfter = retryAfter;
    this.headers = Object.freeze({ 'retry-after': String(retryAfterSeconds(retryAfter)) });
  }

  /** The problem details, with `retryAfter` in whole seconds, as in the `Retry-After` header. */
  override toProblem(): ReturnType<LarderError['toProblem']> & { retryAfter: number } {
    return { ...super.toProblem(), retryAfter: retryAfterSeconds(this.retryAfter) };
  }

  /** The 429 as problem+json with `Retry-After` (Hono's `app.onError` sends this by default). */
  getResponse(): Response {
    return new Response(JSON.stringify(this.toProblem()), {
      status: this.status ?? 429,
      headers: {
        ...this.headers,
        'content-type': 'application/problem+json',
        'cache-control': 'no-store',
      },
    });
  }
}

/** `Retry-After`'s value for a wait of `seconds`: whole seconds rounded up, at least 1 (RFC 9110 §10.2.3). */
function retryAfterSeconds(seconds: number): number {
  return Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : 1;
}

/** A task did not finish within the time asked (`AsyncResult.get({ timeout })`, `timeLimit`). */
export class TaskTimeoutError extends LarderError {
  static override readonly code = 'E_TASK_TIMEOUT';
}

/** A task was revoked before it ran. */
export class TaskRevokedError extends LarderError {
  static override readonly code = 'E_TASK_REVOKED';
}

/**
 * A task was used wrongly: an unknown task name, a name defined twice, a bad option at
 * `define`, or bad arguments or options at `delay` / `applyAsync` (countdown, eta,
 * expires, jobId, payload that JSON cannot carry). Nothing was enqueued.
 */
export class TaskUsageError extends LarderError {
  static override readonly code = 'E_TASK_USAGE';
  /** The task's name, when the error is about one task. */
  readonly task: string | undefined;
  constructor(task: string | undefined, message: string, options: LarderErrorOptions = {}) {
    super(task === undefined ? message : `Task ${JSON.stringify(task)}: ${message}`, options);
    this.task = task;
  }
}

/**
 * A rate limiter was called wrongly: a key that is not a non-empty, well-formed string (a
 * lone UTF-16 surrogate would share a counter with others on Redis, which stores UTF-8), or
 * a cost that is not a whole number within the smallest limit. Nothing was counted. HTTP 400:
 * keys are often built from request input (a user name, an address).
 */
export class RateLimitUsageError extends LarderError {
  static override readonly code = 'E_RATELIMIT_USAGE';
  /** The limiter's name. */
  readonly limiter: string;
  constructor(limiter: string, message: string, options: LarderErrorOptions = {}) {
    super(`rateLimiter('${limiter}'): ${message}`, { status: 400, ...options });
    this.limiter = limiter;
  }
}

/**
 * A task ran and failed for good (its retries used up): what `AsyncResult.get()` throws.
 * `remoteName` is the class name of the error the handler threw (`'TypeError'`); in the
 * same process (the eager driver) `cause` is that error itself.
 */
export class TaskFailedError extends LarderError {
  static override readonly code = 'E_TASK_FAILED';
  readonly task: string;
  readonly id: string;
  readonly remoteName: string;
  readonly attempts: number;
  constructor(
    task: string,
    id: string,
    remoteName: string,
    remoteMessage: string,
    attempts: number,
    options: LarderErrorOptions = {},
  ) {
    super(
      `Task ${JSON.stringify(task)} (id ${id}) failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ` +
        `${remoteName}: ${remoteMessage}`,
      options,
    );
    this.task = task;
    this.id = id;
    this.remoteName = remoteName;
    this.attempts = attempts;
  }
}

/** Short, safe rendering of a value for messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'function') return 'a function';
  if (value === undefined) return 'undefined';
  try {
    const json = JSON.stringify(value);
    if (json === undefined) return String(value);
    return json.length > 120 ? `${json.slice(0, 120)}…` : json;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * A leaderboard refused a call: a bad member name, a non-finite or out-of-range score, an
 * update over `maxDelta`, a write on a combined (read-only) board. Nothing was written.
 *
 * @example
 * try { await board.incr('alice', 10_000) } catch (e) {
 *   if (e instanceof LeaderboardError && e.reason === 'max-delta') { ... }
 * }
 */
export class LeaderboardError extends LarderError {
  static override readonly code = 'E_LEADERBOARD';
  /** The board's name. */
  readonly board: string;
  /** Why: `member`, `score`, `range`, `max-delta`, `sequence`, `argument`, `read-only`, `window`. */
  readonly reason: string;
  constructor(board: string, reason: string, message: string, options: LarderErrorOptions = {}) {
    super(`leaderboard ${board}: ${message}`, { status: 400, ...options });
    this.board = board;
    this.reason = reason;
  }
}

/**
 * `larder.pubsub` refused a name: an empty or over-long channel, a control character in
 * it, or an event type SSE cannot carry. Nothing was published. HTTP 400.
 *
 * @example
 * try { await larder.pubsub.publish('', 'x') } catch (e) {
 *   if (e instanceof PubSubError) console.log(e.name, e.value);
 * }
 */
export class PubSubError extends LarderError {
  static override readonly code = 'E_PUBSUB';
  /** The value refused. */
  readonly value: unknown;
  constructor(value: unknown, message: string, options: LarderErrorOptions = {}) {
    super(`pubsub: ${describeValue(value)} ${message}`, { status: 400, ...options });
    this.value = value;
  }
}
