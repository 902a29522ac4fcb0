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
import { serialize as serializeCookie } from 'cookie';
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

/** The session cookie's settings (`sessions.config.cookie`). */
type CookieOptions = SessionManager['config']['cookie'];

/**
 * The session cookie's `Set-Cookie` values for one config, made once per process: the
 * attributes never change, and the `Max-Age`/`Expires` tail changes once a second, so each
 * request only joins `name=value` to a cached tail. The output is what `cookie`'s
 * `serialize` gives for the same options (same attributes, same order).
 *
 * @example
 * const cookies = new SessionCookies(larder.sessions.config.cookie);
 * cookies.persistent(id, 1_209_600, false, Date.now()); // 'sessionid=…; Max-Age=1209600; Path=/; Expires=…; HttpOnly; SameSite=Lax'
 */
export class SessionCookies {
  readonly #name: string;
  /** `; Domain=…; Path=…` (between Max-Age and Expires in `serialize`'s order). */
  readonly #place: string;
  /** `; HttpOnly; SameSite=…` without and with `; Secure`, by `secure`. */
  readonly #flags: [string, string];
  readonly #clear: [string, string];
  /** The last persistent tail made, per `secure`: reused while the age and the second agree. */
  readonly #tails: Array<{ age: number; second: number; tail: string } | undefined> = [undefined, undefined];
  /** Options `serialize` refuses (a domain or path the config check lets through): it keeps throwing, per cookie. */
  readonly #refused: CookieOptions | undefined;
  readonly #options: CookieOptions;

  constructor(options: CookieOptions) {
    this.#options = options;
    this.#refused = refusedBySerialize(options) ? options : undefined;
    this.#name = options.name;
    this.#place = `${options.domain ? `; Domain=${options.domain}` : ''}${options.path ? `; Path=${options.path}` : ''}`;
    const flags = (secure: boolean) =>
      `${options.httpOnly ? '; HttpOnly' : ''}${secure ? '; Secure' : ''}; SameSite=${SAME_SITE[options.sameSite]}`;
    this.#flags = [flags(false), flags(true)];
    const clear = (secure: number) =>
      `${this.#name}=; Max-Age=0${this.#place}; Expires=${new Date(0).toUTCString()}${this.#flags[secure]}`;
    this.#clear = [clear(0), clear(1)];
  }

  /** A cookie that lasts `age` seconds from `now` (epoch ms): `Max-Age` and `Expires` both. */
  persistent(value: string, age: number, secure: boolean, now: number): string {
    const index = secure ? 1 : 0;
    // Expires has whole seconds: every request of the same second and age shares a tail.
    const second = Math.floor((now + age * 1000) / 1000);
    let cached = this.#tails[index];
    if (cached === undefined || cached.second !== second || cached.age !== age) {
      const expires = new Date(now + age * 1000);
      // What serialize refuses (a fractional age, a date past year 275760) it still refuses.
      if (this.#refused || !Number.isInteger(age) || !Number.isFinite(expires.getTime()))
        return serializeWith(this.#refused ?? this.#options, value, secure, age, expires);
      cached = {
        age,
        second,
        tail: `; Max-Age=${age}${this.#place}; Expires=${expires.toUTCString()}${this.#flags[index]}`,
      };
      this.#tails[index] = cached;
    }
    return `${this.#name}=${encodeValue(value)}${cached.tail}`;
  }

  /** A cookie for the browser's session only: neither `Max-Age` nor `Expires`. */
  browserSession(value: string, secure: boolean): string {
    if (this.#refused) return serializeWith(this.#refused, value, secure);
    return `${this.#name}=${encodeValue(value)}${this.#place}${this.#flags[secure ? 1 : 0]}`;
  }

  /** The value that deletes the cookie (`Max-Age=0`, `Expires` at the epoch). */
  clear(secure: boolean): string {
    if (this.#refused) return serializeWith(this.#refused, '', secure, 0, new Date(0));
    return this.#clear[secure ? 1 : 0];
  }
}

/** `cookie`'s `serialize` for these options (what the cached strings reproduce). */
function serializeWith(
  options: CookieOptions,
  value: string,
  secure: boolean,
  maxAge?: number,
  expires?: Date,
) {
  return serializeCookie(options.name, value, {
    path: options.path,
    ...(options.domain !== undefined ? { domain: options.domain } : {}),
    secure,
    httpOnly: options.httpOnly,
    sameSite: options.sameSite,
    ...(maxAge !== undefined ? { maxAge, expires } : {}),
  });
}

function refusedBySerialize(options: CookieOptions): boolean {
  try {
    serializeWith(options, '', false, 0, new Date(0));
    return false;
  } catch {
    return true;
  }
}

const SAME_SITE = { lax: 'Lax', strict: 'Strict', none: 'None' } as const;

/** `serialize`'s encoding: session ids (base64url) and signed-cookie values pass unchanged. */
function encodeValue(value: string): string {
  return SAFE_VALUE.test(value) ? value : encodeURIComponent(value);
}
const SAFE_VALUE = /^[A-Za-z0-9_.~-]*$/;

/** One `SessionCookies` per cookie config (a config object lives as long as its Larder). */
const cookiesByConfig = new WeakMap<CookieOptions, SessionCookies>();

function cookiesFor(options: CookieOptions): SessionCookies {
  let cookies = cookiesByConfig.get(options);
  if (cookies === undefined) {
    cookies = new SessionCookies(options);
    cookiesByConfig.set(options, cookies);
  }
  return cookies;
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
  return new Exchange<Data>(sessions, request.cookie, request.userAgent, request.secure);
}

/**
 * A `SessionExchange`: its state in fields rather than closures (one object per request).
 * Exported for adapters that keep their own per-request state beside it (the Express adapter
 * extends it, so a request costs one object, and overrides {@link Exchange.requestIsSecure}
 * to ask the framework only when a cookie goes out).
 * @internal
 */
export class Exchange<Data extends SessionData = SessionData> implements SessionExchange<Data> {
  readonly session: Session<Data>;
  readonly ready: Promise<void> | undefined;
  readonly #sessions: SessionManager;
  /** The session cookie's value as the request sent it. */
  readonly #sent: string | undefined;
  readonly #https: boolean;

  constructor(
    sessions: SessionManager,
    cookieHeader: string | undefined,
    userAgent: string | undefined,
    https = false,
  ) {
    const { config } = sessions;
    this.#sessions = sessions;
    this.#sent = cookieHeader ? cookieValue(cookieHeader, config.cookie.name) : undefined;
    this.#https = https;
    this.session = sessions.open<Data>({ cookie: this.#sent, userAgent });
    this.ready = config.saveEveryRequest && this.session.key !== null ? this.session.load() : undefined;
  }

  /** True when the request came over HTTPS; asked only when a cookie goes out with `secure: 'auto'`. */
  protected requestIsSecure(): boolean {
    return this.#https;
  }

  commit(status: number): SessionCommit {
    const session = this.session;
    const vary = session.accessed;
    // Django: nothing is saved when the response is a server error.
    if (status >= 500) return { vary };
    const isCookieStore = this.#sessions.store.kind === 'cookie';
    switch (session.pending()) {
      case 'untouched':
      case 'none':
        // A cookie that is not one of our ids is dropped without a store call — read or not
        // (Django deletes the cookie of a session found empty).
        return this.#sent !== undefined && session.key === null
          ? { vary, setCookie: this.#clear() }
          : { vary };
      case 'empty':
        return {
          vary,
          ...(this.#sent !== undefined ? { setCookie: this.#clear() } : {}),
          ...(isCookieStore ? {} : { persist: () => session.save() }),
        };
      case 'write':
        if (isCookieStore) return { vary, setCookie: this.#set(session.cookieValue()) };
        return { vary, setCookie: this.#set(session.reserveKey() as string), persist: () => session.save() };
      case 'touch':
        if (isCookieStore) return { vary, setCookie: this.#set(session.cookieValue()) };
        return {
          vary,
          ...(session.expireAtBrowserClose() ? {} : { setCookie: this.#set(session.key as string) }),
          persist: () => session.touch(),
        };
    }
  }

  /** Secure as configured; `'auto'`: HTTPS, or NODE_ENV=production (read when a cookie goes out). */
  #secure(): boolean {
    const option = this.#sessions.config.cookie.secure;
    return option === 'auto' ? process.env.NODE_ENV === 'production' || this.requestIsSecure() : option;
  }

  #clear(): string {
    return cookiesFor(this.#sessions.config.cookie).clear(this.#secure());
  }

  #set(value: string): string {
    const session = this.session;
    const options = this.#sessions.config.cookie;
    const cookies = cookiesFor(options);
    if (session.expireAtBrowserClose()) return cookies.browserSession(value, this.#secure());
    // sessions.cookie.maxAge (default: sessions.maxAge) unless setExpiry chose otherwise.
    const age = session.hasCustomExpiry()
      ? Math.max(0, session.getExpiryAge())
      : Math.floor(options.maxAge / 1000);
    return cookies.persistent(value, age, this.#secure(), Date.now());
  }
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
    if (currentVary === undefined || currentVary === '') out.vary = 'Cookie';
    else {
      const record: HeaderRecord = { vary: currentVary as HeaderRecord[string] };
      patchVaryHeaders(record, ['Cookie']);
      out.vary = String(record.vary);
    }
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

/**
 * The value of cookie `name` in a `Cookie` header: `cookie`'s `parse(header)[name]` (the
 * first pair of that name, trimmed, percent-decoded), without building the other pairs.
 */
export function cookieValue(header: string, name: string): string | undefined {
  if (!header.includes(name)) return undefined;
  const length = header.length;
  let index = 0;
  while (index < length) {
    const eq = header.indexOf('=', index);
    if (eq === -1) return undefined;
    let end = header.indexOf(';', index);
    if (end === -1) end = length;
    if (eq > end) {
      // A pair without '=': skip to the last ';' before the '=' (as `parse` does).
      index = header.lastIndexOf(';', eq - 1) + 1;
      continue;
    }
    let keyStart = index;
    let keyEnd = eq;
    while (keyStart < keyEnd && isBlank(header.charCodeAt(keyStart))) keyStart++;
    while (keyEnd > keyStart && isBlank(header.charCodeAt(keyEnd - 1))) keyEnd--;
    if (keyEnd - keyStart === name.length && header.startsWith(name, keyStart)) {
      let valueStart = eq + 1;
      let valueEnd = end;
      while (valueStart < valueEnd && isBlank(header.charCodeAt(valueStart))) valueStart++;
      while (valueEnd > valueStart && isBlank(header.charCodeAt(valueEnd - 1))) valueEnd--;
      return decodeValue(header.slice(valueStart, valueEnd));
    }
    index = end + 1;
  }
  return undefined;
}

const isBlank = (code: number) => code === 0x20 || code === 0x09;

/** Percent-decodes a cookie value; a malformed escape leaves it as it is (as `parse` does). */
function decodeValue(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
