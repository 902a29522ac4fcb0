/**
 * The page cache over real HTTP on Fastify 5: the shared suite (`page-cache.suite.ts`), then what
 * only Fastify has — `web.plugin`, larder's hooks in either order, the route `config: { cache }`
 * form, the site cache as a scoped plugin, a handler that throws, and a loud error for a hook the
 * plugin did not wire.
 */
import assert from 'node:assert/strict';
import { get as httpGet } from 'node:http';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { adapt as adaptExpress } from '../../src/adapters/express.js';
import { adapt } from '../../src/adapters/fastify.js';
import { createLarder } from '../../src/larder.js';
import { assertVaryEntries, counter, pageCacheSuite, sleep } from './page-cache.suite.js';

pageCacheSuite(
  'Fastify',
  async (larder, calls) => {
    const count = counter(calls);
    const web = adapt(larder);
    const app = Fastify();
    await app.register(web.plugin);
    app.get('/page', { onRequest: web.cachePage(60) }, async (request) => {
      count('page');
      return `page ${(request.query as { q?: string }).q ?? ''} #${calls.get('page')}`;
    });
    app.get('/cookie', { onRequest: web.cachePage(60) }, async (_request, reply) => {
      count('cookie');
      reply.header('set-cookie', `sid=user-${calls.get('cookie')}; Path=/; HttpOnly`);
      return `hello user-${calls.get('cookie')}`;
    });
    app.get('/private', { onRequest: web.cachePage(60) }, async (_request, reply) => {
      count('private');
      reply.header('cache-control', 'private');
      return `private #${calls.get('private')}`;
    });
    app.get('/nostore', { onRequest: web.cachePage(60) }, async (_request, reply) => {
      count('nostore');
      reply.header('cache-control', 'no-store');
      return 'x';
    });
    app.get('/maxage0', { onRequest: web.cachePage(60) }, async (_request, reply) => {
      count('maxage0');
      reply.header('cache-control', 'max-age=0');
      return 'x';
    });
    app.get(
      '/vary',
      { onRequest: [web.cachePage(60), web.varyOnHeaders('Accept-Language')] },
      async (request) => {
        count('vary');
        return `lang=${request.headers['accept-language']}`;
      },
    );
    // The patch hook first: the order of larder's hooks on a route does not matter.
    app.get(
      '/vary-first',
      { onRequest: [web.varyOnHeaders('Accept-Language'), web.cachePage(60)] },
      async (request) => {
        count('vary-first');
        return `lang=${request.headers['accept-language']}`;
      },
    );
    app.get('/short', { onRequest: web.cachePage(1) }, async (_request, reply) => {
      count('short');
      reply.header('cache-control', 'max-age=3600');
      return `short #${calls.get('short')}`;
    });
    app.get('/stream', { onRequest: web.cachePage(60) }, async (_request, reply) => {
      count('stream');
      reply.type('text/plain');
      return reply.send(Readable.from(['part 1,', ' part 2']));
    });
    app.get('/error', { onRequest: web.cachePage(60) }, async (_request, reply) => {
      count('error');
      return reply.code(404).send('nope');
    });
    app.get('/slow', { onRequest: web.cachePage(60) }, async (_request, reply) => {
      count('slow');
      await sleep(150);
      return reply.header('ratelimit', `"page";r=${60 - calls.get('slow')!}`).send('slow');
    });
    app.get('/conditional', { onRequest: web.cachePage(60) }, async (request, reply) => {
      reply.header('etag', '"v1"');
      if (request.headers['if-none-match'] === '"v1"') return reply.code(304).send();
      return 'conditional';
    });
    let failing = false;
    app.get('/flaky', { onRequest: web.cachePage(1, { staleIfError: 30 }) }, async (_request, reply) => {
      count('flaky');
      if (failing) await sleep(100);
      if (failing) return reply.code(503).send('down');
      return `flaky #${calls.get('flaky')}`;
    });
    app.post('/fail', async () => {
      failing = true;
      return 'ok';
    });
    let throwing = false;
    app.get('/throws', { onRequest: web.cachePage(1, { staleIfError: 30 }) }, async () => {
      count('throws');
      if (throwing) throw new Error('origin down');
      return `throws #${calls.get('throws')}`;
    });
    app.post('/throw', async () => {
      throwing = true;
      return 'ok';
    });
    app.get('/tagged', { onRequest: web.cachePage(60, { tags: ['catalog'] }) }, async () => {
      count('tagged');
      return `tagged #${calls.get('tagged')}`;
    });
    app.get('/swr', { onRequest: web.cachePage(1, { staleWhileRevalidate: 30 }) }, async () => {
      count('swr');
      await sleep(200);
      return `swr #${calls.get('swr')}`;
    });
    app.post('/page', { onRequest: web.cachePage(60) }, async () => {
      count('post');
      return 'posted';
    });
    app.get('/never', { onRequest: web.neverCache() }, async () => 'never');
    app.get(
      '/cc',
      { onRequest: web.cacheControl({ public: true, 'max-age': 100 }) },
      async (_request, reply) => {
        reply.header('cache-control', 'max-age=3600');
        return 'cc';
      },
    );
    app.get('/configured', { config: { cache: { ttl: 60 } } }, async () => {
      count('configured');
      return `configured #${calls.get('configured')}`;
    });
    await app.register(async (scope) => {
      await scope.register(web.siteCache({ ttl: 60 }));
      scope.get('/site/on', async () => {
        count('site-on');
        return `site #${calls.get('site-on')}`;
      });
      scope.get('/site/off', { config: { cache: false } }, async () => {
        count('site-off');
        return `off #${calls.get('site-off')}`;
      });
      scope.get('/site/own', { onRequest: web.cachePage(1) }, async () => {
        count('site-own');
        return `own #${calls.get('site-own')}`;
      });
    });
    app.get('/outside', async () => {
      count('outside');
      return `outside #${calls.get('outside')}`;
    });
    return { base: await app.listen({ port: 0, host: '127.0.0.1' }), close: () => app.close() };
  },
  {
    coalescedStatus: 'larder; hit; detail=coalesced',
    extra: (ctx) => {
      const { calls } = ctx;

      test('Vary with the patch hook before cachePage: the order of larder’s hooks does not matter', async () => {
        await assertVaryEntries(ctx.base, 'vary-first', calls);
      });

      test('stale-if-error also covers a handler that throws (Fastify’s error handler answers 500)', async () => {
        const { base } = ctx;
        assert.equal(await (await fetch(`${base}/throws`)).text(), 'throws #1');
        await sleep(1200);
        await fetch(`${base}/throw`, { method: 'POST' });
        const res = await fetch(`${base}/throws`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
        assert.equal(await res.text(), 'throws #1');
        assert.match(res.headers.get('cache-status') ?? '', /detail=stale-if-error/);
      });

      test('route config { cache: { ttl } } is the same page cache', async () => {
        const { base } = ctx;
        const first = await fetch(`${base}/configured`);
        assert.equal(first.headers.get('cache-status'), 'larder; fwd=uri-miss; stored');
        const second = await fetch(`${base}/configured`);
        assert.equal(await second.text(), 'configured #1');
        assert.match(second.headers.get('cache-status') ?? '', /^larder; hit/);
        const head = await fetch(`${base}/configured`, { method: 'HEAD' });
        assert.match(head.headers.get('cache-status') ?? '', /^larder; hit/);
        assert.equal(calls.get('configured'), 1);
      });

      test('siteCache is a plugin for its scope; config { cache: false } and a route’s own cachePage win', async () => {
        const { base } = ctx;
        for (let i = 0; i < 2; i++) {
          assert.equal(await (await fetch(`${base}/site/on`)).text(), 'site #1');
          assert.equal(await (await fetch(`${base}/site/off`)).text(), `off #${i + 1}`);
          assert.equal(await (await fetch(`${base}/outside`)).text(), `outside #${i + 1}`);
        }
        const own = await fetch(`${base}/site/own`);
        assert.match(
          own.headers.get('cache-control') ?? '',
          /max-age=1\b/,
          'the route’s ttl, not the site’s',
        );
        assert.equal(calls.get('site-own'), 1);
      });
    },
  },
);

/** A Fastify app with `web.plugin`, on the memory cache; `close` stops the app and larder. */
async function pluginApp() {
  const larder = createLarder({ logger: false }, {});
  const web = adapt(larder);
  const app = Fastify();
  await app.register(web.plugin);
  return {
    web,
    app,
    close: async () => {
      await app.close();
      await larder.close();
    },
  };
}

describe('Fastify adapter shape', () => {
  test('adapt() lists the same factories as the Express adapter; plugin is extra and not listed', async () => {
    const larder = createLarder({ logger: false }, {});
    const web = adapt(larder);
    assert.deepEqual(Object.keys(web).sort(), Object.keys(adaptExpress(larder)).sort());
    assert.equal(typeof web.plugin, 'function');
    await larder.close();
  });

  test('a hook on a route web.plugin did not wire fails loudly instead of silently not caching', async () => {
    const larder = createLarder({ logger: false }, {});
    const web = adapt(larder);
    const app = Fastify();
    app.get('/unwired', { onRequest: web.cachePage(60) }, async () => 'x');
    app.get('/unwired-never', { onRequest: web.neverCache() }, async () => 'x');
    try {
      for (const url of ['/unwired', '/unwired-never']) {
        const res = await app.inject({ url });
        assert.equal(res.statusCode, 500);
        assert.match(res.json().message, /await app\.register\(web\.plugin\)/);
      }
    } finally {
      await app.close();
      await larder.close();
    }
  });

  test('an invalid ttl in route config fails when the route is declared', async () => {
    const { app, close } = await pluginApp();
    try {
      assert.throws(
        () => app.get('/bad', { config: { cache: { ttl: 'soon' } } }, async () => 'x'),
        /cachePage\(ttl\)/,
      );
    } finally {
      await close();
    }
  });
});

describe('Fastify hits keep what the reply had and what runs after it', () => {
  /** An app on the memory cache with the hooks a hit must honour; `log` records what ran. */
  async function start(log: string[]) {
    const larder = createLarder({ logger: false }, {});
    const web = adapt(larder);
    const app = Fastify();
    await app.register(web.plugin);
    // Earlier hooks: a CORS-like header on the reply, one straight on the Node response, and a
    // header the page also has (the page's wins, as before).
    app.addHook('onRequest', (_request, reply, done) => {
      reply.header('access-control-allow-origin', '*');
      reply.header('cache-status', 'earlier');
      reply.raw.setHeader('x-raw', 'kept');
      done();
    });
    app.addHook('onResponse', (request, reply, done) => {
      log.push(`onResponse ${request.method} ${request.url} ${reply.statusCode}`);
      done();
    });
    app.get('/page', { onRequest: web.cachePage(60) }, async () => 'page');
    app.route({
      method: ['GET', 'HEAD'],
      url: '/both',
      onRequest: web.cachePage(60),
      handler: async () => 'both',
    });
    await app.register(async (scope) => {
      scope.addHook('onSend', (_request, reply, payload, done) => {
        reply.header('x-on-send', 'ran');
        done(null, payload);
      });
      scope.get('/with-on-send', { onRequest: web.cachePage(60) }, async () => 'sent');
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      base,
      /** GETs `path` twice (store, then hit) and returns the second response, checked to be a hit. */
      hit: async (path: string) => {
        await fetch(`${base}${path}`);
        const response = await fetch(`${base}${path}`);
        assert.match(response.headers.get('cache-status') ?? '', /^larder; hit/);
        return response;
      },
      close: async () => {
        await app.close();
        await larder.close();
      },
    };
  }

  test('a hit keeps headers earlier hooks set (reply and Node response); the page’s own win', async () => {
    const log: string[] = [];
    const { close, ...app } = await start(log);
    try {
      const hit = await app.hit('/page');
      assert.equal(await hit.text(), 'page');
      assert.equal(hit.headers.get('access-control-allow-origin'), '*');
      assert.equal(hit.headers.get('x-raw'), 'kept');
      assert.equal(hit.headers.get('cache-control'), 'max-age=60');
      assert.equal(hit.headers.get('content-length'), '4');
    } finally {
      await close();
    }
  });

  test('onResponse hooks run on a hit, with its status', async () => {
    const log: string[] = [];
    const { base, close, ...app } = await start(log);
    try {
      const hit = await app.hit('/page');
      const etag = hit.headers.get('etag') ?? '';
      const notModified = await fetch(`${base}/page`, { headers: { 'if-none-match': etag } });
      assert.equal(notModified.status, 304);
      assert.equal(await notModified.text(), '');
    } finally {
      // Closed first: every response has finished, so every onResponse hook has run.
      await close();
    }
    assert.deepEqual(log, [
      'onResponse GET /page 200',
      'onResponse GET /page 200',
      'onResponse GET /page 304',
    ]);
  });

  test('a HEAD hit on a route declared for GET and HEAD: the GET’s headers, no body', async () => {
    const { base, close } = await start([]);
    try {
      await fetch(`${base}/both`);
      const head = await fetch(`${base}/both`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.match(head.headers.get('cache-status') ?? '', /^larder; hit/);
      assert.equal(head.headers.get('content-length'), '4');
      assert.equal(await head.text(), '');
      const implicit = await fetch(`${base}/page`, { method: 'HEAD' });
      assert.equal(implicit.status, 200);
      await fetch(`${base}/page`);
      const implicitHit = await fetch(`${base}/page`, { method: 'HEAD' });
      assert.match(implicitHit.headers.get('cache-status') ?? '', /^larder; hit/);
      assert.equal(implicitHit.headers.get('content-length'), '4');
    } finally {
      await close();
    }
  });

  test('on this Fastify, a hit on a route with no other onSend hook skips reply.send (its route context is found)', async () => {
    // The direct path finds Fastify's private route context by its symbol's description; if a
    // Fastify release renames it, hits still work through reply.send, only slower — this
    // test is what notices.
    const { web, app, close } = await pluginApp();
    const sends: string[] = [];
    app.addHook('onRequest', (request, reply, done) => {
      const send = reply.send;
      reply.send = function counted(this: typeof reply, ...args: Parameters<typeof send>) {
        sends.push(request.url);
        return send.apply(this, args);
      };
      done();
    });
    app.get('/direct', { onRequest: web.cachePage(60) }, async () => 'direct');
    await app.register(async (scope) => {
      scope.addHook('onSend', (_request, _reply, payload, done) => done(null, payload));
      scope.get('/through-send', { onRequest: web.cachePage(60) }, async () => 'through');
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      for (const path of ['/direct', '/through-send']) {
        const miss = await fetch(`${base}${path}`);
        assert.match(miss.headers.get('cache-status') ?? '', /stored/);
        sends.length = 0;
        const hit = await fetch(`${base}${path}`);
        assert.match(hit.headers.get('cache-status') ?? '', /^larder; hit/);
        assert.equal(await hit.text(), path === '/direct' ? 'direct' : 'through');
        if (path === '/direct') assert.deepEqual(sends, [], 'the hit went out without reply.send');
        else assert.deepEqual(sends, ['/through-send'], 'with an app onSend hook, the hit uses reply.send');
      }
    } finally {
      await close();
    }
  });

  test('a trailer an earlier hook added goes out on a hit too (through reply.send)', async () => {
    const { web, app, close } = await pluginApp();
    app.addHook('onRequest', (_request, reply, done) => {
      reply.trailer('x-trailer', async () => 'sent');
      done();
    });
    app.get('/page', { onRequest: web.cachePage(60) }, async () => 'page');
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const get = () =>
      new Promise<{ cacheStatus: string; body: string; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
        httpGet(`${base}/page`, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () =>
            resolve({ cacheStatus: String(res.headers['cache-status']), body, trailers: res.trailers }),
          );
        }).on('error', reject);
      });
    try {
      const miss = await get();
      assert.equal(miss.trailers['x-trailer'], 'sent', 'the route sends the trailer');
      const hit = await get();
      assert.match(hit.cacheStatus, /^larder; hit/);
      assert.equal(hit.body, 'page');
      assert.equal(hit.trailers['x-trailer'], 'sent');
    } finally {
      await close();
    }
  });

  test('an onSend hook of the app still runs on a hit', async () => {
    const { base, close } = await start([]);
    try {
      const miss = await fetch(`${base}/with-on-send`);
      assert.equal(miss.headers.get('x-on-send'), 'ran');
      const hit = await fetch(`${base}/with-on-send`);
      assert.match(hit.headers.get('cache-status') ?? '', /^larder; hit/);
      assert.equal(await hit.text(), 'sent');
      assert.equal(hit.headers.get('x-on-send'), 'ran');
    } finally {
      await close();
    }
  });
});
