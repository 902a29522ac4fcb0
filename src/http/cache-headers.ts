/**
 * Cache-related response headers, framework-neutral: Django's `patch_cache_control`,
 * `patch_vary_headers`, `get_max_age`, `patch_response_headers` and
 * `add_never_cache_headers`, over a plain header record with lower-case names (what the
 * adapters read from and write back to their framework's response).
 */

/** Response headers as the core sees them: lower-case names. */
export type HeaderRecord = Record<string, string | string[] | number | undefined>;

/** Cache-Control directives: `true` for a bare directive, a value otherwise. */
export type CacheControlDirectives = Record<string, string | number | boolean | undefined>;

/** One header's value as a single string (multiple values joined with ', '). */
export function headerValue(headers: HeaderRecord, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/** How an adapter writes one header on its framework's response, and removes one. */
export interface HeaderWriter<T> {
  set(target: T, name: string, value: string | string[] | number): void;
  remove(target: T, name: string): void;
}

/**
 * Writes onto `target` what changed from `before` to `after` (records with lower-case
 * names): removes the headers `after` dropped and sets the ones it added or changed. A value
 * is unchanged when it is the same one or spells the same (`'11'` and `11`, equal lists).
 *
 * @example applyHeaderChanges(res, { set: (r, n, v) => r.setHeader(n, v), remove: (r, n) => r.removeHeader(n) }, before, after)
 */
export function applyHeaderChanges<T>(
  target: T,
  writer: HeaderWriter<T>,
  before: HeaderRecord,
  after: HeaderRecord,
): void {
  for (const name in before)
    if (after[name] === undefined && before[name] !== undefined) writer.remove(target, name);
  for (const name in after) {
    const value = after[name];
    const old = before[name];
    if (value === undefined || value === old) continue;
    if (old !== undefined && spelled(value) === spelled(old)) continue;
    writer.set(target, name, value);
  }
}

/** A header value as one string, to compare values of any shape. */
function spelled(value: string | string[] | number): string {
  return Array.isArray(value) ? value.join('\n') : String(value);
}

/** Parses `Cache-Control` into lower-case directive names → value (`true` if bare). */
export function parseCacheControl(value: string | undefined): Map<string, string | true> {
  const out = new Map<string, string | true>();
  if (!value) return out;
  // Split on commas outside quotes: no-cache="Set-Cookie,X-Token" is one directive.
  for (const part of value.match(/(?:[^,"]+|"[^"]*")+/g) ?? []) {
    const trimmed = part.trim();
    if (!trimmed) continue;
    const eq = trimmed.indexOf('=');
    if (eq === -1) out.set(trimmed.toLowerCase(), true);
    else
      out.set(
        trimmed.slice(0, eq).trim().toLowerCase(),
        trimmed
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, '$1'),
      );
  }
  return out;
}

/**
 * Django's `patch_cache_control`: adds or replaces directives. `max-age` keeps the
 * smaller of the old and new values; `private` and `public` exclude each other;
 * `no-cache` with a field name accumulates; `false` removes a directive.
 *
 * @example patchCacheControl(headers, { public: true, 'max-age': 3600 })
 */
export function patchCacheControl(headers: HeaderRecord, directives: CacheControlDirectives): void {
  const current = parseCacheControl(headerValue(headers, 'cache-control'));
  const wanted = new Map<string, string | number | boolean | undefined>();
  for (const [name, value] of Object.entries(directives))
    wanted.set(name.toLowerCase().replaceAll('_', '-'), value);
  // RFC 9111 §5.2.2.6/.9: private and public contradict each other; the newer one wins.
  if (wanted.get('private')) current.delete('public');
  if (wanted.get('public')) current.delete('private');
  // Django keeps the lower max-age when one was already set (ticket 12950).
  const wantedMaxAge = wanted.get('max-age');
  if (current.has('max-age') && (typeof wantedMaxAge === 'number' || typeof wantedMaxAge === 'string')) {
    const old = Number(current.get('max-age'));
    const next = Number(wanted.get('max-age'));
    if (Number.isFinite(old) && Number.isFinite(next)) wanted.set('max-age', Math.min(old, next));
  }
  for (const [name, value] of wanted) {
    if (value === false || value === undefined) {
      current.delete(name);
    } else if (name === 'no-cache' && value !== true && current.has('no-cache')) {
      // no-cache="field" accumulates field names; a bare no-cache (all fields) wins over them,
      // as in Django.
      const old = current.get('no-cache');
      if (old === true) continue;
      const fields = new Set([...String(old).split(','), ...String(value).split(',')]);
      current.set(
        'no-cache',
        [...fields]
          .map((f) => f.trim())
          .filter(Boolean)
          .join(','),
      );
    } else {
      current.set(name, value === true ? true : String(value));
    }
  }
  headers['cache-control'] = [...current]
    .map(([name, value]) =>
      value === true ? name : name === 'no-cache' ? `${name}="${value}"` : `${name}=${value}`,
    )
    .join(', ');
}

/** Django's `get_max_age`: the response's `max-age` in seconds, or `undefined`. */
export function getMaxAge(headers: HeaderRecord): number | undefined {
  const value = parseCacheControl(headerValue(headers, 'cache-control')).get('max-age');
  if (value === undefined || value === true) return undefined;
  const seconds = Number.parseInt(value, 10);
  return Number.isFinite(seconds) ? seconds : undefined;
}

/** The header names in `Vary`, as written (`*` included). */
export function varyHeaders(headers: HeaderRecord): string[] {
  const value = headerValue(headers, 'vary');
  if (!value) return [];
  return value
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
}

/** True if `Vary` names `name` (case-insensitive). */
export function hasVaryHeader(headers: HeaderRecord, name: string): boolean {
  const lower = name.toLowerCase();
  return varyHeaders(headers).some((h) => h.toLowerCase() === lower);
}

/**
 * Django's `patch_vary_headers`: adds names to `Vary` without duplicates
 * (case-insensitive); `*` replaces everything.
 *
 * @example patchVaryHeaders(headers, ['Accept-Language', 'Cookie'])
 */
export function patchVaryHeaders(headers: HeaderRecord, names: readonly string[]): void {
  const current = varyHeaders(headers);
  const seen = new Set(current.map((h) => h.toLowerCase()));
  for (const name of names) {
    if (!seen.has(name.toLowerCase())) {
      seen.add(name.toLowerCase());
      current.push(name);
    }
  }
  headers.vary = seen.has('*') ? '*' : current.join(', ');
}

/**
 * Django's `patch_response_headers`: sets `Expires` and `Cache-Control: max-age` for a
 * response cached `seconds`, leaving an existing `Expires` alone.
 */
export function patchResponseHeaders(headers: HeaderRecord, seconds: number, now = Date.now()): void {
  const ttl = Math.max(0, Math.floor(seconds));
  if (headers.expires === undefined) headers.expires = new Date(now + ttl * 1000).toUTCString();
  patchCacheControl(headers, { 'max-age': ttl });
}

/**
 * Django's `add_never_cache_headers`: the response must not be cached anywhere.
 *
 * @example addNeverCacheHeaders(headers)
 */
export function addNeverCacheHeaders(headers: HeaderRecord, now = Date.now()): void {
  patchResponseHeaders(headers, -1, now);
  patchCacheControl(headers, { 'no-cache': true, 'no-store': true, 'must-revalidate': true, private: true });
}
