/**
 * @module larder/fastify — larder for Fastify 5 apps.
 *
 * `adapt(larder)` returns the same factories as `larder/express` and `larder/hono`;
 * here they return Fastify route handlers and hooks.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { healthResponse } from '../http/health.js';
import type { Larder } from '../larder.js';
import type { AdaptOptions } from './express.js';

export type { AdaptOptions };

/**
 * Binds larder to Fastify.
 *
 * @example
 * const web = adapt(larder);
 * app.get('/health', web.health());
 */
export function adapt(larder: Larder, options: AdaptOptions = {}) {
  return {
    options,
    /** A route handler answering `larder.health()`: 200, or 503 when a backend is down. */
    health() {
      return async function health(_request: FastifyRequest, reply: FastifyReply) {
        const out = await healthResponse(larder);
        return reply.code(out.status).headers(out.headers).send(out.body);
      };
    },
  };
}
