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
  return {
    source,
    sha1,
    numberOfKeys,
    async run<T>(
      conn: RedisConnection,
      keys: ReadonlyArray<string | Buffer>,
      args: ReadonlyArray<string | Buffer | number> = [],
      options: Omit<SendOptions, 'key'> = {},
    ): Promise<T> {
      if (numberOfKeys >= 0 ? keys.length !== numberOfKeys : keys.length === 0) {
        throw new TypeError(
          `This script takes ${numberOfKeys >= 0 ? numberOfKeys : 'one or more'} keys; got ${keys.length}.`,
        );
      }
      const tail = [
        String(keys.length),
        ...keys,
        ...args.map((a) => (typeof a === 'number' ? String(a) : a)),
      ];
      const readonly = options.readonly ?? false;
      const route = { ...options, key: keys[0], readonly };
      try {
        return await conn.send<T>([readonly ? 'EVALSHA_RO' : 'EVALSHA', sha1, ...tail], route);
      } catch (error) {
        if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
        return conn.send<T>([readonly ? 'EVAL_RO' : 'EVAL', source, ...tail], route);
      }
    },
  };
}
