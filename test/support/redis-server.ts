/**
 * @module Real redis-server processes for tests — standalone, replicated, Sentinel, Cluster — on free
 * loopback ports, each in its own temp dir, always stopped, even when the test process is SIGKILLed.
 * Node built-ins only: readiness and admin commands speak raw RESP over node:net.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;
const CLUSTER_BUS_OFFSET = 10_000;

// ---------------------------------------------------------------------------------------------
// Raw RESP2 over node:net
// ---------------------------------------------------------------------------------------------

/** A decoded RESP2 reply; error replies nested in arrays (e.g. inside EXEC) stay as `Error`s. */
export type RespReply = string | number | null | Error | RespReply[];
/** One argument of a command. */
export type RespArg = string | number | Buffer;
/** Where a server listens: TCP or a unix socket path. */
export type Endpoint = { host: string; port: number } | { path: string };

/** An error reply from the server. */
export class RespError extends Error {
  override name = 'RespError';
}

function encodeCommand(args: RespArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Parses one reply at `start`; `undefined` means more bytes are needed. */
function parseReply(buf: Buffer, start: number): { value: RespReply; end: number } | undefined {
  const lineEnd = buf.indexOf('\r\n', start);
  if (lineEnd < 0) return undefined;
  const line = buf.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (String.fromCharCode(buf[start])) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RespError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buf.length < next + length + 2) return undefined;
      return { value: buf.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespReply[] = [];
      let offset = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, offset);
        if (!item) return undefined;
        items.push(item.value);
        offset = item.end;
      }
      return { value: items, end: offset };
    }
    default:
      throw new Error(`unexpected RESP reply type ${JSON.stringify(buf.toString('utf8', start, lineEnd))}`);
  }
}

/**
 * Sends commands pipelined on one fresh connection and returns every reply in order
 * (error replies as `RespError` values, not rejections).
 * @example const [pong] = await sendCommands({ host: '127.0.0.1', port }, [['PING']]);
 */
export function sendCommands(
  endpoint: Endpoint,
  commands: RespArg[][],
  timeoutMs = 5_000,
): Promise<RespReply[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(endpoint);
    const replies: RespReply[] = [];
    let buffer: Buffer = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply within ${timeoutMs} ms`)));
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('connection closed before every reply arrived')));
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      for (let parsed = parseReply(buffer, 0); parsed; parsed = parseReply(buffer, 0)) {
        replies.push(parsed.value);
        buffer = buffer.subarray(parsed.end);
        if (replies.length === commands.length) break;
      }
      if (replies.length === commands.length) {
        socket.destroy();
        resolve(replies);
      }
    });
    socket.write(Buffer.concat(commands.map(encodeCommand)));
  });
}

// ---------------------------------------------------------------------------------------------
// Ports and polling
// ---------------------------------------------------------------------------------------------

const handedOut = new Set<number>();

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port, host: HOST, exclusive: true }, () => {
      const bound = (server.address() as AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

async function isPortFree(port: number): Promise<boolean> {
  return listenOnce(port).then(
    () => true,
    () => false,
  );
}

/**
 * A loopback port that is free now and was not handed out before in this process. With
 * `clusterBus`, port + 10000 (the Redis Cluster bus port) is free too.
 * @example const port = await freePort({ clusterBus: true });
 */
export async function freePort(opts: { clusterBus?: boolean } = {}): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await listenOnce(0);
    if (handedOut.has(port)) continue;
    if (opts.clusterBus) {
      const bus = port + CLUSTER_BUS_OFFSET;
      if (bus > 65_535 || handedOut.has(bus) || !(await isPortFree(bus))) continue;
      handedOut.add(bus);
    }
    handedOut.add(port);
    return port;
  }
  throw new Error('freePort: no free loopback port found after 100 attempts');
}

/**
 * Polls `check` (with a short backoff) until it returns true; fails after `timeoutMs` with a
 * message naming `what` and the last error `check` threw.
 * @example await waitFor(async () => (await server.command('DBSIZE')) === 1, { what: 'the key to land' });
 */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  opts: { timeoutMs?: number; what?: string } = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let delay = 10; ; delay = Math.min(delay * 2, 100)) {
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}${cause}`);
    }
    await sleep(delay);
  }
}

// ---------------------------------------------------------------------------------------------
// Crash-proof cleanup
// ---------------------------------------------------------------------------------------------

const liveServers = new Set<ServerProcess>();
let cleanupInstalled = false;

function killEverythingNow(): void {
  for (const server of liveServers) server.killNow();
  for (const server of liveServers) rmSync(server.dir, { recursive: true, force: true, maxRetries: 3 });
}

// 'exit' also fires after an uncaught exception, so it covers crashes; a handler of our own for
// 'uncaughtException' would instead keep a crashing process alive (and node:test owns that event).
// SIGKILL, abort() and OOM are left to the per-server watchdog.
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killEverythingNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, function cleanUpRedisServers() {
      killEverythingNow();
      // Listening suppressed the default action; re-raise it unless someone else handles the signal.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, cleanUpRedisServers);
        process.kill(process.pid, signal);
      }
    });
  }
}

// Reads stdin until Node writes a line (the server exited normally: do nothing) or the pipe hits
// EOF, which the kernel causes when the Node process dies by any means: then kill and clean up.
const WATCHDOG_SCRIPT = 'if read _; then exit 0; fi; kill -9 "$1" 2>/dev/null; sleep 0.2; rm -rf "$2"';

function startWatchdog(pid: number, dir: string): ChildProcess {
  const watchdog = spawn('sh', ['-c', WATCHDOG_SCRIPT, 'larder-redis-watchdog', String(pid), dir], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.stdin?.on('error', () => {});
  (watchdog.stdin as unknown as net.Socket | null)?.unref();
  watchdog.unref();
  return watchdog;
}

// ---------------------------------------------------------------------------------------------
// One redis-server (or sentinel) process
// ---------------------------------------------------------------------------------------------

/** A redis-server or sentinel process started by this harness. */
export interface RedisServerHandle {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:PORT`, with `:password@` (or `user:password@`) when the server needs auth. */
  readonly url: string;
  /** The unix socket path, when started with `unixSocket: true`. */
  readonly unixPath?: string;
  /** The server's own temp dir (config, log, nodes.conf); removed by `stop()`. */
  readonly dir: string;
  /** The pid of the redis-server process itself (it changes on `restart()`). */
  readonly pid: number;
  /** Whether the process is alive (a paused process is alive). */
  readonly running: boolean;
  /** Stops the process (SIGTERM, SIGKILL after 3 s) and removes its dir; safe to call twice. */
  stop(): Promise<void>;
  /** Sends `signal` (default SIGKILL); for SIGKILL/SIGTERM/SIGINT resolves once the process is gone. Keeps the dir. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  /** Undoes `pause()` (SIGCONT). */
  resume(): void;
  /** Stops the process if it runs, starts it again on the same port and dir, resolves when PING answers. */
  restart(): Promise<void>;
  /** Runs `redis-cli` against this server (with its auth); resolves stdout, rejects on an error reply. */
  cli(...args: string[]): Promise<string>;
  /** Sends one command over raw RESP (with auth); resolves the reply, rejects on an error reply. */
  command(...args: RespArg[]): Promise<RespReply>;
  /** The last `lines` lines of the server's log file. */
  logTail(lines?: number): string;
}

interface Credentials {
  username?: string;
  password: string;
}

interface LaunchSpec {
  sentinel?: boolean;
  clusterBus?: boolean;
  unixSocket?: boolean;
  auth?: Credentials;
  /** Config directives, one per line, for a given port and dir. */
  conf: (port: number, dir: string) => string[];
  /** Extra command-line arguments, after the config file (they override it). */
  args?: string[];
}

function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

class ServerProcess implements RedisServerHandle {
  readonly host = HOST;
  readonly unixPath: string | undefined;
  port = 0;
  running = false;
  private child: ChildProcess | undefined;
  private watchdog: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  private removed = false;

  constructor(
    readonly dir: string,
    private readonly spec: LaunchSpec,
  ) {
    this.unixPath = spec.unixSocket ? path.join(dir, 'redis.sock') : undefined;
    // Bound, so tests can pass `server.cli` or `server.stop` around as plain functions.
    for (const method of [
      'stop',
      'kill',
      'pause',
      'resume',
      'restart',
      'cli',
      'command',
      'logTail',
    ] as const) {
      (this as Record<string, unknown>)[method] = this[method].bind(this);
    }
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  get url(): string {
    const auth = this.spec.auth;
    const userinfo = auth
      ? `${encodeURIComponent(auth.username && auth.username !== 'default' ? auth.username : '')}:${encodeURIComponent(auth.password)}@`
      : '';
    return `redis://${userinfo}${HOST}:${this.port}`;
  }

  private get confPath(): string {
    return path.join(this.dir, 'redis.conf');
  }

  /** Writes the config for `port`; done once, so restarts keep what Redis rewrote (Sentinel, replicaof). */
  configure(port: number): void {
    this.port = port;
    const lines = this.spec.conf(port, this.dir);
    if (this.unixPath) lines.push(`unixsocket ${quote(this.unixPath)}`, 'unixsocketperm 700');
    writeFileSync(this.confPath, `${lines.join('\n')}\n`);
  }

  async launch(): Promise<void> {
    if (this.removed) throw new Error(`redis-server on port ${this.port} was stopped and its dir removed`);
    installCleanup();
    const args = [this.confPath, ...(this.spec.sentinel ? ['--sentinel'] : []), ...(this.spec.args ?? [])];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.output = '';
    this.running = true;
    let spawnError: Error | undefined;
    this.exited = new Promise((resolve) => {
      const done = (error?: Error) => {
        spawnError ??= error;
        this.running = false;
        this.releaseWatchdog();
        resolve();
      };
      child.once('exit', () => done());
      child.once('error', (error) => done(error));
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (chunk: Buffer) => {
        this.output = (this.output + chunk.toString()).slice(-4_000);
      });
      (stream as unknown as net.Socket | null)?.unref();
    }
    child.unref();
    if (child.pid) this.watchdog = startWatchdog(child.pid, this.dir);
    await this.waitUntilReady(() => spawnError);
  }

  private async waitUntilReady(spawnError: () => Error | undefined): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      if (!this.running) {
        const error = spawnError();
        if (error && 'code' in error && error.code === 'ENOENT') {
          throw new Error(
            'redis-server is not installed: run `npm test` (it installs it) or `apt-get install redis-server`',
          );
        }
        throw this.startError(`exited during start-up${error ? ` (${error.message})` : ''}`);
      }
      if (await this.answersPing()) return;
      if (Date.now() >= deadline) {
        throw this.startError(`did not answer PING within ${READY_TIMEOUT_MS / 1000} s`);
      }
      await sleep(delay);
    }
  }

  private async answersPing(): Promise<boolean> {
    try {
      const commands = [...this.authCommands(), ['PING'], ['INFO', 'server']];
      const [pong, info] = (await sendCommands(this.endpoint(), commands, 1_000)).slice(-2);
      // An auth error is an answer too: ACL tests may start a server the handle cannot log in to.
      if (pong instanceof RespError) return /^(NOAUTH|WRONGPASS|NOPERM)/.test(pong.message);
      // Another test process's server may have taken the port while ours failed to bind: check it is ours.
      return pong === 'PONG' && Number(infoField(info, 'process_id')) === this.child?.pid;
    } catch {
      return false;
    }
  }

  private startError(reason: string): Error {
    const output = this.output.trim() ? `\n--- redis-server output ---\n${this.output.trim()}` : '';
    return new Error(
      `redis-server on ${HOST}:${this.port} (dir ${this.dir}) ${reason}${output}\n--- last lines of redis.log ---\n${this.logTail(20)}`,
    );
  }

  /** Whether the last failed start was a port clash (then the caller picks another port). */
  get portWasTaken(): boolean {
    return /Address already in use/i.test(this.output + this.logTail(20));
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(path.join(this.dir, 'redis.log'), 'utf8')
        .trimEnd()
        .split('\n')
        .slice(-lines)
        .join('\n');
    } catch {
      return '(no log file)';
    }
  }

  private endpoint(): Endpoint {
    return { host: HOST, port: this.port };
  }

  private authCommands(): RespArg[][] {
    const auth = this.spec.auth;
    if (!auth) return [];
    return [auth.username ? ['AUTH', auth.username, auth.password] : ['AUTH', auth.password]];
  }

  async command(...args: RespArg[]): Promise<RespReply> {
    const replies = await sendCommands(this.endpoint(), [...this.authCommands(), args]);
    for (const reply of replies) if (reply instanceof RespError) throw reply;
    return replies.at(-1) as RespReply;
  }

  cli(...args: string[]): Promise<string> {
    const auth = this.spec.auth;
    const authArgs = auth
      ? [...(auth.username ? ['--user', auth.username] : []), '--pass', auth.password, '--no-auth-warning']
      : [];
    return runRedisCli(['-h', HOST, '-p', String(this.port), ...authArgs, '-e', ...args]);
  }

  private signal(signal: NodeJS.Signals): void {
    if (!this.running || !this.child?.pid) return;
    try {
      process.kill(this.child.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  private releaseWatchdog(): void {
    const watchdog = this.watchdog;
    this.watchdog = undefined;
    if (watchdog?.stdin?.writable) watchdog.stdin.end('exited\n');
  }

  /** Sends `signal` (and SIGCONT, so a paused process can act on it), SIGKILL if it outlives the grace. */
  private async terminate(signal: NodeJS.Signals): Promise<void> {
    if (!this.running) return;
    this.signal(signal);
    this.signal('SIGCONT');
    if (await timesOut(this.exited, STOP_GRACE_MS)) {
      this.signal('SIGKILL');
      await timesOut(this.exited, STOP_GRACE_MS);
    }
  }

  async stop(): Promise<void> {
    await this.terminate('SIGTERM');
    this.removed = true;
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    liveServers.delete(this);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') return this.terminate(signal);
    this.signal(signal);
  }

  pause(): void {
    this.signal('SIGSTOP');
  }

  resume(): void {
    this.signal('SIGCONT');
  }

  async restart(): Promise<void> {
    await this.terminate('SIGTERM');
    await this.launch();
  }

  /** Synchronous SIGKILL for exit paths, where nothing asynchronous runs any more. */
  killNow(): void {
    this.signal('SIGKILL');
  }
}

/** Whether `promise` is still pending after `ms`; the child is unref'd, so this ref'd timer also keeps the loop alive. */
async function timesOut(promise: Promise<void>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const late = await Promise.race([
    promise.then(() => false),
    sleep(ms, true, { signal: timer.signal }).catch(() => false),
  ]);
  timer.abort();
  return late;
}

function runRedisCli(args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'redis-cli',
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const detail = `${stdout}${stderr}`.trim() || error.message;
          reject(new Error(`redis-cli ${args.join(' ')} failed: ${detail}`));
        } else {
          resolve(stdout.replace(/\n$/, ''));
        }
      },
    );
  });
}

/** Starts one process on a fresh port in a fresh temp dir; retries on a port clash with another process. */
async function launchServer(spec: LaunchSpec): Promise<ServerProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'larder-redis-'));
  const server = new ServerProcess(dir, spec);
  liveServers.add(server);
  for (let attempt = 1; ; attempt++) {
    server.configure(await freePort({ clusterBus: spec.clusterBus }));
    try {
      await server.launch();
      return server;
    } catch (error) {
      if (attempt < 3 && server.portWasTaken) continue;
      await server.stop();
      throw error;
    }
  }
}

async function launchAll(specs: LaunchSpec[]): Promise<ServerProcess[]> {
  const results = await Promise.allSettled(specs.map(launchServer));
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failure = results.find((r) => r.status === 'rejected');
  if (failure) {
    await Promise.all(started.map((s) => s.stop()));
    throw failure.reason;
  }
  return started;
}

function baseConf(port: number, dir: string): string[] {
  return [
    `port ${port}`,
    `bind ${HOST}`,
    'protected-mode no',
    'daemonize no',
    `dir ${quote(dir)}`,
    `logfile ${quote(path.join(dir, 'redis.log'))}`,
  ];
}

// repl-diskless-sync-delay defaults to 5 s, which would delay every replica's first sync; and until
// the primary's 10 s replication ping moves the offset, CLUSTER SLOTS leaves replicas out.
const dataConf = ['save ""', 'appendonly no', 'repl-diskless-sync-delay 0', 'repl-ping-replica-period 1'];

// ---------------------------------------------------------------------------------------------
// Topologies
// ---------------------------------------------------------------------------------------------

/** Options of `startStandalone`. */
export interface StandaloneOptions {
  /** `requirepass` (the default user's password); the handle authenticates with it. */
  password?: string;
  /** Raw ACL user lines, each written as `user <line>`, e.g. `'alice on >secret ~app:* +@all'`. */
  users?: string[];
  /** Credentials the handle uses for url, cli and command instead of `password` (e.g. an ACL user). */
  auth?: { username: string; password: string };
  /** Extra redis-server arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: string[];
  /** Also listen on `<dir>/redis.sock` (see `unixPath`). */
  unixSocket?: boolean;
}

/**
 * Starts one standalone redis-server on a free loopback port.
 * @example const redis = await startStandalone({ password: 's3cret' }); await redis.command('SET', 'k', 'v');
 */
export async function startStandalone(opts: StandaloneOptions = {}): Promise<RedisServerHandle> {
  const extra = [
    ...(opts.password !== undefined ? [`requirepass ${quote(opts.password)}`] : []),
    ...(opts.users ?? []).map((line) => `user ${line}`),
  ];
  return launchServer({
    conf: (port, dir) => [...baseConf(port, dir), ...dataConf, ...extra],
    args: opts.args,
    unixSocket: opts.unixSocket,
    auth: opts.auth ?? (opts.password !== undefined ? { password: opts.password } : undefined),
  });
}

function infoField(info: RespReply, field: string): string | undefined {
  return typeof info === 'string' ? new RegExp(`^${field}:(.*?)\\r?$`, 'm').exec(info)?.[1] : undefined;
}

async function replicaLinkIsUp(replica: RedisServerHandle): Promise<boolean> {
  return infoField(await replica.command('INFO', 'replication'), 'master_link_status') === 'up';
}

/** A primary with replicas; `urls` is primary first, as larder's array-of-URLs location. */
export interface ReplicatedRedis {
  primary: RedisServerHandle;
  replicas: RedisServerHandle[];
  urls: string[];
  stop(): Promise<void>;
}

/**
 * Starts a primary and `replicas` replicas (default 1); resolves once every replica's link is up.
 * @example const { primary, replicas } = await startReplicated({ replicas: 2 });
 */
export async function startReplicated(opts: { replicas?: number } = {}): Promise<ReplicatedRedis> {
  const conf = (port: number, dir: string) => [...baseConf(port, dir), ...dataConf];
  const [primary] = await launchAll([{ conf }]);
  let replicas: ServerProcess[] = [];
  const stop = async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await primary.stop();
  };
  try {
    replicas = await launchAll(Array.from({ length: opts.replicas ?? 1 }, () => ({ conf })));
    // A replicaof line in the config would wait for the next once-a-second replication cron to
    // connect; the command connects at once, and CONFIG REWRITE keeps it for restart().
    for (const replica of replicas) {
      await replica.command('REPLICAOF', HOST, primary.port);
      await replica.command('CONFIG', 'REWRITE');
    }
    await waitFor(async () => (await Promise.all(replicas.map(replicaLinkIsUp))).every(Boolean), {
      what: 'every replica to report master_link_status:up',
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { primary, replicas, urls: [primary.url, ...replicas.map((r) => r.url)], stop };
}

/** Options of `startSentinel`. */
export interface SentinelOptions {
  /** @default 1 */
  replicas?: number;
  /** @default 3 */
  sentinels?: number;
  /** @default 'mymaster' */
  masterName?: string;
  /** @default min(2, sentinels) */
  quorum?: number;
  /** @default 1000 */
  downAfterMs?: number;
  /** @default 3000 */
  failoverTimeoutMs?: number;
}

/** A Sentinel-managed primary, its replicas and the sentinels watching it. */
export interface SentinelRedis {
  /** The primary at start-up; after a failover ask `currentPrimary()`. */
  primary: RedisServerHandle;
  replicas: RedisServerHandle[];
  sentinels: RedisServerHandle[];
  masterName: string;
  /** `redis+sentinel://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/mymaster` */
  url: string;
  /** The primary's address as the first sentinel that answers reports it. */
  currentPrimary(): Promise<{ host: string; port: number }>;
  /** The started process (primary or replica) listening at the current primary's address. */
  currentPrimaryHandle(): Promise<RedisServerHandle>;
  stop(): Promise<void>;
}

function pairsToRecord(reply: RespReply): Record<string, string> {
  const record: Record<string, string> = {};
  if (Array.isArray(reply))
    for (let i = 0; i + 1 < reply.length; i += 2) record[String(reply[i])] = String(reply[i + 1]);
  return record;
}

/**
 * Starts a primary, replicas and sentinels (quorum 2, fast failover); resolves once every sentinel
 * sees the primary, every replica and every other sentinel.
 * @example const s = await startSentinel(); await s.primary.kill(); await waitFor(async () => (await s.currentPrimary()).port !== s.primary.port);
 */
export async function startSentinel(opts: SentinelOptions = {}): Promise<SentinelRedis> {
  const masterName = opts.masterName ?? 'mymaster';
  const sentinelCount = opts.sentinels ?? 3;
  const quorum = opts.quorum ?? Math.min(2, sentinelCount);
  const data = await startReplicated({ replicas: opts.replicas ?? 1 });
  const sentinelConf = (port: number, dir: string) => [
    ...baseConf(port, dir),
    'sentinel resolve-hostnames no',
    `sentinel monitor ${masterName} ${HOST} ${data.primary.port} ${quorum}`,
    `sentinel down-after-milliseconds ${masterName} ${opts.downAfterMs ?? 1_000}`,
    `sentinel failover-timeout ${masterName} ${opts.failoverTimeoutMs ?? 3_000}`,
    `sentinel parallel-syncs ${masterName} 1`,
  ];
  let sentinels: ServerProcess[] = [];
  const stop = async () => {
    // Sentinels first, so that stopping the data nodes cannot start a failover.
    await Promise.all(sentinels.map((s) => s.stop()));
    await data.stop();
  };
  try {
    sentinels = await launchAll(
      Array.from({ length: sentinelCount }, () => ({ sentinel: true, conf: sentinelConf })),
    );
    const seesEverything = async (sentinel: RedisServerHandle) => {
      const master = pairsToRecord(await sentinel.command('SENTINEL', 'MASTER', masterName));
      return (
        master.flags === 'master' &&
        Number(master['num-slaves']) === data.replicas.length &&
        Number(master['num-other-sentinels']) === sentinelCount - 1
      );
    };
    await waitFor(async () => (await Promise.all(sentinels.map(seesEverything))).every(Boolean), {
      what: 'every sentinel to see the primary, its replicas and the other sentinels',
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const currentPrimary = async () => {
    let lastError: unknown;
    for (const sentinel of sentinels.filter((s) => s.running)) {
      try {
        const [host, port] = (await sentinel.command(
          'SENTINEL',
          'GET-MASTER-ADDR-BY-NAME',
          masterName,
        )) as string[];
        return { host, port: Number(port) };
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error(`no sentinel answered GET-MASTER-ADDR-BY-NAME ${masterName}`, { cause: lastError });
  };
  const currentPrimaryHandle = async () => {
    const { port } = await currentPrimary();
    const found = [data.primary, ...data.replicas].find((s) => s.port === port);
    if (!found)
      throw new Error(`sentinels report a primary on port ${port}, which this harness did not start`);
    return found;
  };
  const url = `redis+sentinel://${sentinels.map((s) => `${HOST}:${s.port}`).join(',')}/${masterName}`;
  return { ...data, sentinels, masterName, url, currentPrimary, currentPrimaryHandle, stop };
}

// ---------------------------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------------------------

/** Options of `startCluster`. */
export interface ClusterOptions {
  /** At least 3 (what `redis-cli --cluster create` accepts). @default 3 */
  primaries?: number;
  /** @default 1 */
  replicasPerPrimary?: number;
  /** @default 2000 */
  nodeTimeoutMs?: number;
}

/** A slot migration left half-way, so that tests can provoke ASK redirections. */
export interface SlotMigration {
  /** Moves `keys` (default: every key still in the slot, in batches of 100); resolves `keys.length`, or how many it moved. */
  moveKeys(keys?: string[]): Promise<number>;
  /** Moves what is left, assigns the slot to the target on every primary and waits until all nodes agree. */
  finish(): Promise<void>;
}

/** A Redis Cluster of real nodes. */
export interface RedisCluster {
  nodes: RedisServerHandle[];
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...` (every node). */
  url: string;
  seeds: Array<{ host: string; port: number }>;
  /** The running primaries as of start-up or the last `currentPrimaries()` / `waitUntilStable()`. */
  primaries(): RedisServerHandle[];
  /** Asks every running node its ROLE; resolves the primaries (and refreshes `primaries()`). */
  currentPrimaries(): Promise<RedisServerHandle[]>;
  /** The primary that serves `slot` now. */
  nodeForSlot(slot: number): Promise<RedisServerHandle>;
  /** `CLUSTER KEYSLOT key`. */
  slotOf(key: string): Promise<number>;
  /** Moves `slot` with its keys from one primary to another (IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE). */
  migrateSlot(slot: number, from: RedisServerHandle, to: RedisServerHandle): Promise<void>;
  /** Marks `slot` as migrating without moving keys yet; see `SlotMigration`. */
  beginSlotMigration(slot: number, from: RedisServerHandle, to: RedisServerHandle): Promise<SlotMigration>;
  /** Waits until every running node says cluster_state:ok and all agree on the slot map (e.g. after a failover). */
  waitUntilStable(opts?: { timeoutMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

/** `start-end:primaryPort[,replicaPort...]` per range, sorted: equal strings mean equal views. */
function slotMapSignature(reply: RespReply): string {
  if (!Array.isArray(reply)) return '';
  return reply
    .map((range) => {
      const [start, end, primary, ...replicas] = range as [number, number, RespReply[], ...RespReply[][]];
      const ports = [primary[1], ...replicas.map((r) => r[1]).sort()];
      return `${start}-${end}:${ports.join(',')}`;
    })
    .sort()
    .join(' ');
}

async function clusterView(node: RedisServerHandle): Promise<{ ok: boolean; signature: string }> {
  const [info, slots] = await Promise.all([
    node.command('CLUSTER', 'INFO'),
    node.command('CLUSTER', 'SLOTS'),
  ]);
  return { ok: infoField(info, 'cluster_state') === 'ok', signature: slotMapSignature(slots) };
}

async function clusterIsStable(nodes: ServerProcess[], expectNodes?: number): Promise<boolean> {
  const running = nodes.filter((n) => n.running);
  const views = await Promise.all(running.map(clusterView));
  const signature = views[0]?.signature;
  if (!signature || !views.every((v) => v.ok && v.signature === signature)) return false;
  if (expectNodes === undefined) return true;
  // At start-up also require that every node is in the map and every replica has synced.
  if (countPorts(signature) !== expectNodes) return false;
  const roles = await Promise.all(running.map((n) => n.command('ROLE')));
  const replicas = running.filter((_, i) => (roles[i] as RespReply[])[0] === 'slave');
  return (await Promise.all(replicas.map(replicaLinkIsUp))).every(Boolean);
}

function countPorts(signature: string): number {
  return new Set(signature.split(' ').flatMap((range) => range.split(':')[1].split(','))).size;
}

/**
 * Starts a Redis Cluster (default 3 primaries with 1 replica each) with `redis-cli --cluster create`;
 * resolves once every node says cluster_state:ok, agrees on the slot map and every replica has synced.
 * @example const cluster = await startCluster(); const owner = await cluster.nodeForSlot(await cluster.slotOf('k'));
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<RedisCluster> {
  const primaryCount = opts.primaries ?? 3;
  const perPrimary = opts.replicasPerPrimary ?? 1;
  if (primaryCount < 3) throw new Error(`startCluster: primaries must be at least 3, got ${primaryCount}`);
  const nodeConf = (port: number, dir: string) => [
    ...baseConf(port, dir),
    ...dataConf,
    'cluster-enabled yes',
    `cluster-config-file ${quote(path.join(dir, 'nodes.conf'))}`,
    `cluster-node-timeout ${opts.nodeTimeoutMs ?? 2_000}`,
  ];
  const total = primaryCount * (1 + perPrimary);
  const nodes = await launchAll(Array.from({ length: total }, () => ({ clusterBus: true, conf: nodeConf })));
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    const addresses = nodes.map((n) => `${HOST}:${n.port}`);
    await runRedisCli([
      '--cluster',
      'create',
      ...addresses,
      '--cluster-replicas',
      String(perPrimary),
      '--cluster-yes',
    ]);
    await waitFor(() => clusterIsStable(nodes, total), { what: 'the new cluster to agree on its slot map' });
    const cluster = clusterApi(nodes, stop);
    await cluster.currentPrimaries();
    return cluster;
  } catch (error) {
    await stop();
    throw error;
  }
}

function clusterApi(nodes: ServerProcess[], stop: () => Promise<void>): RedisCluster {
  const anyRunning = () => {
    const node = nodes.find((n) => n.running);
    if (!node) throw new Error('no cluster node is running');
    return node;
  };
  const byPort = (port: number) => {
    const node = nodes.find((n) => n.port === port);
    if (!node) throw new Error(`the cluster reports port ${port}, which this harness did not start`);
    return node;
  };
  let knownPrimaries = new Set<ServerProcess>();
  const primaries = () => nodes.filter((n) => n.running && knownPrimaries.has(n));
  const currentPrimaries = async () => {
    const running = nodes.filter((n) => n.running);
    const roles = await Promise.all(running.map((n) => n.command('ROLE')));
    knownPrimaries = new Set(running.filter((_, i) => (roles[i] as RespReply[])[0] === 'master'));
    return primaries();
  };
  const waitUntilStable = async (o: { timeoutMs?: number } = {}) => {
    await waitFor(() => clusterIsStable(nodes), {
      timeoutMs: o.timeoutMs,
      what: 'every cluster node to agree on the slot map',
    });
    await currentPrimaries();
  };
  const nodeForSlot = async (slot: number) => {
    const ranges = (await anyRunning().command('CLUSTER', 'SLOTS')) as [number, number, RespReply[]][];
    const range = ranges.find(([start, end]) => slot >= start && slot <= end);
    if (!range) throw new Error(`no node serves slot ${slot}`);
    return byPort(Number(range[2][1]));
  };
  const beginSlotMigration = (slot: number, from: RedisServerHandle, to: RedisServerHandle) =>
    startSlotMigration(slot, from, to, currentPrimaries, async () => {
      await waitFor(
        async () => {
          const owners = await Promise.all(
            nodes.filter((n) => n.running).map(async (n) => nodeForSlotVia(n, slot)),
          );
          return owners.every((port) => port === to.port);
        },
        { what: `every node to see slot ${slot} on port ${to.port}` },
      );
    });
  return {
    nodes,
    url: `redis+cluster://${nodes.map((n) => `${HOST}:${n.port}`).join(',')}`,
    seeds: nodes.map((n) => ({ host: HOST, port: n.port })),
    primaries,
    currentPrimaries,
    nodeForSlot,
    slotOf: async (key) => Number(await anyRunning().command('CLUSTER', 'KEYSLOT', key)),
    migrateSlot: async (slot, from, to) => (await beginSlotMigration(slot, from, to)).finish(),
    beginSlotMigration,
    waitUntilStable,
    stop,
  };
}

async function nodeForSlotVia(node: RedisServerHandle, slot: number): Promise<number | undefined> {
  const ranges = (await node.command('CLUSTER', 'SLOTS')) as [number, number, RespReply[]][];
  const range = ranges.find(([start, end]) => slot >= start && slot <= end);
  return range ? Number(range[2][1]) : undefined;
}

async function startSlotMigration(
  slot: number,
  from: RedisServerHandle,
  to: RedisServerHandle,
  primaries: () => Promise<RedisServerHandle[]>,
  waitForAgreement: () => Promise<void>,
): Promise<SlotMigration> {
  const [fromId, toId] = (await Promise.all([
    from.command('CLUSTER', 'MYID'),
    to.command('CLUSTER', 'MYID'),
  ])) as string[];
  // Target first: once the source is MIGRATING it answers ASK, and the target must already accept ASKING.
  await to.command('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
  await from.command('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
  const migrate = (keys: string[]) =>
    from.command('MIGRATE', to.host, to.port, '', 0, 5_000, 'REPLACE', 'KEYS', ...keys);
  const moveKeys = async (keys?: string[]) => {
    if (keys) {
      if (keys.length) await migrate(keys);
      return keys.length;
    }
    let moved = 0;
    for (;;) {
      const batch = (await from.command('CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
      if (!batch.length) return moved;
      await migrate(batch);
      moved += batch.length;
    }
  };
  const finish = async () => {
    await moveKeys();
    // Target, then source, then the rest — the order the Redis cluster spec recommends.
    const others = (await primaries()).filter((p) => p.port !== from.port && p.port !== to.port);
    for (const node of [to, from, ...others]) await node.command('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    await waitForAgreement();
  };
  return { moveKeys, finish };
}

// ---------------------------------------------------------------------------------------------

/**
 * Stops every server this process started (and removes their temp dirs).
 * @example after(stopAll);
 */
export async function stopAll(): Promise<void> {
  await Promise.all([...liveServers].map((s) => s.stop()));
}
