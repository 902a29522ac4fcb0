/**
 * The metrics route, framework-neutral: the Prometheus text exposition of a Larder's
 * counters, never cached. Each adapter's `web.metrics()` sends what this returns.
 */
import type { Larder } from '../larder.js';
import type { NeutralResponse } from './health.js';

/**
 * The Prometheus exposition of `larder.metrics`, as a response any adapter can send as is:
 * 200, the text format's content type, `cache-control: no-store`.
 *
 * @example
 * const { status, headers, body } = await metricsResponse(larder);
 * res.writeHead(status, headers).end(body);
 */
export async function metricsResponse(larder: Larder): Promise<NeutralResponse> {
  const metrics = larder.metrics;
  return {
    status: 200,
    headers: { 'content-type': metrics.contentType, 'cache-control': 'no-store' },
    body: await metrics.prometheus(),
  };
}

/**
 * The Prometheus text exposition of `larder`'s counters (`larder.metrics.prometheus()`).
 *
 * @example console.log(await prometheusText(larder));
 */
export function prometheusText(larder: Larder): Promise<string> {
  return larder.metrics.prometheus();
}
