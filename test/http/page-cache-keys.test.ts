/**
 * The page cache's remembered URL keys: one path and query seen on many schemes and hosts keeps
 * each origin's own key (Django's md5 of the absolute URL), also past the bound on remembered
 * origins per path, which a client choosing Host values could otherwise grow.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { PageCache, type PageRequest } from '../../src/http/page-cache.js';
import { createLarder } from '../../src/larder.js';

const request = (scheme: string, host: string, url: string): PageRequest => ({
  method: 'GET',
  scheme,
  host,
  url,
  header: () => undefined,
});

test('each scheme and host of one path keeps its own key, past the remembered-origins bound', async () => {
  const larder = createLarder({ logger: false }, {});
  const pages = new PageCache(larder.cache(), { ttl: 60 });
  try {
    const origins = Array.from(
      { length: 12 },
      (_, i) => [i % 2 ? 'https' : 'http', `h${i}.example`] as const,
    );
    for (let round = 0; round < 3; round++) {
      for (const [scheme, host] of origins) {
        const found = await pages.lookup(request(scheme, host, '/p?q=1'));
        assert.equal(found.kind, 'miss');
        const md5 = createHash('md5').update(`${scheme}://${host}/p?q=1`).digest('hex');
        assert.equal(found.kind === 'miss' && found.urlKey, md5, `${scheme}://${host} round ${round}`);
        assert.equal(
          found.kind === 'miss' && found.key,
          `views.decorators.cache.cache_page..GET.${md5}.d41d8cd98f00b204e9800998ecf8427e`,
        );
      }
    }
  } finally {
    await larder.close();
  }
});
