/**
 * @module larder/hono — larder for Hono apps (on @hono/node-server or any Fetch runtime).
 *
 * `adapt(larder)` returns the same factories as `larder/express` and `larder/fastify`;
 * here they return Hono handlers and middleware.
 */
import type { Context } from 'hono';
import { healthResponse } from '../http/health.js';
import type { Larder } from '../larder.js';
import type { AdaptOptions } from './express.js';

export type { AdaptOptions };

/**
 * Binds larder to Hono.
 *
 * @example
 * const web = adapt(larder);
 * app.get('/health', web.health());
 */
export function adapt(larder: Larder, options: AdaptOptions = {}) {
  return {
    options,
    /** A handler answering `larder.health()`: 200, or 503 when a backend is down. */
    health() {
      return async function health(_c: Context) {
        const out = await healthResponse(larder);
        return new Response(out.body, { status: out.status, headers: out.headers });
      };
    },
  };
}
