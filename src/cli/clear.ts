/**
 * `larder clear [--cache name] --yes`: empties one configured cache, or every one, with
 * `cache.clear()` — only that cache's keys (its prefix, every version), never FLUSHDB — and
 * says how many keys went (counted by a SCAN just before; keys written meanwhile are
 * cleared too but not counted). Always asks for `--yes`: the CLI never deletes by surprise.
 */
import type { Command } from 'commander';
import type { Cache } from '../cache/cache.js';
import type { Larder } from '../larder.js';
import { CliError, type GlobalOptions, noRedis, reach } from './context.js';
import { keyspaceSize, redisCache } from './keys.js';
import { Output } from './output.js';
import { progress } from './progress.js';
import type { Runner } from './run.js';

/** What `larder clear --json` prints. */
export interface ClearReport {
  cleared: Array<{ cache: string; location: string; keys: number }>;
  /** Caches the CLI cannot clear (memory or null backends: in the app's process). */
  skipped: Array<{ cache: string; reason: string }>;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** How many keys `cache.clear()` would delete now: the same pattern and filter, counted. */
async function countCacheKeys(cache: Cache, onBatch: (n: number) => void): Promise<number> {
  const maker = cache.keyMaker;
  // As clear(): `shop:*:*` also matches a cache prefixed `shop:eu`; keep keys whose next part is a version.
  const ours = maker.isDefaultFormat ? new RegExp(`^${escapeRegExp(maker.keyPrefix)}:-?\\d+:`) : undefined;
  let count = 0;
  for await (const batch of cache.backend.scan(maker.pattern('*', '*'), 500)) {
    const mine = ours ? batch.filter((key) => ours.test(key)).length : batch.length;
    count += mine;
    onBatch(mine);
  }
  return count;
}

async function clearCaches(larder: Larder, opts: { cache?: string; yes?: boolean }, global: GlobalOptions) {
  const names = opts.cache === undefined ? Object.keys(larder.config.caches) : [opts.cache];
  // A named cache must exist and be on Redis; without --cache, in-process caches are skipped.
  const targets = opts.cache === undefined ? names : [redisCache(larder, opts.cache).name];
  // With no cache on Redis there is nothing the CLI can clear: say so (exit 2), as every
  // other command does, rather than "skipped" everything and exit 0.
  if (targets.every((name) => larder.config.caches[name]?.location === undefined)) {
    if (!larder.config.redis) throw noRedis('larder clear');
    throw new CliError(
      `larder clear: no configured cache is on Redis (${names.join(', ')}: memory or null backends, inside the app's process), ` +
        'so there is nothing the CLI can clear. Clear those from the app itself (cache.clear()).',
    );
  }
  if (!opts.yes) {
    throw new CliError(
      `clear deletes every key of ${opts.cache === undefined ? `every configured cache (${names.join(', ')})` : `cache '${opts.cache}'`}. ` +
        'Nothing was deleted; run it again with --yes to confirm.',
    );
  }
  const report: ClearReport = { cleared: [], skipped: [] };
  for (const name of targets) {
    const cache = larder.cache(name);
    const location = cache.config.location;
    if (!location) {
      report.skipped.push({
        cache: name,
        reason: `${cache.config.backend} backend: lives in the app's process`,
      });
      continue;
    }
    await reach(larder, location);
    const conn = larder.connection(location);
    const wantsBar = global.progress ?? process.stderr.isTTY === true;
    const bar = progress({
      enabled: wantsBar,
      label: `clearing ${name}`,
      total: wantsBar ? await keyspaceSize(conn) : 0,
    });
    let keys: number;
    let failed: boolean;
    try {
      keys = await countCacheKeys(cache, (n) => bar.increment(n));
      // With ignoreErrors, clear() turns a server that stops answering into a no-op (counted
      // in stats.errors, not thrown): the CLI must not report those keys as gone.
      const errorsBefore = cache.stats.errors;
      await cache.clear();
      failed = cache.stats.errors > errorsBefore;
    } finally {
      bar.stop();
    }
    if (failed) {
      const done = report.cleared.map((c) => `'${c.cache}' (${c.keys} keys)`).join(', ');
      throw new CliError(
        `clearing cache '${name}' did not finish: ${conn.name} stopped answering within the cache's ` +
          `${cache.config.commandTimeout} ms command timeout (its ignoreErrors turns that into a no-op), ` +
          `so some of its ${keys} keys remain. ${done ? `Already cleared: ${done}. ` : ''}` +
          `Run larder clear --cache ${name} --yes again once the server answers.`,
      );
    }
    report.cleared.push({ cache: name, location: conn.name, keys });
  }
  await new Output(global.json === true).result(report, () => [
    ...report.cleared.map((c) => `cleared cache '${c.cache}': ${c.keys} keys (${c.location})`),
    ...report.skipped.map((s) => `skipped cache '${s.cache}': ${s.reason}`),
  ]);
  return 0;
}

/** Registers `larder clear`. */
export function clearCommand(program: Command, run: Runner): void {
  program
    .command('clear')
    .description(
      "delete a cache's keys (its prefix, every version; never FLUSHDB), or every configured cache's",
    )
    .option('--cache <name>', 'only this cache (default: every configured cache on Redis)')
    .option('-y, --yes', 'confirm the deletion (required)')
    .action((opts: { cache?: string; yes?: boolean }, cmd: Command) =>
      run(cmd, (larder, global) => clearCaches(larder, opts, global)),
    );
}
