/**
 * `larder info`: the health report (each connection up/down, round trip, topology, whether
 * serving needs it), INFO from every server behind it, and with `--metrics-url` each
 * cache's hit ratio and op counts from the app's Prometheus endpoint.
 */
import type { Command } from 'commander';
import type { HealthReport, Larder } from '../larder.js';
import { bytes, type ServerInfo, serverInfo } from '../redis/server-info.js';
import { type GlobalOptions, noRedis, unreachable } from './context.js';
import { Output, percent } from './output.js';
import { type CacheFigures, fetchCacheFigures, maskUrl } from './prometheus.js';
import type { Runner } from './run.js';

/** What `larder info --json` prints. */
export interface InfoReport extends HealthReport {
  servers: ServerInfo[];
  /** With `--metrics-url`: figures per cache. */
  metrics?: { url: string; caches: Record<string, CacheFigures> };
}

/** Gathers the report; throws a `CliError` when no Redis is configured or none answers. */
export async function gatherInfo(larder: Larder, metricsUrl?: string): Promise<InfoReport> {
  const caches = metricsUrl === undefined ? undefined : await fetchCacheFigures(metricsUrl);
  const health = await larder.health();
  if (health.connections.length === 0) {
    throw noRedis('larder info');
  }
  const commands = health.connections.filter((c) => c.role === 'commands');
  if (commands.every((c) => c.status === 'down')) {
    const first = commands[0]!;
    throw unreachable(first.name, new Error(first.error ?? 'down'));
  }
  const seen = new Set<string>();
  const servers: ServerInfo[] = [];
  for (const conn of larder.connections.connections()) {
    const status = commands.find((c) => c.name === conn.name && c.status === 'up');
    if (!status || seen.has(conn.name)) continue;
    seen.add(conn.name);
    for (const server of await serverInfo(conn)) {
      // Two locations on one server (different databases) show the server once.
      if (!servers.some((s) => s.address === server.address)) servers.push(server);
    }
  }
  return {
    ...health,
    servers,
    ...(caches && metricsUrl ? { metrics: { url: maskUrl(metricsUrl), caches } } : {}),
  };
}

/** The text lines of a report. */
export function infoLines(report: InfoReport): string[] {
  const lines = [`status: ${report.status}`, 'backends:'];
  for (const [capability, backend] of Object.entries(report.backends)) {
    lines.push(`  ${capability.padEnd(18)} ${backend}`);
  }
  lines.push('connections:');
  for (const c of report.connections) {
    const rtt = c.latencyMs === undefined ? '' : `  ${c.latencyMs} ms`;
    const need = c.required === false ? 'optional' : 'required';
    const users = c.usedBy?.length ? `  (${c.usedBy.join(', ')})` : '';
    lines.push(
      `  ${c.status.padEnd(4)} ${c.topology.padEnd(10)} ${c.role ?? ''} ${c.name}${rtt}  ${need}${users}${c.error ? ` — ${c.error}` : ''}`,
    );
    for (const s of c.servers ?? []) {
      const sRtt = s.latencyMs === undefined ? '' : `  ${s.latencyMs} ms`;
      lines.push(
        `      ${s.status.padEnd(4)} ${s.role.padEnd(7)} ${s.address}${sRtt}${s.error ? ` — ${s.error}` : ''}`,
      );
    }
  }
  lines.push('servers:');
  for (const s of report.servers) {
    if (s.error) {
      lines.push(`  ${s.address}  ${s.role}  — ${s.error}`);
      continue;
    }
    const limit = s.maxmemory ? bytes(s.maxmemory) : 'none';
    const keyspace = Object.entries(s.keyspace)
      .map(([db, k]) => `${db} keys=${k.keys} expires=${k.expires}`)
      .join(', ');
    lines.push(
      `  ${s.address}  ${s.role}  redis ${s.version ?? '?'} (${s.mode ?? '?'})`,
      `    memory    ${bytes(s.usedMemory)} used, ${bytes(s.peakMemory)} peak, maxmemory ${limit} (${s.maxmemoryPolicy ?? '?'})`,
      `    clients   ${s.connectedClients ?? '?'} connected, ${s.opsPerSec ?? '?'} ops/s`,
      `    keyspace  ${keyspace || 'empty'}`,
      `    hits      ${percent(s.hitRatio)} (${s.keyspaceHits ?? '?'} hits, ${s.keyspaceMisses ?? '?'} misses), ${s.evictedKeys ?? '?'} evicted`,
    );
  }
  if (report.metrics) {
    lines.push(`caches (from ${report.metrics.url}):`);
    const entries = Object.entries(report.metrics.caches);
    if (entries.length === 0) lines.push('  no larder cache series yet');
    for (const [name, f] of entries) {
      const ops = Object.entries(f.ops)
        .map(([op, n]) => `${op}=${n}`)
        .join(' ');
      lines.push(
        `  ${name.padEnd(16)} hit ratio ${percent(f.hitRatio)}  hits ${f.hits}  misses ${f.misses}  errors ${f.errors}${ops ? `  ops ${ops}` : ''}`,
      );
    }
  }
  return lines;
}

/** Registers `larder info`. */
export function infoCommand(program: Command, run: Runner): void {
  program
    .command('info')
    .description(
      'health of every connection, INFO of every server (Cluster nodes and replicas too), cache hit ratios',
    )
    .option(
      '--metrics-url <url>',
      "the app's Prometheus endpoint (web.metrics()), for each cache's hit ratio and ops",
    )
    .action((opts: { metricsUrl?: string }, cmd: Command) =>
      run(cmd, async (larder, global: GlobalOptions) => {
        const report = await gatherInfo(larder, opts.metricsUrl);
        await new Output(global.json === true).result(report, () => infoLines(report));
        return report.status === 'down' ? 1 : 0;
      }),
    );
}
