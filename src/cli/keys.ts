/**
 * `larder keys <pattern>`: SCAN (never KEYS) on every primary — every Cluster node that owns
 * slots — printing keys as pages arrive. With `--cache <name>` the pattern applies inside
 * that cache's key prefix and version, and keys print as the app names them (`cache.iterKeys`).
 */
import type { Command } from 'commander';
import type { Larder } from '../larder.js';
import type { RedisConnection } from '../redis/connection.js';
import { CliError, defaultLocation, type GlobalOptions, reach } from './context.js';
import { Output } from './output.js';
import { progress } from './progress.js';
import { positiveInt, type Runner } from './run.js';

/** Batches of keys matching `pattern` on every primary of `conn`; `count` is SCAN's COUNT hint. */
export async function* scanKeys(
  conn: RedisConnection,
  pattern: string,
  count: number,
): AsyncIterable<string[]> {
  for (const server of await conn.servers()) {
    if (server.role !== 'primary') continue;
    let cursor = '0';
    do {
      const [next, keys] = await conn.sendTo<[string | number, Array<string | Buffer>]>(server, [
        'SCAN',
        cursor,
        'MATCH',
        pattern,
        'COUNT',
        String(count),
      ]);
      cursor = String(next);
      if (keys.length > 0) yield keys.map(String);
    } while (cursor !== '0');
  }
}

/** Keys in the databases behind `conn` (DBSIZE on every primary), for a progress bar's total. */
export async function keyspaceSize(conn: RedisConnection): Promise<number> {
  const primaries = (await conn.servers()).filter((s) => s.role === 'primary');
  const sizes = await Promise.all(primaries.map((s) => conn.sendTo<number>(s, ['DBSIZE']).catch(() => 0)));
  return sizes.reduce((a, b) => a + Number(b), 0);
}

/** A Redis-backed cache by name, or a `CliError` saying why the CLI cannot reach its keys. */
export function redisCache(larder: Larder, name: string) {
  const cache = larder.cache(name);
  if (!cache.config.location) {
    throw new CliError(
      `cache '${name}' uses the ${cache.config.backend} backend: its keys live inside the app's process, out of the CLI's reach. ` +
        "Only 'redis' and 'tiered' caches can be listed or cleared from here.",
    );
  }
  return cache;
}

interface KeysOptions {
  count: number;
  limit?: number;
  cache?: string;
}

async function listKeys(larder: Larder, pattern: string, opts: KeysOptions, global: GlobalOptions) {
  const out = new Output(global.json === true);
  const cache = opts.cache === undefined ? undefined : redisCache(larder, opts.cache);
  const location = cache ? cache.config.location! : defaultLocation(larder, 'larder keys');
  await reach(larder, location);
  const conn = larder.connection(location);
  const wantsBar = global.progress ?? process.stderr.isTTY === true;
  const bar = progress({
    enabled: wantsBar,
    label: 'scanning',
    total: wantsBar ? await keyspaceSize(conn) : 0,
  });
  const list = out.list<string>((key) => key);
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  let printed = 0;
  try {
    if (cache) {
      for await (const key of cache.iterKeys(pattern)) {
        if (printed >= limit) break;
        await list.push(key);
        printed++;
        bar.increment();
      }
    } else {
      outer: for await (const batch of scanKeys(conn, pattern, opts.count)) {
        for (const key of batch) {
          if (printed >= limit) break outer;
          await list.push(key);
          printed++;
        }
        bar.increment(batch.length);
      }
    }
  } finally {
    bar.stop();
  }
  await list.end();
  return 0;
}

/** Registers `larder keys`. */
export function keysCommand(program: Command, run: Runner): void {
  program
    .command('keys')
    .description(
      'list keys matching a glob pattern with SCAN (never KEYS), on every primary; --json prints one JSON array, streamed',
    )
    .argument('[pattern]', 'Redis glob pattern (inside the cache with --cache)', '*')
    .option(
      '--count <n>',
      "SCAN's COUNT hint: keys examined per call (a --cache scan uses the cache's own, 500)",
      positiveInt(),
      500,
    )
    .option('--limit <n>', 'stop after n keys', positiveInt())
    .option(
      '--cache <name>',
      'a configured cache: the pattern applies inside its prefix and version; keys print as the app names them',
    )
    .action((pattern: string, opts: KeysOptions, cmd: Command) =>
      run(cmd, (larder, global) => listKeys(larder, pattern, opts, global)),
    );
}
