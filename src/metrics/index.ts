/**
 * @module larder/metrics — counters and latency histograms of every operation (caches,
 * sessions, rate limits, tasks, pub/sub), read as a snapshot (`larder.metrics.snapshot()`)
 * or as the Prometheus text exposition (`metricsResponse`, `web.metrics()`).
 *
 * @example
 * import { metricsResponse } from 'larder/metrics';
 * app.get('/metrics', async (_req, res) => {
 *   const { status, headers, body } = await metricsResponse(larder);
 *   res.status(status).set(headers).send(body);
 * });
 */
export { metricsResponse, prometheusText } from '../http/metrics.js';
export { type Gauges, Metrics, type MetricsOptions } from './metrics.js';
export { OpTimer } from './op-timer.js';
export { createRegistry, PROMETHEUS_CONTENT_TYPE } from './prometheus.js';
export * from './types.js';
