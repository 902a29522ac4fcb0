/**
 * The Express adapter puts a `session` getter on `express.request` (so `web.session()` adds
 * nothing to each request). An app in the same process that uses express-session instead —
 * here on larder's own `ExpressSessionStore` — assigns `req.session` itself: that must keep
 * working, and an app without any session middleware sees no session. Runs in a process of
 * its own (node --test), so the hooks are installed before either app's first request.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import express from 'express';
import session from 'express-session';
import { adapt } from '../../src/adapters/express.js';
import { createLarder } from '../../src/larder.js';
import { listen } from '../support/listen.js';

test("express-session and web.session() in one process: each app's req.session is its own", async () => {
  const larder = createLarder({ logger: false }, {});
  const web = adapt(larder);

  const plain = express();
  plain.get('/', (req, res) => {
    res.json({ session: req.session === undefined ? 'none' : typeof req.session });
  });

  const es = express();
  es.use(session({ secret: 'test secret', resave: false, saveUninitialized: false }));
  es.get('/count', (req, res) => {
    const s = req.session as unknown as { views?: number };
    s.views = (s.views ?? 0) + 1;
    res.json({ views: s.views });
  });

  const ours = express();
  ours.use(web.session());
  ours.get('/count', async (req, res) => {
    res.json({ views: await req.session.incr('views') });
  });

  const servers = [await listen(plain), await listen(es), await listen(ours)];
  try {
    const [p, e, o] = servers.map((s) => s!.base);
    assert.deepEqual(await (await fetch(`${p}/`)).json(), { session: 'none' });
    for (const base of [e, o]) {
      const first = await fetch(`${base}/count`);
      assert.deepEqual(await first.json(), { views: 1 });
      const cookie = first.headers.getSetCookie()[0]?.split(';')[0];
      assert.ok(cookie, `${base}: a session cookie`);
      const second = await fetch(`${base}/count`, { headers: { cookie } });
      assert.deepEqual(await second.json(), { views: 2 }, `${base}: the session is kept`);
    }
  } finally {
    for (const s of servers) await s.close();
    await larder.close();
  }
});
