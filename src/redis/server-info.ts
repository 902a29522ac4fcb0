/**
 * `INFO` from every server behind a connection (each Cluster node, replicas too), reduced
 * to what an operator looks at first: version, role, memory and its limit, clients,
 * keyspace, evictions, ops/s and the keyspace hit ratio. `larder info` prints it; the
 * dashboard's `/info` shows it.
 */
import type { RedisConnection } from './connection.js';

/** One server's figures (`larder info`). Memory in bytes. */
export interface ServerInfo {
  address: string;
  role: 'primary' | 'replica';
  /** The connection it was reached through (redacted URL). */
  connection: string;
  version?: string;
  /** `standalone`, `cluster` or `sentinel` (redis_mode). */
  mode?: string;
  usedMemory?: number;
  peakMemory?: number;
  /** 0 = no limit. */
  maxmemory?: number;
  maxmemoryPolicy?: string;
  connectedClients?: number;
  /** Per database: `{ db0: { keys, expires } }`. */
  keyspace: Record<string, { keys: number; expires: number }>;
  evictedKeys?: number;
  opsPerSec?: number;
  keyspaceHits?: number;
  keyspaceMisses?: number;
  /** hits / (hits + misses) since the server started, `null` before any lookup. */
  hitRatio: number | null;
  /** Set when the server could not be asked. */
  error?: string;
}

/** `field:value` lines of an INFO reply. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

const num = (value: string | undefined) => (value === undefined ? undefined : Number(value));

/**
 * The figures of one INFO reply.
 *
 * @example summarize(parseInfo(infoText), { address: '127.0.0.1:6379', role: 'primary', connection: url })
 */
export function summarize(
  fields: Map<string, string>,
  where: Pick<ServerInfo, 'address' | 'role' | 'connection'>,
): ServerInfo {
  const keyspace: ServerInfo['keyspace'] = {};
  for (const [name, value] of fields) {
    if (!/^db\d+$/.test(name)) continue;
    const parts = Object.fromEntries(value.split(',').map((kv) => kv.split('=') as [string, string]));
    keyspace[name] = { keys: Number(parts.keys ?? 0), expires: Number(parts.expires ?? 0) };
  }
  const hits = num(fields.get('keyspace_hits'));
  const misses = num(fields.get('keyspace_misses'));
  const role = fields.get('role');
  return {
    ...where,
    ...(role ? { role: role === 'master' ? 'primary' : 'replica' } : {}),
    version: fields.get('redis_version'),
    mode: fields.get('redis_mode'),
    usedMemory: num(fields.get('used_memory')),
    peakMemory: num(fields.get('used_memory_peak')),
    maxmemory: num(fields.get('maxmemory')),
    maxmemoryPolicy: fields.get('maxmemory_policy'),
    connectedClients: num(fields.get('connected_clients')),
    keyspace,
    evictedKeys: num(fields.get('evicted_keys')),
    opsPerSec: num(fields.get('instantaneous_ops_per_sec')),
    keyspaceHits: hits,
    keyspaceMisses: misses,
    hitRatio: hits !== undefined && misses !== undefined && hits + misses > 0 ? hits / (hits + misses) : null,
  };
}

/**
 * INFO from every server of `conn`; a server that does not answer is listed with `error`.
 *
 * @example const servers = await serverInfo(larder.connection());
 */
export async function serverInfo(conn: RedisConnection): Promise<ServerInfo[]> {
  const servers = await conn.servers();
  return Promise.all(
    servers.map(async (server) => {
      const where = { address: server.address, role: server.role, connection: conn.name };
      try {
        const reply = await conn.sendTo<unknown>(server, ['INFO']);
        return summarize(parseInfo(String(reply)), where);
      } catch (error) {
        return { ...where, keyspace: {}, hitRatio: null, error: (error as Error).message };
      }
    }),
  );
}

/** Bytes in the units INFO's `_human` fields use (`1.20M`). */
export function bytes(n: number | undefined): string {
  if (n === undefined) return '?';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value}B` : `${value.toFixed(2)}${units[unit]}`;
}
