/**
 * `larder clear` against a real server: it refuses without --yes, deletes only the named
 * cache's keys (every version; other caches and unrelated keys survive, read back), says
 * how many went, and without --cache clears every Redis cache and skips in-process ones.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';
import { configFor } from './fixtures/config.mjs';
import { CONFIG_MODULE, larder, parsed } from './support.js';

describe('larder clear (standalone)', () => {
  const url = redisUrlFor('standalone')!;
  const prefix = uniquePrefix('cli-clear');
  const env = { CLI_TEST_REDIS: url, CLI_TEST_PREFIX: prefix };
  const unrelated = `${prefix}-pages-unrelated`;
  let app: Larder;

  before(async () => {
    app = createLarder(configFor(url, prefix));
    const pages = app.cache('pages');
    await pages.set('home', 'h');
    await pages.set('about', 'a');
    await pages.set('old', 'o', { version: 2 });
    await app.cache('carts').set('cart:1', ['sku']);
    await app.cache('default').set('kept', 1);
    // Shares the cache's prefix text but is not one of its keys (no version part).
    await app.connection().send(['SET', unrelated, 'x']);
  });

  after(async () => {
    await app.connection().send(['DEL', unrelated]);
    await app.close();
  });

  test('without --yes nothing is deleted: exit 2 and how to confirm', async () => {
    const run = await larder(['--config', CONFIG_MODULE, 'clear', '--cache', 'pages'], env);
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /deletes every key of cache 'pages'\. Nothing was deleted; run it again with --yes/,
    );
    assert.equal(await app.cache('pages').get('home'), 'h');
  });

  test('--cache pages --yes deletes that cache only, every version, and says how many', async () => {
    const run = await larder(['--config', CONFIG_MODULE, 'clear', '--cache', 'pages', '--yes'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^cleared cache 'pages': 3 keys \(redis:\/\/127\.0\.0\.1:\d+\/0\)$/m);
    assert.equal(await app.cache('pages').get('home'), undefined);
    assert.equal(await app.cache('pages').get('old', undefined, { version: 2 }), undefined);
    assert.deepEqual(await app.cache('carts').get('cart:1'), ['sku']);
    assert.equal(await app.cache('default').get('kept'), 1);
    assert.equal(await app.connection().send(['GET', unrelated]), 'x');
  });

  test('without --cache: every Redis cache, in-process ones skipped (--json)', async () => {
    const run = await larder(['--config', CONFIG_MODULE, '--json', 'clear', '-y'], env);
    assert.equal(run.code, 0, run.stderr);
    const report = parsed(run);
    assert.deepEqual(
      report.cleared.map((c: any) => [c.cache, c.keys]),
      [
        ['default', 1],
        ['pages', 0],
        ['carts', 1],
      ],
    );
    assert.deepEqual(
      report.skipped.map((s: any) => s.cache),
      ['local'],
    );
    assert.equal(await app.cache('carts').get('cart:1'), undefined);
    assert.equal(await app.cache('default').get('kept'), undefined);
    assert.equal(await app.connection().send(['GET', unrelated]), 'x');
  });
});

test('no Redis configured: exit 2 and how to set one, not "skipped" and exit 0', async () => {
  const run = await larder(['clear', '--yes']);
  assert.equal(run.code, 2, run.stdout);
  assert.equal(run.stdout, '');
  assert.match(
    run.stderr,
    /^larder: larder clear needs Redis, and none is configured .*Set REDIS_URL or --config\./,
  );
});

describe('larder clear: a cache with ignoreErrors whose deletes time out', () => {
  // A server of its own: CLIENT PAUSE WRITE (what a failover does) would stall other suites.
  let redis: RedisServerHandle;
  let dir: string;
  let config: string;

  before(async () => {
    redis = await startStandalone();
    dir = mkdtempSync(path.join(os.tmpdir(), 'larder-cli-clear-'));
    config = path.join(dir, 'config.mjs');
    writeFileSync(
      config,
      `export default ${JSON.stringify({
        logger: false,
        redis: redis.url,
        caches: { default: { keyPrefix: 'carts', ignoreErrors: true, commandTimeout: '200ms' } },
      })};`,
    );
    for (const k of ['a', 'b', 'c']) await redis.command('SET', `carts:1:${k}`, 'x');
  });

  after(async () => {
    await redis.command('CLIENT', 'UNPAUSE').catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    await redis.stop();
  });

  test('says the keys remain and exits 2, instead of "cleared 3 keys" and exit 0', async () => {
    // Reads (SCAN) still answer; every DEL waits until UNPAUSE, past the cache's 200 ms.
    await redis.command('CLIENT', 'PAUSE', '60000', 'WRITE');
    let run: Awaited<ReturnType<typeof larder>>;
    try {
      run = await larder(['--config', config, 'clear', '--yes']);
    } finally {
      await redis.command('CLIENT', 'UNPAUSE');
    }
    assert.equal(run.code, 2, `${run.stdout}${run.stderr}`);
    assert.doesNotMatch(run.stdout, /cleared/);
    assert.match(run.stderr, /^larder: clearing cache 'default' did not finish: .*some of its 3 keys remain/);
    assert.equal(await redis.command('GET', 'carts:1:a'), 'x');
  });
});
