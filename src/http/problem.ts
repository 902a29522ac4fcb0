/**
 * Problem details (RFC 9457) for the answers larder's middleware makes itself: a larder
 * error that knows its HTTP status, or a problem the caller describes (the rate limiter's
 * quota-exceeded and ban answers). Never stored by a cache: `Cache-Control: no-store`.
 */
import { LarderError } from '../errors.js';
import type { NeutralResponse } from './health.js';

/** A problem details object: the RFC 9457 members, and extension members. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

/**
 * A problem+json response; `headers` are added to the content type and `no-store`.
 *
 * @example problemResponse({ type: 'about:blank', title: 'Forbidden', status: 403, detail: 'No.' })
 */
export function problemResponse(problem: Problem, headers: Record<string, string> = {}): NeutralResponse {
  return {
    status: problem.status,
    headers: { ...headers, 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
    body: JSON.stringify(problem),
  };
}

/**
 * The response for a larder error with a status (`SessionInterruptedError` 400,
 * `SessionTooLargeError` 413, `RateLimitedError` 429 with its `Retry-After`,
 * `BackendUnavailableError` 503), as problem+json.
 * Anything that is not a larder error with a status is rethrown.
 *
 * @example
 * try { await commit.persist?.() } catch (error) { const { status, headers, body } = errorResponse(error); … }
 */
export function errorResponse(error: unknown): NeutralResponse {
  if (!(error instanceof LarderError) || error.status === undefined) throw error;
  // An error that says which headers its answer needs (RateLimitedError's Retry-After) gets them.
  const own = (error as { headers?: unknown }).headers;
  return problemResponse(error.toProblem(), isHeaderRecord(own) ? own : {});
}

function isHeaderRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string')
  );
}
