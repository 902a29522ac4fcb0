/**
 * The dashboard's `/info`: Redis `INFO` figures for every server larder talks to — one entry
 * per connection location (commands, subscriber and tracking sockets to the same place are
 * one), and for a Cluster one per node, primaries and replicas.
 */

import type { Larder } from '../../larder.js';
import type { RedisConnection, Topology } from '../../redis/connection.js';
import { bytes, type ServerInfo, serverInfo } from '../../redis/server-info.js';

/** The figures the dashboard shows for one Redis server. */
export interface NodeInfo {
  address: string;
  /** `master` or `slave`, as INFO says. */
  role?: string;
  version?: string;
  usedMemory?: string;
  /** `0B` when no limit is set. */
  maxmemory?: string;
  maxmemoryPolicy?: string;
  connectedClients?: number;
  evictedKeys?: number;
  opsPerSec?: number;
  keyspaceHits?: number;
  keyspaceMisses?: number;
  /** By database: `db0 → { keys, expires }`. */
  keyspace: Record<string, { keys: number; expires: number }>;
  /** Set when this node did not answer. */
  error?: string;
}

export interface ConnectionInfo {
  name: string;
  topology: Topology;
  nodes: NodeInfo[];
}

/** What `GET /info` answers. */
export interface InfoReport {
  /** True when nothing runs on Redis (the embedded default): `connections` is empty. */
  embedded: boolean;
  message?: string;
  connections: ConnectionInfo[];
}

/**
 * INFO of every server behind `larder.connections` (the default connection is opened if
 * configured and unused yet). A node that fails is listed with its error.
 *
 * @example const report = await redisInfo(larder); report.connections[0].nodes[0].usedMemory // '1.2M'
 */
export async function redisInfo(larder: Larder): Promise<InfoReport> {
  if (larder.config.redis) larder.connection();
  const byName = new Map<string, RedisConnection>();
  for (const conn of larder.connections.connections())
    if (!byName.has(conn.name)) byName.set(conn.name, conn);
  if (byName.size === 0) {
    return {
      embedded: true,
      message: 'No Redis connection: larder runs on its in-memory drivers in this process.',
      connections: [],
    };
  }
  const connections = await Promise.all(
    [...byName.values()].map(async (conn) => ({
      name: conn.name,
      topology: conn.topology,
      nodes: await nodesInfo(conn),
    })),
  );
  return { embedded: false, connections };
}

/**
 * Every server of `conn` from `serverInfo` (the CLI's `larder info` reads the same), in the
 * dashboard's shape: INFO's own role names and memory in its `_human` units.
 */
async function nodesInfo(conn: RedisConnection): Promise<NodeInfo[]> {
  const servers = await serverInfo(conn).catch((error: unknown): ServerInfo[] => [
    {
      address: conn.name,
      role: 'primary',
      connection: conn.name,
      keyspace: {},
      hitRatio: null,
      error: (error as Error).message,
    },
  ]);
  return servers.map((server): NodeInfo => {
    if (server.error) return { address: server.address, keyspace: {}, error: server.error };
    return {
      address: server.address,
      role: server.role === 'primary' ? 'master' : 'slave',
      version: server.version,
      usedMemory: server.usedMemory === undefined ? undefined : bytes(server.usedMemory),
      maxmemory: server.maxmemory === undefined ? undefined : bytes(server.maxmemory),
      maxmemoryPolicy: server.maxmemoryPolicy,
      connectedClients: server.connectedClients,
      evictedKeys: server.evictedKeys,
      opsPerSec: server.opsPerSec,
      keyspaceHits: server.keyspaceHits,
      keyspaceMisses: server.keyspaceMisses,
      keyspace: server.keyspace,
    };
  });
}
