/**
 * The brute-force guard for a login form: rate-limiter-flexible's "login endpoint
 * protection" recipe on two `larder.rateLimiter`s — consecutive failures per user name +
 * client address (cleared by a success), and a slower limit on failures per address.
 */
import { isIP } from 'node:net';
import { ConfigError, RateLimitUsageError } from '../errors.js';
import { ipSubject } from '../http/client-ip.js';
import type { Larder } from '../larder.js';
import { createDerivedRateLimiter, type RateLimiterSpec } from './create.js';
import { normalizeRule, type RateLimiter, type RateLimitResult } from './limiter.js';

/** One of the guard's two limits: `limit` failures per `window` (seconds, or `'15m'`). */
export interface LoginLimit {
  limit: number;
  window: number | string;
}

/**
 * Options of {@link createLoginGuard}. `location`, `prefix`, `insurance`, `failOpen` and `now`
 * are `larder.rateLimiter`'s, applied to both limiters.
 *
 * @example
 * { perUserAndIp: { limit: 5, window: '15m' }, perIp: { limit: 100, window: '1d' } }
 */
export interface LoginGuardOptions
  extends Pick<RateLimiterSpec, 'location' | 'prefix' | 'insurance' | 'failOpen' | 'now'> {
  /**
   * Names the limiters `<name>/user-ip` and `<name>/ip` (in keys and metrics). The `/` keeps
   * them apart from every limit the app names (which cannot hold one): a configured limit
   * `login-ip` is a counter of its own. @default 'login'
   */
  name?: string;
  /**
   * Failed sign-ins for one user name from one address, counted from the first failure;
   * a success clears them. @default { limit: 5, window: '15m' }
   */
  perUserAndIp?: LoginLimit;
  /**
   * Failed sign-ins from one address, whatever the user name: slows down one address trying
   * many names. Never cleared by a success. @default { limit: 100, window: '1d' }
   */
  perIp?: LoginLimit;
}

/** What the guard answers; times in seconds (fractional, as in `RateLimitResult`). */
export interface LoginCheck {
  /** `check`: this attempt may go ahead. `failed`: a next attempt may. */
  allowed: boolean;
  /** Seconds until an attempt could go ahead; 0 when allowed. */
  retryAfter: number;
  /** Failures still allowed before the guard blocks (the tighter of the two limits). */
  remaining: number;
}

/** The guard: ask before checking the password, report the outcome after. */
export interface LoginGuard {
  /** Whether an attempt may go ahead, consuming nothing. Call it before checking the password. */
  check(username: string, ip: string): Promise<LoginCheck>;
  /** Counts a wrong password against both limits; answers whether a next attempt may go ahead. */
  failed(username: string, ip: string): Promise<LoginCheck>;
  /** Clears the user name + address failures (the per-address count stays). */
  succeeded(username: string, ip: string): Promise<void>;
  /** The two limiters, for `reset` by an admin or for metrics. */
  readonly perUserAndIp: RateLimiter;
  readonly perIp: RateLimiter;
}

const NAME = /^[A-Za-z0-9_.-]{1,55}$/;

/**
 * A brute-force guard for a login form, built on two `larder.rateLimiter`s (fixed windows):
 * after `perUserAndIp.limit` wrong passwords for one user name from one address, or
 * `perIp.limit` from one address for any names, `check` refuses until the window that the
 * first failure opened ends. The user name is normalised (NFKC, trimmed, lower case) so
 * `Alice ` and `alice` share a count; an IPv6 address counts by its /64, which one client
 * usually holds whole. A subject with braces or over 200 characters is hashed by the
 * limiter, so no user name can break the keys' Cluster hash tag.
 *
 * `check` and `failed` are two steps: attempts sent at once all pass `check` before any
 * failure is counted. Limit the login route itself as well (`web.rateLimit` with a few
 * calls per second per address) to bound them.
 *
 * @example
 * const guard = createLoginGuard(larder, { perUserAndIp: { limit: 5, window: '15m' } });
 *
 * app.post('/login', async (req, res) => {
 *   const { username, password } = req.body;
 *   const ip = req.ip as string; // the socket's address, or a trusted proxy's X-Forwarded-For
 *   const gate = await guard.check(username, ip);
 *   if (!gate.allowed) {
 *     res.status(429).set('Retry-After', String(Math.ceil(gate.retryAfter))).send('Too many attempts.');
 *     return;
 *   }
 *   const user = await authenticate(username, password);
 *   if (!user) {
 *     const next = await guard.failed(username, ip);
 *     res.send(next.allowed ? 'Wrong user name or password.' : 'Wrong password; sign-in is now blocked.');
 *     return;
 *   }
 *   await guard.succeeded(username, ip);
 *   await req.session.login(String(user.id));
 *   res.redirect(303, '/');
 * });
 */
export function createLoginGuard(larder: Larder, options: LoginGuardOptions = {}): LoginGuard {
  const { name = 'login', perUserAndIp: userLimit, perIp: ipLimit, ...shared } = options;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ConfigError(
      'createLoginGuard.name',
      name,
      'a name of 1 to 55 letters, digits, _ . - (it names the limiters in keys)',
    );
  }
  const limiter = (suffix: string, input: LoginLimit | undefined, fallback: LoginLimit) => {
    const { limit, window } = input ?? fallback;
    // Validated here so an error names the guard's option, not the limiter inside.
    normalizeRule(
      { limit, window },
      suffix,
      `createLoginGuard.${suffix === 'ip' ? 'perIp' : 'perUserAndIp'}`,
    );
    return createDerivedRateLimiter(larder, name, suffix, {
      ...shared,
      limit,
      window,
      algorithm: 'fixed-window',
    });
  };
  const perUserAndIp = limiter('user-ip', userLimit, { limit: 5, window: '15m' });
  const perIp = limiter('ip', ipLimit, { limit: 100, window: '1d' });

  const subjects = (username: string, ip: string) => {
    if (typeof username !== 'string') {
      throw new RateLimitUsageError('loginGuard', `the user name must be a string; got ${typeof username}.`);
    }
    if (typeof ip !== 'string' || isIP(ip.replace(/%.*$/, '')) === 0) {
      throw new RateLimitUsageError(
        'loginGuard',
        'the client address must be an IP address (Express: req.ip; Hono: ' +
          `getConnInfo(c).remote.address); got ${typeof ip === 'string' ? JSON.stringify(ip) : typeof ip}.`,
      );
    }
    // 'ip:203.0.113.7', 'ip:2001:db8:1:2::/64': an IPv6 client counts by its /64.
    const address = ipSubject(ip);
    // The address first: it holds no '|', so no user name can pose as another address.
    return { pair: `${address}|${normalizeUsername(username)}`, address };
  };

  return {
    perUserAndIp,
    perIp,
    async check(username, ip) {
      const { pair, address } = subjects(username, ip);
      const results = await Promise.all([perUserAndIp.peek(pair), perIp.peek(address)]);
      const allowed = results.every((r) => r.allowed);
      return {
        allowed,
        retryAfter: allowed ? 0 : Math.max(...results.map((r) => r.retryAfter)),
        // A peek's remaining is what a failure would leave; this attempt is one more.
        remaining: allowed ? Math.min(...results.map((r) => r.remaining)) + 1 : 0,
      };
    },
    async failed(username, ip) {
      const { pair, address } = subjects(username, ip);
      return next(await Promise.all([perUserAndIp.consume(pair), perIp.consume(address)]));
    },
    async succeeded(username, ip) {
      await perUserAndIp.reset(subjects(username, ip).pair);
    },
  };
}

/**
 * Whether an attempt after these failures may go ahead. Fixed windows make it exact with no
 * second call: a limit with nothing left refuses until its window ends (`resetAfter`).
 */
function next(results: RateLimitResult[]): LoginCheck {
  const blocking = results.filter((r) => !r.allowed || r.remaining === 0);
  return {
    allowed: blocking.length === 0,
    retryAfter: Math.max(0, ...blocking.map((r) => (r.allowed ? r.resetAfter : r.retryAfter))),
    remaining: blocking.length ? 0 : Math.min(...results.map((r) => r.remaining)),
  };
}

/**
 * The user name as counted: NFKC-normalised as Django's `normalize_username`, trimmed and in
 * lower case, so look-alike spellings of one name share a count.
 *
 * @example normalizeUsername(' Alice ') // 'alice'
 */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').trim().toLowerCase();
}
