/**
 * The dashboard page, rendered on the server with the figures of the moment, so it reads
 * without JavaScript; the script then follows `/stream` and draws the charts. Every value
 * that comes from the app (cache, limiter, task and queue names; Redis replies; the title)
 * is escaped. No inline script or style: the page is served with a strict CSP.
 */
import type { AssetTable } from './assets.js';
import type { DashboardFrame } from './rates.js';
import type { InfoReport } from './redis-info.js';

/** What the page is rendered from. */
export interface PageModel {
  title: string;
  /** The path the dashboard is mounted at (`/ops`), no trailing slash. */
  base: string;
  frame: DashboardFrame;
  /** `interval` when the figures are over the last tick, `since start` when no browser follows yet. */
  over: 'interval' | 'since start';
  info: InfoReport;
  cacheNames: readonly string[];
  assets: AssetTable;
}

/** The Content-Security-Policy the page is served with: its own files only, nothing inline. */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/**
 * HTML-escapes text for element content and quoted attributes.
 *
 * @example escapeHtml('<b>"x"</b>') // '&lt;b&gt;&quot;x&quot;&lt;/b&gt;'
 */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}
const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** A number as the page shows it (an em dash for unknown). */
function num(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return n.toLocaleString('en', { maximumFractionDigits: digits });
}
function pct(n: number | null): string {
  return n === null ? '—' : `${(n * 100).toFixed(1)} %`;
}

function rows(cells: Array<Array<string | number>>): string {
  return cells
    .map(
      ([first, ...rest]) =>
        `<tr><th>${escapeHtml(first)}</th>${rest.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`,
    )
    .join('');
}

function sorted<T>(record: Record<string, T>): Array<[string, T]> {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function figure(id: string, label: string, value: string): string {
  return `<div><dt>${escapeHtml(label)}</dt><dd id="${id}">${escapeHtml(value)}</dd></div>`;
}

function chart(id: string, caption: string): string {
  // The script replaces the note with the chart once a series has a value.
  return `<figure><figcaption>${escapeHtml(caption)}</figcaption><div class="chart" id="${id}"><p class="note">No data yet.</p></div></figure>`;
}

function infoSection(info: InfoReport): string {
  if (info.embedded) return `<p class="note">${escapeHtml(info.message ?? 'in-memory')}</p>`;
  const head =
    '<thead><tr><th>Node</th><th>role</th><th>version</th><th>memory</th><th>maxmemory</th><th>policy</th>' +
    '<th>clients</th><th>keys</th><th>evicted</th><th>ops/s</th><th>hits</th><th>misses</th></tr></thead>';
  return info.connections
    .map((conn) => {
      const body = conn.nodes
        .map((n) => {
          if (n.error)
            return `<tr><th>${escapeHtml(n.address)}</th><td colspan="11" class="error">${escapeHtml(n.error)}</td></tr>`;
          const keys = Object.values(n.keyspace).reduce((total, db) => total + db.keys, 0);
          return rows([
            [
              n.address,
              n.role ?? '—',
              n.version ?? '—',
              n.usedMemory ?? '—',
              n.maxmemory ?? '—',
              n.maxmemoryPolicy ?? '—',
              num(n.connectedClients, 0),
              num(keys, 0),
              num(n.evictedKeys, 0),
              num(n.opsPerSec, 0),
              num(n.keyspaceHits, 0),
              num(n.keyspaceMisses, 0),
            ],
          ]);
        })
        .join('');
      return `<h3>${escapeHtml(conn.name)} <span class="note">(${escapeHtml(conn.topology)})</span></h3><table class="info">${head}<tbody>${body}</tbody></table>`;
    })
    .join('');
}

/**
 * The whole page.
 *
 * @example const html = renderPage({ title: 'larder', base: '/ops', frame, over: 'since start', info, cacheNames: ['default'], assets });
 */
export function renderPage(model: PageModel): string {
  const { frame, assets } = model;
  const base = escapeHtml(model.base);
  const title = escapeHtml(model.title);
  const s = frame.sessions;
  const sum = (record: Record<string, Record<string, number>>, field: string) =>
    Object.values(record).reduce((total, r) => total + (r[field] ?? 0), 0);
  const cacheRows = rows(
    sorted(frame.caches).map(([name, c]) => [
      name,
      num(c.opsPerSec),
      pct(c.hitRatio),
      num(c.p50Ms, 3),
      num(c.p99Ms, 3),
      num(c.errorsPerSec),
      num(c.hits, 0),
      num(c.misses, 0),
    ]),
  );
  const options = model.cacheNames
    .map((n) => `<option value="${escapeHtml(n)}">${escapeHtml(n)}</option>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>${title}</title>
<link rel="stylesheet" href="${base}/assets/${assets.uplotCss.file}">
<link rel="stylesheet" href="${base}/assets/${assets.style.file}">
<script src="${base}/assets/${assets.uplotJs.file}" defer></script>
<script src="${base}/assets/${assets.script.file}" defer></script>
</head>
<body data-base="${base}" data-interval="${frame.intervalMs}">
<header><h1>${title}</h1>
<p>Figures at <time id="figure-at" datetime="${new Date(frame.at).toISOString()}">${escapeHtml(new Date(frame.at).toISOString())}</time>,
<span id="figure-over">${model.over === 'interval' ? 'over the last' : 'averaged since the process started:'}</span> <span id="figure-interval">${num(frame.intervalMs / 1000, 2)} s</span>.
Stream: <span id="figure-status">not connected</span>; dashboards open: <span id="figure-dashboard-clients">${num(frame.dashboardClients, 0)}</span>.</p></header>
<section id="caches"><h2>Caches</h2>
<div class="charts">${chart('chart-hit-ratio', 'Hit ratio')}${chart('chart-ops', 'Operations / s')}${chart('chart-latency', 'Latency p50 / p99 (ms)')}</div>
<table><thead><tr><th>Cache</th><th>ops/s</th><th>hit ratio</th><th>p50 ms</th><th>p99 ms</th><th>errors/s</th><th>hits</th><th>misses</th></tr></thead>
<tbody id="cache-rows">${cacheRows}</tbody></table></section>
<section id="sessions"><h2>Sessions</h2>
<dl class="figures">${figure('figure-session-count', 'Sessions', num(s.count, 0))}${figure('figure-session-loads', 'Loads / s', num(s.loadsPerSec))}${figure('figure-session-writes', 'Writes / s', num(s.writesPerSec))}</dl>
<div class="charts">${chart('chart-sessions', 'Session loads and writes / s')}</div></section>
<section id="ratelimits"><h2>Rate limits</h2>
<dl class="figures">${figure('figure-allowed', 'Allowed / s', num(sum(frame.rateLimits, 'allowedPerSec')))}${figure('figure-denied', 'Denied / s', num(sum(frame.rateLimits, 'deniedPerSec')))}</dl>
<div class="charts">${chart('chart-ratelimits', 'Checks / s (every limiter)')}</div>
<table><thead><tr><th>Limiter</th><th>allowed/s</th><th>denied/s</th><th>degraded/s</th></tr></thead><tbody id="ratelimit-rows">${rows(
    sorted(frame.rateLimits).map(([name, r]) => [
      name,
      num(r.allowedPerSec),
      num(r.deniedPerSec),
      num(r.degradedPerSec),
    ]),
  )}</tbody></table></section>
<section id="tasks"><h2>Tasks and queues</h2>
<div class="charts">${chart('chart-queues', 'Queue depth (waiting + active + delayed)')}</div>
<table><thead><tr><th>Task</th><th>enqueued/s</th><th>succeeded/s</th><th>failed/s</th></tr></thead><tbody id="task-rows">${rows(
    sorted(frame.tasks).map(([name, t]) => [
      name,
      num(t.enqueuedPerSec),
      num(t.succeededPerSec),
      num(t.failedPerSec),
    ]),
  )}</tbody></table>
<table><thead><tr><th>Queue</th><th>waiting</th><th>active</th><th>delayed</th><th>failed</th></tr></thead><tbody id="queue-rows">${rows(
    sorted(frame.queues).map(([name, q]) => [
      name,
      num(q.waiting, 0),
      num(q.active, 0),
      num(q.delayed, 0),
      num(q.failed, 0),
    ]),
  )}</tbody></table></section>
<section id="pubsub"><h2>Pub/sub</h2>
<dl class="figures">${figure('figure-published', 'Published / s', num(frame.pubsub.publishedPerSec))}${figure('figure-delivered', 'Delivered / s', num(frame.pubsub.deliveredPerSec))}${figure('figure-events', 'Events / s', num(frame.pubsub.eventsPerSec))}${figure('figure-sse-clients', 'SSE clients', num(frame.pubsub.sseClients, 0))}</dl>
<div class="charts">${chart('chart-pubsub', 'Messages / s')}</div></section>
<section id="redis"><h2>Redis</h2>${infoSection(model.info)}<p class="note"><a href="${base}/info">INFO as JSON</a></p></section>
<section id="keys"><h2>Biggest keys</h2>
<form id="keys-form" method="get" action="${base}/keys"><label>Cache <select name="cache">${options}</select></label>
<label>Sample <input name="sample" type="number" min="1" max="10000" value="1000"></label> <button type="submit">Find the biggest keys</button></form>
<p id="keys-status" class="note">On demand: scans up to the sample size and measures each key.</p>
<table><thead><tr><th>Key</th><th>bytes</th><th>TTL</th></tr></thead><tbody id="key-rows"></tbody></table></section>
</body></html>
`;
}
