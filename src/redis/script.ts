/**
 * Lua scripts, registered once: the SHA1 is computed at definition, calls go out as
 * EVALSHA and fall back to EVAL on NOSCRIPT (a restarted server, a new cluster node).
 *
 * On Cluster the command is routed by the script's first key, computed here rather than
 * left to the client: routing a keyed EVAL by its script text or its `numkeys` argument
 * sends it to the wrong node (a long-standing pitfall of Redis clients). All keys of one
 * call must share a hash slot (use a `{hash tag}`), as Redis itself requires.
 */
import { createHash } from 'node:crypto';
import type { RedisConnection, SendOptions } from './connection.js';

/** A Lua script with a fixed number of KEYS (or any number ≥ 1, defined with -1). */
export interface LuaScript {
  readonly source: string;
  readonly sha1: string;
  /** -1: any number of keys, at least one. */
  readonly numberOfKeys: number;
  /** Runs the script on `conn` with KEYS and ARGV; `readonly` allows a replica (EVALSHA_RO). */
  run<T = unknown>(
    conn: RedisConnection,
    keys: ReadonlyArray<string | Buffer>,
    args?: ReadonlyArray<string | Buffer | number>,
    options?: Omit<SendOptions, 'key'>,
  ): Promise<T>;
}

/** The defaults of `run`, shared: a call without args or options allocates none. */
const NO_ARGS: ReadonlyArray<string | Buffer | number> = [];
const NO_OPTIONS: Omit<SendOptions, 'key'> = {};

/**
 * Defines a script once, at module load.
 *
 * @example
 * const incrWithTtl = defineScript(2 /* keys *\/, `
 *   local n = redis.call('INCR', KEYS[1])
 *   if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
 *   return n`);
 * const n = await incrWithTtl.run(conn, ['hits:{u1}', 'x:{u1}'], [60000]);
 */
export function defineScript(numberOfKeys: number, source: string): LuaScript {
  const sha1 = createHash('sha1').update(source).digest('hex');
  const wrongKeys = (got: number) =>
    new TypeError(`This script takes ${numberOfKeys >= 0 ? numberOfKeys : 'one or more'} keys; got ${got}.`);
  return {
    source,
    sha1,
    numberOfKeys,
    // Not `async`, and no spread or map: this runs on every cache read, session load and
    // rate-limit check (bench/ratelimit.ts). Every failure still comes back as a rejection.
    run<T>(
      conn: RedisConnection,
      keys: ReadonlyArray<string | Buffer>,
      args: ReadonlyArray<string | Buffer | number> = NO_ARGS,
      options: Omit<SendOptions, 'key'> = NO_OPTIONS,
    ): Promise<T> {
      try {
        const n = keys.length;
        if (numberOfKeys >= 0 ? n !== numberOfKeys : n === 0) return Promise.reject(wrongKeys(n));
        const readonly = options.readonly ?? false;
        // EVALSHA sha1 numkeys key… arg…, built in place.
        const command: Array<string | Buffer> = [readonly ? 'EVALSHA_RO' : 'EVALSHA', sha1, String(n)];
        for (let i = 0; i < n; i++) command.push(keys[i]);
        for (let i = 0; i < args.length; i++) {
          const arg = args[i];
          command.push(typeof arg === 'number' ? String(arg) : arg);
        }
        const route: SendOptions =
          options === NO_OPTIONS ? { key: keys[0], readonly } : { ...options, key: keys[0], readonly };
        return conn.send<T>(command, route).catch((error: unknown) => {
          if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
          const retry = command.slice();
          retry[0] = readonly ? 'EVAL_RO' : 'EVAL';
          retry[1] = source;
          return conn.send<T>(retry, route);
        });
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}
