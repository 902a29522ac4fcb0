/**
 * The dashboard's `/info`: Redis `INFO` figures for every server larder talks to — one entry
 * per connection location (commands, subscriber and tracking sockets to the same place are
 * one), and for a Cluster one per node, primaries and replicas.
 */

import type { ClusterLocation, StandaloneLocation } from '../../config/types.js';
import type { Larder } from '../../larder.js';
import { type RedisCommands, RedisConnection, type Topology } from '../../redis/connection.js';

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

async function nodesInfo(conn: RedisConnection): Promise<NodeInfo[]> {
  if (conn.topology !== 'cluster') {
    const address = conn.describeNodes()[0] ?? conn.name;
    try {
      const text = await conn.send<string | Buffer>(['INFO']);
      return [parseInfo(address, String(text))];
    } catch (error) {
      return [{ address, keyspace: {}, error: (error as Error).message }];
    }
  }
  let masters: Array<{ address: string }>;
  let cluster: RedisCommands;
  try {
    await conn.ready();
    cluster = await conn.run(async (c) => c);
    masters = [...cluster.masters];
  } catch (error) {
    return [{ address: conn.name, keyspace: {}, error: (error as Error).message }];
  }
  const info = (client: RedisCommands, command: string[]) =>
    conn.run((c) => c.sendCommand(command), false, undefined, false, client).then(String);
  let replicas: string[] = [];
  const primaries = await Promise.all(
    masters.map(async (node, i) => {
      try {
        const client = await cluster.nodeClient(node);
        // larder reads from primaries only, so the cluster client knows no replica: ask
        // one primary for the map (CLUSTER NODES) and visit each replica briefly.
        if (i === 0) replicas = replicasIn(await info(client, ['CLUSTER', 'NODES']));
        return parseInfo(node.address, await info(client, ['INFO']));
      } catch (error) {
        return { address: node.address, keyspace: {}, error: (error as Error).message } as NodeInfo;
      }
    }),
  );
  const location = conn.location as ClusterLocation;
  return [...primaries, ...(await Promise.all(replicas.map((address) => visit(location, address))))];
}

/** Addresses of the replicas in a CLUSTER NODES reply (`<id> <ip:port@cport[,host]> <flags> …`). */
function replicasIn(nodes: string): string[] {
  const out: string[] = [];
  for (const line of nodes.split('\n')) {
    const [, address, flags] = line.split(' ');
    if (address && flags?.split(',').includes('slave')) out.push(address.replace(/@.*$/, ''));
  }
  return out;
}

/** INFO of one server over a connection of its own, closed at once (a Cluster replica). */
async function visit(cluster: ClusterLocation, address: string): Promise<NodeInfo> {
  const at = address.lastIndexOf(':');
  const { nodes: _nodes, kind: _kind, ...common } = cluster;
  const location: StandaloneLocation = {
    ...common,
    kind: 'standalone',
    host: address.slice(0, at),
    port: Number(address.slice(at + 1)),
    db: 0,
    poolSize: 1,
  };
  const conn = new RedisConnection(location, { name: address });
  try {
    return parseInfo(address, String(await conn.send(['INFO'])));
  } catch (error) {
    return { address, keyspace: {}, error: (error as Error).message };
  } finally {
    await conn.close();
  }
}

/**
 * The fields the dashboard shows, from an INFO reply (`field:value` lines).
 *
 * @example parseInfo('127.0.0.1:6379', 'redis_version:7.2.4\r\nused_memory_human:1.02M\r\n').usedMemory // '1.02M'
 */
export function parseInfo(address: string, text: string): NodeInfo {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  const num = (name: string) => {
    const value = fields.get(name);
    return value === undefined ? undefined : Number(value);
  };
  const keyspace: NodeInfo['keyspace'] = {};
  for (const [name, value] of fields) {
    const db = /^db\d+$/.test(name) ? /keys=(\d+),expires=(\d+)/.exec(value) : null;
    if (db) keyspace[name] = { keys: Number(db[1]), expires: Number(db[2]) };
  }
  return {
    address,
    role: fields.get('role'),
    version: fields.get('redis_version'),
    usedMemory: fields.get('used_memory_human'),
    maxmemory: fields.get('maxmemory_human'),
    maxmemoryPolicy: fields.get('maxmemory_policy'),
    connectedClients: num('connected_clients'),
    evictedKeys: num('evicted_keys'),
    opsPerSec: num('instantaneous_ops_per_sec'),
    keyspaceHits: num('keyspace_hits'),
    keyspaceMisses: num('keyspace_misses'),
    keyspace,
  };
}
