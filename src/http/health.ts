/**
 * The health route, framework-neutral: 200 with the report while every required connection
 * answers (`ok`, or `degraded` when only optional ones — caches with `ignoreErrors`, rate
 * limits — are down), 503 when a required one does not (so load balancers take the process
 * out).
 */
import type { Larder } from '../larder.js';

/** A response any adapter can send as is. */
export interface NeutralResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Runs `larder.health()` and renders it as JSON: 503 when the report is `down`.
 *
 * @example
 * const { status, headers, body } = await healthResponse(larder); // 200 or 503
 */
export async function healthResponse(larder: Larder): Promise<NeutralResponse> {
  const report = await larder.health();
  return {
    status: report.status === 'down' ? 503 : 200,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify(report),
  };
}
