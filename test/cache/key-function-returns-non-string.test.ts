/**
 * Regression: a `keyFunction` that returns something other than a string (a number, null, an
 * object) used to reach `Buffer.byteLength` and throw a bare TypeError from deep inside the
 * cache (on memory it silently stored under a non-string key). It is now a `CacheKeyError`
 * that names keyFunction, and nothing is stored.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CacheKeyError } from '../../src/errors.js';
import { createLarder } from '../../src/larder.js';
import { redisUrlFor, type Target, uniquePrefix } from '../support/conformance.js';

for (const target of ['memory', 'standalone'] as Target[]) {
  describe(`a keyFunction that returns no string [${target}]`, () => {
    const url = redisUrlFor(target);
    const keyPrefix = uniquePrefix('keyfn');
    let answer: unknown = 5;
    const larder = createLarder(
      {
        logger: false,
        redis: url ?? false,
        caches: {
          default: {
            backend: url ? 'redis' : 'memory',
            keyPrefix,
            keyFunction: (key: string, prefix: string, version: number) =>
              (answer === 'ok' ? `${prefix}|${version}|${key}` : answer) as string,
          },
        },
      },
      {},
    );
    const cache = larder.cache();
    after(() => larder.close());

    it('is a CacheKeyError naming keyFunction, for every call and version; nothing is stored', async () => {
      for (const value of [5, null, undefined, { key: 'k' }, ['k'], 5n]) {
        answer = value;
        for (const version of [undefined, 2]) {
          await assert.rejects(cache.set('k', 'v', { version }), (error: unknown) => {
            assert.ok(error instanceof CacheKeyError, String(error));
            assert.match(error.message, /keyFunction, which must return a string/);
            return true;
          });
          await assert.rejects(cache.get('k', undefined, { version }), CacheKeyError);
          await assert.rejects(cache.setMany({ k: 'v' }, { version }), CacheKeyError);
        }
      }
      answer = 'ok';
      assert.equal(await cache.get('k'), undefined, 'nothing was stored');
      await cache.set('k', 'v');
      assert.equal(await cache.get('k'), 'v', 'a keyFunction that returns a string still works');
      await cache.delete('k');
    });
  });
}
