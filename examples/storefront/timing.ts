/**
 * `Server-Timing` and `Cache-Status` on every response, so the caching is visible in the
 * browser's network panel (or `curl -i`):
 *
 * - `Cache-Status` (RFC 9211): what `cachePage` said (`larder; hit`, `larder; fwd=uri-miss;
 *   stored`, `…; detail=private`); a route with no page cache says `larder; fwd=bypass`
 *   ("the cache was configured not to handle this request") and a POST `larder; fwd=method`,
 *   the page cache's own word for a method it never caches.
 * - `Server-Timing`: `total` is the time from this middleware to the headers going out; a
 *   route may add its own metrics first (the catalog's `cache;desc="hit"`). A page served
 *   from the page cache says `page;desc="hit"` instead of the metrics of the render that
 *   stored it, which the stored headers still carry.
 */
import type { NextFunction, Request, Response } from 'express';

/** Our name in `Cache-Status`, as the page cache writes it. */
const CACHE = 'larder';

/**
 * Middleware adding `Server-Timing` and, where no page cache spoke, `Cache-Status`.
 *
 * @example app.use(timing());
 */
export function timing() {
  return function timing(req: Request, res: Response, next: NextFunction) {
    const started = performance.now();
    // An own property over the prototype's writeHead, removed on the call: the call then goes
    // to whatever the prototype holds *now*. (larder's Express adapter hooks the prototype on
    // the first session() of the process, after this ran; a writeHead captured here would
    // skip that hook, and the session's Set-Cookie with it, on the process's first request.)
    res.writeHead = function timedWriteHead(this: Response, ...args: unknown[]) {
      delete (res as Partial<Response>).writeHead;
      const total = `total;dur=${(performance.now() - started).toFixed(1)}`;
      const status = res.getHeader('cache-status');
      if (status === undefined) {
        const cacheable = req.method === 'GET' || req.method === 'HEAD';
        res.setHeader('cache-status', `${CACHE}; fwd=${cacheable ? 'bypass' : 'method'}`);
        res.setHeader('server-timing', joined(res.getHeader('server-timing'), total));
      } else if (String(status).startsWith(`${CACHE}; hit`)) {
        res.setHeader('server-timing', `page;desc="hit", ${total}`);
      } else {
        res.setHeader('server-timing', joined(res.getHeader('server-timing'), total));
      }
      return (res.writeHead as (...a: unknown[]) => Response).apply(this, args);
    } as typeof res.writeHead;
    next();
  };
}

/** A header's value with `metric` added at the end. */
function joined(current: ReturnType<Response['getHeader']>, metric: string): string {
  if (current === undefined || current === '') return metric;
  return `${Array.isArray(current) ? current.join(', ') : String(current)}, ${metric}`;
}
