/**
 * The session middleware, framework-neutral (Django's `SessionMiddleware`): open the
 * session from the request's cookie, and at the end of the response decide — from the
 * status and what the handler did — which headers go out and what the store must write.
 *
 * The decision is synchronous, so an adapter can put the headers on the response at the
 * moment its framework fixes them (and a page cache downstream sees `Set-Cookie` and
 * `Vary: Cookie`, and so never stores a personalised page); the store write is returned
 * as `persist`, which the adapter awaits before the response is sent — a redirect never
 * outruns its session write. Nothing is written for a 5xx response.
 */
import { parse as parseCookies, serialize as serializeCookie } from 'cookie';
import type { SessionManager } from '../session/manager.js';
import type { Session, SessionData } from '../session/session.js';
import { type HeaderRecord, patchVaryHeaders } from './cache-headers.js';

/** What the session middleware needs to know about a request. */
export interface SessionRequest {
  /** The `Cookie` header. */
  cookie: string | undefined;
  /** True when the request arrived over HTTPS (as the adapter decided, proxies considered). */
  secure: boolean;
  userAgent?: string | undefined;
}

/** What the response must carry, and the store write to finish before sending it. */
export interface SessionCommit {
  /** Add `Cookie` to `Vary` (the session was read or written). */
  vary: boolean;
  /** A `Set-Cookie` header value. */
  setCookie?: string;
  /** The store write; reject → answer with `errorResponse(error)` instead. */
  persist?: () => Promise<unknown>;
}

/** One request's session and how to finish it. */
export interface SessionExchange<Data extends SessionData = SessionData> {
  session: Session<Data>;
  /**
   * Resolves when the session is ready to use: immediate, except with `saveEveryRequest`,
   * which loads it up front (its headers depend on what is stored).
   */
  ready: Promise<void> | undefined;
  /** The headers and write for a response with `status`. Call once, when the headers are fixed. */
  commit(status: number): SessionCommit;
}

/**
 * Opens the session for a request.
 *
 * @example
 * const exchange = openSession(larder.sessions, { cookie: req.headers.cookie, secure: false });
 * // … handler runs with exchange.session …
 * const { setCookie, vary, persist } = exchange.commit(200);
 */
export function openSession<Data extends SessionData = SessionData>(
  sessions: SessionManager,
  request: SessionRequest,
): SessionExchange<Data> {
  const { cookie: options } = sessions.config;
  const sent = request.cookie ? cookieValue(request.cookie, options.name) : undefined;
  const session = sessions.open<Data>({ cookie: sent, userAgent: request.userAgent });
  const secure =
    options.secure === 'auto' ? request.secure || process.env.NODE_ENV === 'production' : options.secure;
  const attributes = {
    path: options.path,
    ...(options.domain !== undefined ? { domain: options.domain } : {}),
    secure,
    httpOnly: options.httpOnly,
    sameSite: options.sameSite,
  } as const;
  const clear = () => serializeCookie(options.name, '', { ...attributes, maxAge: 0, expires: new Date(0) });
  const set = (value: string) => {
    if (session.expireAtBrowserClose()) return serializeCookie(options.name, value, attributes);
    // sessions.cookie.maxAge (default: sessions.maxAge) unless setExpiry chose otherwise.
    const age = session.hasCustomExpiry()
      ? Math.max(0, session.getExpiryAge())
      : Math.floor(options.maxAge / 1000);
    return serializeCookie(options.name, value, {
      ...attributes,
      maxAge: age,
      expires: new Date(Date.now() + age * 1000),
    });
  };
  const isCookieStore = sessions.store.kind === 'cookie';

  return {
    session,
    ready: sessions.config.saveEveryRequest && session.key !== null ? session.load() : undefined,
    commit(status) {
      const vary = session.accessed;
      // Django: nothing is saved when the response is a server error.
      if (status >= 500) return { vary };
      switch (session.pending()) {
        case 'untouched':
        case 'none':
          // A cookie that is not one of our ids is dropped without a store call — read or not
          // (Django deletes the cookie of a session found empty).
          return sent !== undefined && session.key === null ? { vary, setCookie: clear() } : { vary };
        case 'empty':
          return {
            vary,
            ...(sent !== undefined ? { setCookie: clear() } : {}),
            ...(isCookieStore ? {} : { persist: () => session.save() }),
          };
        case 'write':
          if (isCookieStore) return { vary, setCookie: set(session.cookieValue()) };
          return { vary, setCookie: set(session.reserveKey() as string), persist: () => session.save() };
        case 'touch':
          if (isCookieStore) return { vary, setCookie: set(session.cookieValue()) };
          return {
            vary,
            ...(session.expireAtBrowserClose() ? {} : { setCookie: set(session.key as string) }),
            persist: () => session.touch(),
          };
      }
    },
  };
}

/**
 * The header values a commit adds, given the response's current `Vary`: `vary` (to set, when
 * it changes) and `setCookie` (to append). Each adapter writes them its own way.
 *
 * @example sessionHeaders(commit, res.getHeader('vary')) // { vary: 'Accept, Cookie', setCookie: 'sessionid=…' }
 */
export function sessionHeaders(
  commit: SessionCommit,
  currentVary: unknown,
): { vary?: string; setCookie?: string } {
  const out: { vary?: string; setCookie?: string } = {};
  if (commit.vary) {
    const record: HeaderRecord = { vary: currentVary as HeaderRecord[string] };
    patchVaryHeaders(record, ['Cookie']);
    out.vary = String(record.vary);
  }
  if (commit.setCookie !== undefined) out.setCookie = commit.setCookie;
  return out;
}

/** Puts a commit's headers on a header record (lower-case names). */
export function applySessionHeaders(headers: HeaderRecord, commit: SessionCommit): void {
  const { vary, setCookie } = sessionHeaders(commit, headers.vary);
  if (vary !== undefined) headers.vary = vary;
  if (setCookie === undefined) return;
  const existing = headers['set-cookie'];
  headers['set-cookie'] =
    existing === undefined
      ? [setCookie]
      : [...(Array.isArray(existing) ? existing : [String(existing)]), setCookie];
}

/** Moved to `problem.ts` (the rate limiter renders errors too); re-exported for the adapters. */
export { errorResponse } from './problem.js';

/** The value of cookie `name` in a `Cookie` header, without parsing the rest when it is absent. */
function cookieValue(header: string, name: string): string | undefined {
  if (!header.includes(name)) return undefined;
  return parseCookies(header)[name];
}
