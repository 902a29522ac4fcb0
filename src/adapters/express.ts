/**
 * @module larder/express — larder for Express 5 (and Connect-style) apps.
 *
 * `adapt(larder)` returns the same factories as `larder/fastify` and `larder/hono`;
 * only what they return differs (here: Express middleware).
 */
import type { NextFunction, Request, Response } from 'express';
import { healthResponse } from '../http/health.js';
import type { Larder } from '../larder.js';

/** Options shared by every adapter. */
export interface AdaptOptions {
  /** Trust `X-Forwarded-*` from these proxies (addresses, CIDRs, or `true`). @default false */
  trustProxy?: boolean | string | string[];
}

/**
 * Binds larder to Express.
 *
 * @example
 * const web = adapt(larder);
 * app.get('/health', web.health());
 */
export function adapt(larder: Larder, options: AdaptOptions = {}) {
  return {
    options,
    /** A route answering `larder.health()` as JSON: 200, or 503 when a backend is down. */
    health() {
      return async function health(_req: Request, res: Response, next: NextFunction) {
        try {
          const out = await healthResponse(larder);
          res.status(out.status).set(out.headers).send(out.body);
        } catch (error) {
          next(error);
        }
      };
    },
  };
}
