/**
 * The health route, framework-neutral: 200 with the report when every connection
 * answers, 503 when one does not (so load balancers take the process out).
 */
import type { Larder } from '../larder.js';

/** A response any adapter can send as is. */
export interface NeutralResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Runs `larder.health()` and renders it as JSON. */
export async function healthResponse(larder: Larder): Promise<NeutralResponse> {
  const report = await larder.health();
  return {
    status: report.status === 'ok' ? 200 : 503,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify(report),
  };
}
