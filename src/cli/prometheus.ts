/**
 * `larder info --metrics-url`: reads an app's Prometheus endpoint (the text exposition
 * format, version 0.0.4) and sums larder's cache series per cache. Hand-written: prom-client
 * can write the format but has no parser, and a dozen lines of reading need no dependency.
 */
import { CliError } from './context.js';

/** One sample line: `name{label="value",…} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;

/**
 * The samples of a Prometheus text exposition; comments, blank and malformed lines are skipped.
 *
 * @example parsePrometheus('larder_cache_hits_total{cache="default"} 3\n') // [{ name, labels: { cache: 'default' }, value: 3 }]
 */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(LABEL)) {
      labels[name!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const value = match[3] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[3]);
    if (!Number.isNaN(value) || match[3] === 'NaN') samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}

/** One cache's figures from the app's metrics. */
export interface CacheFigures {
  hits: number;
  misses: number;
  /** `larder_cache_hit_ratio` when exported, else hits / (hits + misses); `null` before any lookup. */
  hitRatio: number | null;
  /** `larder_cache_operations_total` by `op`. */
  ops: Record<string, number>;
  /** `larder_cache_operation_errors_total` summed over ops. */
  errors: number;
}

/**
 * Per-cache hits, misses, hit ratio and op counts from larder's series (`larder_cache_hits_total{cache}`,
 * `larder_cache_misses_total`, `larder_cache_hit_ratio`, `larder_cache_operations_total{cache,op}`,
 * `larder_cache_operation_errors_total`); series with extra labels (a `tier`) are summed.
 *
 * @example cacheFigures(parsePrometheus(text)).default.hitRatio
 */
export function cacheFigures(samples: readonly Sample[]): Record<string, CacheFigures> {
  const caches: Record<string, CacheFigures> = {};
  const ratios = new Map<string, number>();
  const of = (name: string) => {
    caches[name] ??= { hits: 0, misses: 0, hitRatio: null, ops: {}, errors: 0 };
    return caches[name];
  };
  for (const s of samples) {
    const cache = s.labels.cache;
    if (cache === undefined || !s.name.startsWith('larder_cache_')) continue;
    switch (s.name) {
      case 'larder_cache_hits_total':
        of(cache).hits += s.value;
        break;
      case 'larder_cache_misses_total':
        of(cache).misses += s.value;
        break;
      case 'larder_cache_hit_ratio':
        of(cache);
        ratios.set(cache, s.value);
        break;
      case 'larder_cache_operations_total': {
        const ops = of(cache).ops;
        const op = s.labels.op ?? '?';
        ops[op] = (ops[op] ?? 0) + s.value;
        break;
      }
      case 'larder_cache_operation_errors_total':
        of(cache).errors += s.value;
        break;
    }
  }
  for (const [name, figures] of Object.entries(caches)) {
    const lookups = figures.hits + figures.misses;
    const exported = ratios.get(name);
    figures.hitRatio =
      exported !== undefined && Number.isFinite(exported)
        ? exported
        : lookups > 0
          ? figures.hits / lookups
          : null;
  }
  return caches;
}

/**
 * Fetches `url` (5 s limit) and returns its cache figures (none before the app's first
 * lookup); a `CliError` (exit 2) when the endpoint cannot be read.
 *
 * @example const caches = await fetchCacheFigures('http://127.0.0.1:3000/metrics');
 */
export async function fetchCacheFigures(url: string): Promise<Record<string, CacheFigures>> {
  let text: string;
  try {
    // fetch refuses a URL with credentials: they travel as Basic auth instead.
    const target = new URL(url);
    const headers: Record<string, string> = {};
    if (target.username || target.password) {
      const user = decodeURIComponent(target.username);
      const password = decodeURIComponent(target.password);
      headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      target.username = '';
      target.password = '';
    }
    const response = await fetch(target, { headers, signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    text = await response.text();
  } catch (error) {
    // An error's own text may quote the URL: never print the password it holds.
    const password = URL.canParse(url) ? decodeURIComponent(new URL(url).password) : '';
    const why = password ? (error as Error).message.replaceAll(password, '***') : (error as Error).message;
    throw new CliError(
      `--metrics-url ${maskUrl(url)}: could not read it (${why}). Give the URL of the app's metrics route (web.metrics()).`,
    );
  }
  return cacheFigures(parsePrometheus(text));
}

/** `url` with its password, if any, masked. @example maskUrl('http://u:p@h/metrics') // 'http://u:***@h/metrics' */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return url;
  }
}
