/**
 * Regression: a per-call `version` that is not a whole number (1.5, NaN, '2', Infinity) used
 * to make a key such as `prefix:1.5:k`, which `clear()` (it deletes `prefix:<integer>:*`)
 * never matched — the value outlived every clear. Such a version is now a `ConfigError`
 * naming `version`, and `null` means the default version (Django's `version=None`).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { createLarder } from '../../src/larder.js';
import { redisUrlFor, type Target, uniquePrefix } from '../support/conformance.js';

for (const target of ['memory', 'standalone'] as Target[]) {
  describe(`a non-integer cache version [${target}]`, () => {
    const url = redisUrlFor(target);
    const keyPrefix = uniquePrefix('version');
    const larder = createLarder(
      {
        logger: false,
        redis: url ?? false,
        caches: { default: { backend: url ? 'redis' : 'memory', keyPrefix } },
      },
      {},
    );
    const cache = larder.cache();
    after(() => larder.close());

    it('is refused by every keyed call with a ConfigError naming version; nothing is stored', async () => {
      for (const version of [1.5, Number.NaN, Infinity, '2', 2 ** 60]) {
        const options = { version: version as number };
        await assert.rejects(cache.set('k', 'v', options), (error: unknown) => {
          assert.ok(error instanceof ConfigError, String(error));
          assert.equal(error.path, 'version');
          return true;
        });
        await assert.rejects(cache.get('k', undefined, options), ConfigError);
        await assert.rejects(cache.setMany({ k: 'v' }, options), ConfigError);
      }
      // SCAN under the would-be key shapes: nothing was written there.
      assert.deepEqual(await cache.keys('*', { version: 1.5 }), []);
      assert.deepEqual(await cache.keys('*', { version: '2' as never }), []);
      assert.deepEqual(await cache.keys('*'), []);
    });

    it('null is the default version; integers other than the default still work and clear() removes them', async () => {
      await cache.set('n', 'by-null', { version: null as never });
      assert.equal(await cache.get('n'), 'by-null');
      await cache.set('w', 'v-2', { version: 2 });
      await cache.set('w', 'v--1', { version: -1 });
      assert.equal(await cache.get('w', undefined, { version: 2 }), 'v-2');
      await cache.clear();
      assert.equal(await cache.get('n'), undefined);
      assert.equal(await cache.get('w', undefined, { version: 2 }), undefined);
      assert.equal(await cache.get('w', undefined, { version: -1 }), undefined);
    });
  });
}
