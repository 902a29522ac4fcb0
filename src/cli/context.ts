/**
 * What every `larder` command starts from: the Larder (from `--config <module>` or
 * `LARDER_REDIS_URL` / `REDIS_URL`), the Redis location a command needs, and a fast,
 * clear failure when that server cannot be reached (exit code 2).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type LarderConfig, parseLocation } from '../config/index.js';
import type { RedisLocation } from '../config/types.js';
import { LarderError } from '../errors.js';
import { createLarder, Larder } from '../larder.js';

/** How long the CLI waits for a server named by `REDIS_URL` before saying it is unreachable. */
export const CLI_CONNECT_TIMEOUT = '2s';

/** How long one command may take from the CLI (a SCAN page or INFO on a busy server), not an app's hot path. */
export const CLI_COMMAND_TIMEOUT = '10s';

/** What to do when no Redis is configured or reachable; ends every such message. */
export const REDIS_HINT = 'Set REDIS_URL or --config.';

/**
 * A command that cannot run as asked: printed as `larder: <message>` (no stack) with
 * `exitCode` (2 = usage, config or an unreachable server; 1 = it ran and found a problem).
 *
 * @example throw new CliError('larder clear deletes keys; run again with --yes to confirm.');
 */
export class CliError extends LarderError {
  static override readonly code: string = 'E_CLI';
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** The options every command accepts (before or after its name). */
export interface GlobalOptions {
  config?: string;
  json?: boolean;
  /** `--progress` / `--no-progress`; default: only when stderr is a terminal. */
  progress?: boolean;
}

/**
 * The Larder a command works on: the `--config` module's default export (a Larder, or a
 * config for `createLarder`; named exports `larder` / `config` also work), else one on
 * `LARDER_REDIS_URL` / `REDIS_URL` with a 2 s connect timeout and a 10 s command timeout,
 * else the embedded default.
 *
 * @example const larder = await loadLarder({ config: './larder.config.js' });
 */
export async function loadLarder(options: GlobalOptions, env = process.env): Promise<Larder> {
  if (options.config) {
    const file = resolve(options.config);
    if (!existsSync(file)) {
      throw new CliError(`--config ${options.config}: no such file (resolved to ${file}).`);
    }
    let mod: Record<string, unknown>;
    try {
      mod = await import(pathToFileURL(file).href);
    } catch (error) {
      const hint = /\.[mc]?ts$/.test(file)
        ? ' Compile it to JavaScript first, or run the CLI with node --import tsx.'
        : '';
      throw new CliError(
        `--config ${options.config} could not be loaded: ${(error as Error).message}.${hint}`,
      );
    }
    const exported = mod.default ?? mod.larder ?? mod.config;
    if (exported instanceof Larder) return exported;
    if (exported === null || typeof exported !== 'object') {
      throw new CliError(
        `--config ${options.config} must export (default) a Larder or a larder config object; it exports ${exported === undefined ? 'neither' : typeof exported}.`,
      );
    }
    return createLarder({ logger: false, ...(exported as LarderConfig) }, env);
  }
  const url = env.LARDER_REDIS_URL || env.REDIS_URL;
  // A malformed URL is blamed on the variable the user set, not on a config key (`redis.url`)
  // they never wrote.
  if (url) parseLocation(url, env.LARDER_REDIS_URL ? 'env.LARDER_REDIS_URL' : 'env.REDIS_URL');
  return createLarder(
    {
      logger: false,
      ...(url
        ? { redis: { url, connectTimeout: CLI_CONNECT_TIMEOUT, commandTimeout: CLI_COMMAND_TIMEOUT } }
        : {}),
    },
    env,
  );
}

/**
 * The default Redis location, or a `CliError` saying none is configured and how to set one.
 *
 * @example const location = defaultLocation(larder, 'larder keys');
 */
export function defaultLocation(larder: Larder, command: string): RedisLocation {
  const location = larder.config.redis;
  if (!location) throw noRedis(command);
  return location;
}

/** `command` needs Redis and none is configured: what to set. */
export function noRedis(command: string, what = 'none is configured'): CliError {
  return new CliError(
    `${command} needs Redis, and ${what} (no LARDER_REDIS_URL, REDIS_URL or redis in the config). ` +
      `${REDIS_HINT} e.g. REDIS_URL=redis://127.0.0.1:6379 ${command}`,
  );
}

/**
 * Connects to `location` now, so a command fails fast and clearly — `cannot reach
 * redis://127.0.0.1:6390/0 (ECONNREFUSED) — is redis-server running? …` — instead of
 * part-way through. The URL is printed with its password masked.
 *
 * @example await reach(larder, larder.config.redis!);
 */
export async function reach(larder: Larder, location: RedisLocation): Promise<void> {
  const conn = larder.connection(location);
  try {
    await conn.ready();
  } catch (error) {
    throw unreachable(conn.name, error);
  }
}

/** The CLI's message for a server that did not answer. */
export function unreachable(name: string, error: unknown): CliError {
  const message = (error as Error)?.message ?? String(error);
  if (/authentication failed|WRONGPASS|NOAUTH/i.test(message)) {
    return new CliError(
      `cannot use ${name}: authentication failed — check the user and password in the URL. ${REDIS_HINT}`,
    );
  }
  const code = /\b(E[A-Z]{3,}[A-Z_]*)\b/.exec(message)?.[1];
  const within = /within (\d+) ms/.exec(message)?.[1];
  const reason = code ?? (within ? `no answer within ${within} ms` : message.replace(/\.$/, ''));
  return new CliError(`cannot reach ${name} (${reason}) — is redis-server running? ${REDIS_HINT}`);
}
