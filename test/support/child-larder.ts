/**
 * @module N child processes, each with its own Larder on one Redis URL, driven over IPC —
 * for what one process cannot show: cross-process invalidation of in-process tiers,
 * cross-process stampede protection.
 *
 * @example
 * const children = await startChildLarders(3, { url, cache: { backend: 'tiered', keyPrefix: 'p' } });
 * try {
 *   await children[0].set('k', 'v');
 *   await children[1].getOrSet('k', { value: 'loaded', counterKey: 'loads' }); // loader INCRs 'loads'
 * } finally {
 *   await stopChildLarders(children);
 * }
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CacheConfig } from '../../src/config/index.js';

/** A request to a child (one per operation; see `ChildLarder` for what each returns). */
export type ChildRequest =
  | { op: 'get'; key: string }
  | { op: 'getEntry'; key: string }
  | { op: 'set'; key: string; value: unknown; timeout?: number | string | null }
  | { op: 'getOrSet'; key: string; value: unknown; counterKey: string; delayMs?: number }
  | { op: 'command'; args: string[] }
  | { op: 'holds'; key: string }
  | { op: 'tracking'; boundMs: number }
  | { op: 'waitEvicted'; key: string; boundMs: number }
  | { op: 'close' };

/** Options of `startChildLarders`. */
export interface ChildLarderOptions {
  /** The Redis URL every child's Larder uses (`redis://…` or `redis+cluster://…`). */
  url: string;
  /** The child's `caches.default` config (JSON only: no keyFunction). */
  cache: CacheConfig;
}

/** One child process with its Larder's default cache. */
export interface ChildLarder {
  readonly pid: number;
  /** `cache.get(key)`. */
  get(key: string): Promise<unknown>;
  /** `cache.getEntry(key)`'s value and status (`'hit' | 'hit-local' | 'stale' | 'miss'`). */
  getEntry(key: string): Promise<{ value: unknown; status: string }>;
  /** `cache.set(key, value, { timeout })`; resolves the epoch ms (sub-ms) just before the write was sent. */
  set(key: string, value: unknown, timeout?: number | string | null): Promise<number>;
  /**
   * `cache.getOrSet(key, loader)` where the loader INCRs `counterKey` in Redis (so a test counts
   * loads across processes), waits `delayMs`, and returns `value`.
   */
  getOrSet(key: string, options: { value: unknown; counterKey: string; delayMs?: number }): Promise<unknown>;
  /** A raw Redis command on the child's connection (`['GET', 'loads']`); on Cluster the second argument is the key. */
  command(args: string[]): Promise<unknown>;
  /** Whether the child's in-process tier holds `key` (tiered caches). */
  holds(key: string): Promise<boolean>;
  /** Resolves once the child's tier has tracking up (rejects after `boundMs`). */
  tracking(boundMs?: number): Promise<void>;
  /** Resolves the epoch ms at which the child saw `key` leave its tier (polled every 1 ms). */
  waitEvicted(key: string, boundMs?: number): Promise<number>;
  /** Closes the child's Larder and lets the process exit. */
  close(): Promise<void>;
}

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'child-larder-main.ts');
const START_TIMEOUT_MS = 30_000;

/**
 * Starts `count` children (`node --import tsx child-larder-main.ts`), each with its own
 * Larder; resolves once all are ready. Stop them with `stopChildLarders`.
 */
export async function startChildLarders(count: number, options: ChildLarderOptions): Promise<ChildLarder[]> {
  return Promise.all(Array.from({ length: count }, () => startOne(options)));
}

/** Closes every child's Larder and waits for the processes to exit (SIGKILL after 5 s). */
export async function stopChildLarders(children: ChildLarder[]): Promise<void> {
  await Promise.all(children.map((c) => c.close()));
}

function startOne(options: ChildLarderOptions): Promise<ChildLarder> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
    env: { ...process.env, LARDER_CHILD_CONFIG: JSON.stringify(options) },
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`child ${child.pid} exited (${code ?? signal})`));
    pending.clear();
  });
  child.on('message', (message: { id?: number; ok?: boolean; value?: unknown; error?: string }) => {
    if (message.id === undefined) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.ok) waiter?.resolve(message.value);
    else waiter?.reject(new Error(`child ${child.pid}: ${message.error}`));
  });
  const call = <T>(request: ChildRequest): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (!child.connected) return reject(new Error(`child ${child.pid} is not running`));
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, ...request });
    });

  const handle: ChildLarder = {
    pid: child.pid!,
    get: (key) => call({ op: 'get', key }),
    getEntry: (key) => call({ op: 'getEntry', key }),
    set: (key, value, timeout) =>
      call({ op: 'set', key, value, ...(timeout !== undefined ? { timeout } : {}) }),
    getOrSet: (key, o) => call({ op: 'getOrSet', key, ...o }),
    command: (args) => call({ op: 'command', args }),
    holds: (key) => call({ op: 'holds', key }),
    tracking: (boundMs = 20_000) => call<boolean>({ op: 'tracking', boundMs }).then(() => {}),
    waitEvicted: (key, boundMs = 2_000) => call({ op: 'waitEvicted', key, boundMs }),
    close: async () => {
      if (child.connected) await call({ op: 'close' }).catch(() => {});
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };

  return new Promise<ChildLarder>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child larder did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child larder exited with ${code} before it was ready`));
    });
    child.on('message', (message: { ready?: boolean }) => {
      if (!message.ready) return;
      clearTimeout(timer);
      resolve(handle);
    });
  });
}
