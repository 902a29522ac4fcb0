/**
 * @module larder/config/types — the shapes a config takes before and after validation.
 *
 * `LarderConfig` is what users write (DESIGN §3); `ResolvedConfig` is what the rest of
 * larder reads: durations in milliseconds, locations parsed, defaults filled in.
 */

/** A duration: a number of seconds, or `'500ms' | '15s' | '15m' | '2h' | '7d'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

/** An existing node-redis client (or cluster, or sentinel) handed in by the caller. */
export interface ExternalRedisClient {
  sendCommand: (...args: any[]) => Promise<unknown>;
  isOpen?: boolean;
  [key: string]: unknown;
}

/**
 * Where a Redis driver connects: a URL (`redis://`, `rediss://`, `unix://`,
 * `redis+sentinel://`, `redis+cluster://`), an array of standalone URLs (primary first,
 * read replicas after), an object with `url` plus options, or an existing client.
 */
export type LocationInput = string | string[] | RedisLocationOptions | ExternalRedisClient;

/** Options that may sit beside a URL. */
export interface RedisLocationOptions {
  url: string | string[];
  username?: string;
  password?: string;
  /** Seconds (a number) or a duration string, to wait for a connection. @default '5s' */
  connectTimeout?: Duration;
  /** Time a command may take before it fails (or, with `ignoreErrors`, turns into a miss). @default '1s' */
  commandTimeout?: Duration;
  /** Connections opened to the primary for this location. @default 1 */
  poolSize?: number;
  /** TLS options passed to `tls.connect` (implies TLS). */
  tls?: boolean | Record<string, unknown>;
}

/** A parsed host:port. */
export interface HostPort {
  host: string;
  port: number;
}

interface LocationCommon {
  username?: string;
  password?: string;
  tls: boolean;
  /** Extra `tls.connect` options (ca, cert, servername, …). */
  tlsOptions?: Record<string, unknown>;
  /** Milliseconds. */
  connectTimeout: number;
  /** Milliseconds. */
  commandTimeout: number;
  poolSize: number;
}

/** One server reached over TCP or a unix socket. */
export interface StandaloneLocation extends LocationCommon {
  kind: 'standalone';
  host: string;
  port: number;
  /** Unix socket path, when the URL was `unix://`. */
  path?: string;
  db: number;
}

/** A primary for writes and replicas for reads (Django's list of `LOCATION`s). */
export interface ReplicatedLocation extends LocationCommon {
  kind: 'replicas';
  primary: StandaloneLocation;
  replicas: StandaloneLocation[];
  db: number;
}

/** A primary found through Sentinel. */
export interface SentinelLocation extends LocationCommon {
  kind: 'sentinel';
  sentinels: HostPort[];
  masterName: string;
  db: number;
}

/** A Redis Cluster reached through seed nodes. */
export interface ClusterLocation extends LocationCommon {
  kind: 'cluster';
  nodes: HostPort[];
}

/** A client the caller created and owns (larder never quits it). */
export interface ExternalLocation {
  kind: 'external';
  client: ExternalRedisClient;
  commandTimeout: number;
}

export type RedisLocation =
  | StandaloneLocation
  | ReplicatedLocation
  | SentinelLocation
  | ClusterLocation
  | ExternalLocation;
