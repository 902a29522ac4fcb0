/**
 * `ExpressSessionStore` as express-session users meet it: express-session's own store cases
 * (expressjs/session `test/session.js`: new session saved, restored, regenerate, destroy,
 * touch, rolling, reload, save, `cookie.maxAge`, store errors) over real HTTP on Express 5,
 * then the Store API called directly — and both lists run unchanged against connect-redis 9
 * (on node-redis 6), the store it replaces, on the shared Redis. Where the two differ on
 * purpose, a case shows both behaviours side by side.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RedisStore } from 'connect-redis';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import { ConfigError, SessionInterruptedError, SessionTooLargeError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { ExpressSessionStore } from '../../src/session/express-store.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { startStandalone } from '../support/redis-server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SECRET = 'keyboard cat';
const COOKIE = 'connect.sid';
const MINUTE = 60_000;
const DAY = 86_400_000;

type Callback = (error?: any, value?: any) => void;

/** The Store API both stores offer: callbacks, and a promise from every call. */
interface DropInStore extends session.Store {
  get(sid: string, callback?: Callback): Promise<any>;
  set(sid: string, sess: any, callback?: Callback): Promise<any>;
  touch(sid: string, sess: any, callback?: Callback): Promise<any>;
  destroy(sid: string, callback?: Callback): Promise<any>;
  all(callback?: Callback): Promise<any>;
  length(callback?: Callback): Promise<any>;
  clear(callback?: Callback): Promise<any>;
  ids(callback?: Callback): Promise<any>;
}

/** A store under test, on a Redis server, and where it keeps a session. */
interface Fixture {
  store: DropInStore;
  keyOf(sid: string): string;
  close(): Promise<void>;
}

const raw = createClient({ url: redisUrlFor('standalone') });
raw.on('error', () => {});

const STORES: Array<{ name: string; make: (url: string) => Promise<Fixture> }> = [
  {
    name: 'ExpressSessionStore (larder, redis engine)',
    make: async (url) => {
      const larder = createLarder({ redis: url, logger: false });
      const prefix = uniquePrefix('express-session');
      return {
        store: new ExpressSessionStore({ larder, prefix }),
        keyOf: (sid) => `${prefix}:${sid}`,
        close: () => larder.close(),
      };
    },
  },
  {
    name: 'connect-redis 9 (node-redis 6)',
    make: async (url) => {
      // Without the offline queue, as larder runs: commands fail at once while Redis is down.
      const client = createClient({ url, disableOfflineQueue: true });
      client.on('error', () => {});
      await client.connect();
      const prefix = `${uniquePrefix('connect-redis')}:`;
      return {
        store: new RedisStore({ client, prefix }) as unknown as DropInStore,
        keyOf: (sid) => prefix + sid,
        close: async () => {
          if (client.isOpen) await client.close();
        },
      };
    },
  },
];

// ---- HTTP plumbing ---------------------------------------------------------------------------

/** express-session's `req.session` (larder's adapter types `req.session` as its own `Session`). */
const sess = (req: Request): any => (req as any).session;
const sidOfReq = (req: Request): string => (req as any).sessionID;

/** The session id inside a `connect.sid=s%3A<id>.<signature>` cookie pair. */
function sidOf(pair: string): string {
  const value = decodeURIComponent(pair.slice(COOKIE.length + 1));
  return value.slice(2, value.lastIndexOf('.'));
}

/** A cookie pair express-session accepts for `sid` (cookie-signature's HMAC-SHA256). */
function signedCookie(sid: string): string {
  const signature = createHmac('sha256', SECRET).update(sid).digest('base64').replace(/=+$/, '');
  return `${COOKIE}=${encodeURIComponent(`s:${sid}.${signature}`)}`;
}

/** A browser: keeps the session cookie it was given. */
class Client {
  cookie: string | undefined;
  constructor(readonly base: string) {}

  async get(pathname: string, cookie = this.cookie) {
    const res = await fetch(this.base + pathname, { headers: cookie ? { cookie } : {} });
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`));
    if (setCookie) this.cookie = setCookie.split(';')[0];
    return { status: res.status, body: await res.text(), setCookie };
  }

  get sid(): string {
    assert.ok(this.cookie, 'the client holds a session cookie');
    return sidOf(this.cookie);
  }
}

/** A gate a route waits on, so a test can act while a request holds its session. */
function gate() {
  let open!: () => void;
  let reached!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const arrived = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const wait = () => {
    reached();
    return opened;
  };
  return { open, arrived, wait };
}

interface App {
  client: Client;
  /** Errors that reached the app's error handler. */
  errors: unknown[];
  /** Requests that reached a route. */
  handled: string[];
  hold: ReturnType<typeof gate>;
  close(): Promise<void>;
}

/** Express 5 with express-session on `store` and the routes every case uses. */
async function serve(store: DropInStore, options: Record<string, unknown> = {}): Promise<App> {
  const app = express();
  const errors: unknown[] = [];
  const handled: string[] = [];
  const hold = gate();
  app.use(session({ store, secret: SECRET, resave: false, saveUninitialized: false, ...options }));
  app.use((req, _res, next) => {
    handled.push(req.path);
    next();
  });
  app.get('/views', (req, res) => {
    const s = sess(req);
    s.views = (s.views ?? 0) + 1;
    res.send(String(s.views));
  });
  app.get('/read', (req, res) => {
    res.send(String(sess(req).views ?? 'none'));
  });
  app.get('/cart', (req, res) => {
    delete sess(req).views;
    sess(req).cart = ['sku-1'];
    res.send('cart');
  });
  app.get('/hold', async (req, res) => {
    await hold.wait();
    if (req.query.write) sess(req).views = 7;
    res.send(String(sess(req).views));
  });
  app.get('/regenerate', (req, res, next) => {
    const old = sidOfReq(req);
    sess(req).regenerate((error: unknown) => {
      if (error) return next(error);
      sess(req).views = 100;
      res.send(old);
    });
  });
  app.get('/destroy', (req, res, next) => {
    sess(req).destroy((error: unknown) => (error ? next(error) : res.send(String(sess(req)))));
  });
  app.get('/reload', (req, res, next) => {
    // Another request changed the session meanwhile; reload picks that up.
    store.get(sidOfReq(req), (error, stored) => {
      if (error) return next(error);
      store.set(sidOfReq(req), { ...stored, views: 99 }, (setError) => {
        if (setError) return next(setError);
        sess(req).reload((reloadError: unknown) =>
          reloadError ? next(reloadError) : res.send(String(sess(req).views)),
        );
      });
    });
  });
  app.get('/reload-missing', (req, res) => {
    store.destroy(sidOfReq(req), () => {
      sess(req).reload((error: Error | undefined) =>
        res.status(error ? 500 : 200).send(error?.message ?? ''),
      );
    });
  });
  app.get('/save', (req, res, next) => {
    sess(req).hit = true;
    sess(req).save((error: unknown) => {
      if (error) return next(error);
      store.get(sidOfReq(req), (getError, stored) => {
        if (getError) return next(getError);
        res.send(stored ? `stored hit=${stored.hit}` : 'empty');
      });
    });
  });
  app.get('/cookie', (req, res) => {
    res.json({ maxAge: sess(req).cookie.maxAge, originalMaxAge: sess(req).cookie.originalMaxAge });
  });
  app.use((error: any, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(error);
    // express-session reports a failed end-of-request save after the response went out.
    if (res.headersSent) return;
    res.status(typeof error?.status === 'number' ? error.status : 500).send(`error: ${error?.message}`);
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const client = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return {
    client,
    errors,
    handled,
    hold,
    close: () =>
      new Promise<void>((resolve) => {
        // express-session listens for the store's connect/disconnect; each app adds a pair.
        store.removeAllListeners('connect');
        store.removeAllListeners('disconnect');
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Runs `body` with an app on `store`, closing it afterwards. */
async function withApp(
  store: DropInStore,
  options: Record<string, unknown>,
  body: (app: App) => Promise<void>,
): Promise<void> {
  const app = await serve(store, options);
  try {
    await body(app);
  } finally {
    await app.close();
  }
}

/** A store's callback API as a promise (the callback is what express-session uses). */
function call<T>(fn: (callback: Callback) => unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    fn((error, value) => (error ? reject(error) : resolve(value)));
  });
}

const ttlOf = async (key: string) => Number(await raw.pTTL(key));
const cookie = (overrides: Record<string, unknown> = {}) => ({
  originalMaxAge: MINUTE,
  expires: new Date(Date.now() + MINUTE).toISOString(),
  httpOnly: true,
  path: '/',
  ...overrides,
});

before(async () => {
  await raw.connect();
});
after(async () => {
  await raw.close();
});

// ---- the shared lists --------------------------------------------------------------------------

for (const { name, make } of STORES) {
  describe(`${name}: express-session over HTTP`, () => {
    let fixture: Fixture;
    const store = () => fixture.store;
    before(async () => {
      fixture = await make(redisUrlFor('standalone') as string);
    });
    beforeEach(async () => {
      await call((cb) => store().clear(cb));
    });
    after(async () => {
      await fixture?.close();
    });

    it('a new session is saved to the store and its cookie is set', async () => {
      await withApp(store(), {}, async ({ client }) => {
        const res = await client.get('/views');
        assert.equal(res.status, 200);
        assert.equal(res.body, '1');
        assert.match(res.setCookie ?? '', /^connect\.sid=s%3A[\w-]{32}\./);
        assert.equal(await call((cb) => store().length(cb)), 1);
        const stored: any = await call((cb) => store().get(client.sid, cb));
        assert.equal(stored.views, 1);
        assert.equal(stored.cookie.path, '/');
      });
    });

    it('the session is restored from the store on the next request', async () => {
      await withApp(store(), {}, async ({ client }) => {
        await client.get('/views');
        const sid = client.sid;
        const res = await client.get('/views');
        assert.equal(res.body, '2');
        assert.equal(client.sid, sid);
        assert.equal(((await call((cb) => store().get(sid, cb))) as any).views, 2);
      });
    });

    it('an uninitialized session is neither saved nor sent (saveUninitialized: false)', async () => {
      await withApp(store(), {}, async ({ client }) => {
        const res = await client.get('/read');
        assert.equal(res.body, 'none');
        assert.equal(res.setCookie, undefined);
        assert.equal(await call((cb) => store().length(cb)), 0);
      });
    });

    it('an unmodified session is not rewritten (resave: false); resave: true saves it', async () => {
      for (const resave of [false, true]) {
        await withApp(store(), { resave, cookie: { maxAge: MINUTE } }, async (app) => {
          await app.client.get('/views');
          const sid = app.client.sid;
          const pending = app.client.get('/hold');
          await app.hold.arrived;
          // Another request changes the session (and its cookie's expiry) while this one holds its copy.
          const current: any = await call((cb) => store().get(sid, cb));
          const later = new Date(Date.now() + 5 * MINUTE);
          const changed = { ...current, views: 41, cookie: { ...current.cookie, expires: later } };
          await call((cb) => store().set(sid, changed, cb));
          const before: any = await call((cb) => store().get(sid, cb));
          assert.equal(new Date(before.cookie.expires).getTime(), later.getTime());
          app.hold.open();
          assert.equal((await pending).body, '1');
          const stored: any = await call((cb) => store().get(sid, cb));
          // resave: true saves the session (its cookie's new expiry with it); resave: false does not.
          const saved =
            new Date(stored.cookie.expires).getTime() !== new Date(before.cookie.expires).getTime();
          assert.equal(saved, resave, `resave: ${resave}`);
          if (!resave) assert.equal(stored.views, 41);
        });
      }
    });

    it('an id unknown to the store starts a new session under a new id', async () => {
      await withApp(store(), {}, async ({ client }) => {
        const res = await client.get('/views', signedCookie('never-stored-0123456789abcdefghij'));
        assert.equal(res.body, '1');
        assert.ok(res.setCookie);
        assert.notEqual(client.sid, 'never-stored-0123456789abcdefghij');
        assert.equal(((await call((cb) => store().get(client.sid, cb))) as any).views, 1);
      });
    });

    it('a session deleted from the store (clear) is not found: the next request starts afresh', async () => {
      await withApp(store(), {}, async ({ client }) => {
        await client.get('/views');
        const sid = client.sid;
        await call((cb) => store().clear(cb));
        assert.equal((await client.get('/views')).body, '1');
        assert.notEqual(client.sid, sid);
      });
    });

    it('regenerate destroys the old session and issues a new id', async () => {
      await withApp(store(), {}, async ({ client }) => {
        await client.get('/views');
        const old = client.sid;
        const res = await client.get('/regenerate');
        assert.equal(res.body, old);
        assert.ok(res.setCookie);
        assert.notEqual(client.sid, old);
        assert.equal((await call((cb) => store().get(old, cb))) ?? undefined, undefined);
        assert.equal(((await call((cb) => store().get(client.sid, cb))) as any).views, 100);
      });
    });

    it('destroy removes the session from the store and sets no cookie', async () => {
      await withApp(store(), {}, async ({ client }) => {
        await client.get('/views');
        const sid = client.sid;
        const res = await client.get('/destroy');
        assert.equal(res.body, 'undefined');
        assert.equal(res.setCookie, undefined);
        assert.equal((await call((cb) => store().get(sid, cb))) ?? undefined, undefined);
        assert.equal(await call((cb) => store().length(cb)), 0);
      });
    });

    it('touch refreshes the store TTL of an unmodified session (resave: false)', async () => {
      await withApp(store(), { cookie: { maxAge: MINUTE } }, async ({ client }) => {
        await client.get('/views');
        const key = fixture.keyOf(client.sid);
        await raw.pExpire(key, 5_000);
        const res = await client.get('/read');
        assert.equal(res.body, '1');
        // Not modified and not rolling: no new cookie, but the store's TTL is a minute again.
        assert.equal(res.setCookie, undefined);
        const ttl = await ttlOf(key);
        assert.ok(ttl > 30_000 && ttl <= MINUTE, `ttl ${ttl}`);
      });
    });

    it('rolling: true re-sends the cookie and refreshes the TTL on every response', async () => {
      await withApp(store(), { rolling: true, cookie: { maxAge: MINUTE } }, async ({ client }) => {
        await client.get('/views');
        const sid = client.sid;
        const key = fixture.keyOf(sid);
        await raw.pExpire(key, 5_000);
        const res = await client.get('/read');
        assert.match(res.setCookie ?? '', /Expires=/);
        assert.equal(client.sid, sid);
        const ttl = await ttlOf(key);
        assert.ok(ttl > 30_000 && ttl <= MINUTE, `ttl ${ttl}`);
      });
    });

    it('reload replaces req.session with what the store holds', async () => {
      await withApp(store(), {}, async ({ client }) => {
        await client.get('/views');
        assert.equal((await client.get('/reload')).body, '99');
        assert.equal((await client.get('/read')).body, '99');
      });
    });

    it('reload fails when the session is gone from the store', async () => {
      await withApp(store(), {}, async ({ client }) => {
        await client.get('/views');
        const res = await client.get('/reload-missing');
        assert.equal(res.status, 500);
        assert.equal(res.body, 'failed to load session');
      });
    });

    it('save() writes at once, and the end-of-request save is skipped', async () => {
      await withApp(store(), {}, async ({ client }) => {
        assert.equal((await client.get('/save')).body, 'stored hit=true');
        assert.equal((await client.get('/save')).body, 'stored hit=true');
        assert.equal(await call((cb) => store().length(cb)), 1);
      });
    });

    it('req.session.cookie.maxAge counts down from maxAge, and the store TTL follows it', async () => {
      await withApp(store(), { cookie: { maxAge: MINUTE } }, async ({ client }) => {
        await client.get('/views');
        const ttl = await ttlOf(fixture.keyOf(client.sid));
        assert.ok(ttl > 30_000 && ttl <= MINUTE, `ttl ${ttl}`);
        const { maxAge, originalMaxAge } = JSON.parse((await client.get('/cookie')).body);
        assert.equal(originalMaxAge, MINUTE);
        assert.ok(maxAge > 30_000 && maxAge <= MINUTE, `maxAge ${maxAge}`);
      });
    });

    it('a browser-session cookie (no maxAge) is kept one day in the store', async () => {
      await withApp(store(), {}, async ({ client }) => {
        const res = await client.get('/views');
        assert.doesNotMatch(res.setCookie ?? '', /Expires=/);
        const ttl = await ttlOf(fixture.keyOf(client.sid));
        assert.ok(ttl > DAY - 60_000 && ttl <= DAY, `ttl ${ttl}`);
      });
    });

    it('a property deleted from req.session is deleted from the store', async () => {
      await withApp(store(), {}, async ({ client }) => {
        await client.get('/views');
        await client.get('/cart');
        const stored: any = await call((cb) => store().get(client.sid, cb));
        assert.deepEqual(stored.cart, ['sku-1']);
        assert.equal('views' in stored, false);
      });
    });

    it('concurrent first requests get sessions of their own', async () => {
      await withApp(store(), {}, async ({ client }) => {
        const [a, b] = await Promise.all([client.get('/views', ''), client.get('/views', '')]);
        assert.ok(a.setCookie && b.setCookie);
        assert.notEqual(sidOf(a.setCookie.split(';')[0]), sidOf(b.setCookie.split(';')[0]));
        assert.equal(((await call((cb) => store().all(cb))) as unknown[]).length, 2);
      });
    });

    it('a store outage reaches the error handler: load fails before the route, a failed save after the response', async () => {
      const server = await startStandalone();
      const down = await make(server.url);
      try {
        await withApp(down.store, {}, async (app) => {
          await app.client.get('/views');
          assert.equal(app.errors.length, 0);
          // The save fails: express-session has already sent the response, and passes the error on.
          const pending = app.client.get('/hold?write=1');
          await app.hold.arrived;
          await server.kill();
          app.hold.open();
          const saved = await pending;
          assert.equal(saved.status, 200);
          await waitUntil(() => app.errors.length === 1);
          assert.ok(app.errors[0] instanceof Error);
          // The load fails: the route never runs, the error handler answers.
          app.handled.length = 0;
          const res = await app.client.get('/read');
          assert.ok(res.status >= 500, `status ${res.status}`);
          assert.match(res.body, /^error: /);
          assert.deepEqual(app.handled, []);
          assert.equal(app.errors.length, 2);
        });
      } finally {
        await down.close().catch(() => {});
        await server.stop();
      }
    });
  });

  describe(`${name}: the Store API`, () => {
    let fixture: Fixture;
    const store = () => fixture.store;
    before(async () => {
      fixture = await make(redisUrlFor('standalone') as string);
    });
    beforeEach(async () => {
      await store().clear();
    });
    after(async () => {
      await fixture?.close();
    });

    it('is an express-session Store (an EventEmitter with createSession, regenerate and load)', () => {
      assert.ok(store() instanceof session.Store);
      assert.ok(store() instanceof EventEmitter);
      for (const method of [
        'createSession',
        'regenerate',
        'load',
        'get',
        'set',
        'destroy',
        'touch',
      ] as const) {
        assert.equal(typeof store()[method], 'function', method);
      }
    });

    it('get of an unknown id answers nothing', async () => {
      assert.equal((await call((cb) => store().get('nobody', cb))) ?? undefined, undefined);
    });

    it('set then get round-trips the session (callbacks, and the promise each call returns)', async () => {
      const data = { cookie: cookie(), views: 3, user: { name: 'ana', roles: ['admin'] }, flag: false };
      await call((cb) => store().set('sid-1', data, cb));
      assert.deepEqual(await call((cb) => store().get('sid-1', cb)), data);
      assert.deepEqual(await store().get('sid-1'), data);
    });

    it('set replaces the whole session: properties no longer present are removed', async () => {
      const kept = cookie();
      await store().set('sid-1', { cookie: kept, views: 3, cart: ['a'] });
      await store().set('sid-1', { cookie: kept, cart: ['a', 'b'] });
      assert.deepEqual(await store().get('sid-1'), { cookie: kept, cart: ['a', 'b'] });
    });

    it('set takes the TTL from cookie.expires, and one day without it', async () => {
      await store().set('with-expiry', { cookie: cookie({ expires: new Date(Date.now() + 2 * MINUTE) }) });
      const ttl = await ttlOf(fixture.keyOf('with-expiry'));
      assert.ok(ttl > MINUTE && ttl <= 2 * MINUTE, `ttl ${ttl}`);
      await store().set('browser-session', { cookie: cookie({ expires: null, originalMaxAge: null }) });
      const day = await ttlOf(fixture.keyOf('browser-session'));
      assert.ok(day > DAY - MINUTE && day <= DAY, `ttl ${day}`);
    });

    it('set with a cookie already expired deletes the session', async () => {
      await store().set('sid-1', { cookie: cookie(), views: 1 });
      await store().set('sid-1', { cookie: cookie({ expires: new Date(Date.now() - 1000) }), views: 2 });
      assert.equal((await store().get('sid-1')) ?? undefined, undefined);
    });

    it('touch refreshes the TTL and leaves the stored data as it was', async () => {
      await store().set('sid-1', { cookie: cookie(), views: 1 });
      await call((cb) =>
        store().touch(
          'sid-1',
          { cookie: cookie({ expires: new Date(Date.now() + 5 * MINUTE) }), views: 2 },
          cb,
        ),
      );
      const ttl = await ttlOf(fixture.keyOf('sid-1'));
      assert.ok(ttl > 2 * MINUTE && ttl <= 5 * MINUTE, `ttl ${ttl}`);
      assert.equal((await store().get('sid-1')).views, 1);
    });

    it('touch never recreates a deleted session', async () => {
      await call((cb) => store().touch('gone', { cookie: cookie(), views: 1 }, cb));
      assert.equal((await store().get('gone')) ?? undefined, undefined);
      assert.equal(await raw.exists(fixture.keyOf('gone')), 0);
    });

    it('destroy deletes the session; destroying an unknown id is no error', async () => {
      await store().set('sid-1', { cookie: cookie(), views: 1 });
      await call((cb) => store().destroy('sid-1', cb));
      assert.equal((await store().get('sid-1')) ?? undefined, undefined);
      await call((cb) => store().destroy('never-there', cb));
      assert.equal(await store().length(), 0);
    });

    it('all, ids and length list every session; clear deletes them all', async () => {
      for (const sid of ['a', 'b', 'c']) await store().set(sid, { cookie: cookie(), owner: sid });
      assert.equal(await call((cb) => store().length(cb)), 3);
      assert.deepEqual(((await call((cb) => store().ids(cb))) as string[]).sort(), ['a', 'b', 'c']);
      const all = (await call((cb) => store().all(cb))) as Array<{ id: string; owner: string }>;
      assert.deepEqual(all.map((s) => [s.id, s.owner]).sort(), [
        ['a', 'a'],
        ['b', 'b'],
        ['c', 'c'],
      ]);
      await call((cb) => store().clear(cb));
      assert.equal(await store().length(), 0);
      assert.deepEqual(await store().all(), []);
    });

    it('takes any id express-session gives (its own 32-character ids, a custom genid)', async () => {
      for (const sid of ['Zt3kP0_x-9aQwErTyUiOpAsDfGhJkL12', 'x', 'user-42.session@host', 'a'.repeat(200)]) {
        await store().set(sid, { cookie: cookie(), sid });
        assert.equal((await store().get(sid)).sid, sid);
      }
    });

    it('a store error reaches the callback', async () => {
      const server = await startStandalone();
      const down = await make(server.url);
      try {
        await down.store.set('sid-1', { cookie: cookie(), views: 1 });
        await server.kill();
        for (const attempt of [
          (cb: Callback) => down.store.get('sid-1', cb),
          (cb: Callback) => down.store.set('sid-1', { cookie: cookie(), views: 2 }, cb),
          (cb: Callback) => down.store.destroy('sid-1', cb),
        ]) {
          await assert.rejects(call(attempt), Error);
        }
      } finally {
        await down.close().catch(() => {});
        await server.stop();
      }
    });
  });
}

// ---- larder's own ------------------------------------------------------------------------------

describe('ExpressSessionStore: larder specifics', () => {
  let larder: Larder;
  const url = () => redisUrlFor('standalone') as string;
  const sessionsPrefix = uniquePrefix('sessions');

  before(() => {
    larder = createLarder({
      redis: url(),
      sessions: { prefix: sessionsPrefix, maxBytes: 1024 },
      logger: false,
    });
  });
  after(async () => {
    await larder?.close();
  });

  it('keeps each property as a field of one hash (JSON text), beside the bookkeeping', async () => {
    const prefix = uniquePrefix('fields');
    const store = new ExpressSessionStore({ larder, prefix });
    const expires = new Date(Date.now() + MINUTE);
    await store.set('sid-1', { cookie: { originalMaxAge: MINUTE, expires }, views: 2, at: new Date(0) });
    const hash = await raw.hGetAll(`${prefix}:sid-1`);
    assert.equal(hash['d:views'], '2');
    assert.deepEqual(JSON.parse(hash['d:cookie'] as string).originalMaxAge, MINUTE);
    assert.match(hash['m:c'] as string, /^\d+$/);
    assert.match(hash['m:s'] as string, /^\d+$/);
    // larder's json serializer: a Date comes back a Date (connect-redis's JSON: a string).
    const back = (await store.get('sid-1')) as { at: Date };
    assert.ok(back.at instanceof Date);
    assert.equal(back.at.getTime(), 0);
  });

  it('get answers undefined for an unknown id (connect-redis answers null)', async () => {
    const store = new ExpressSessionStore({ larder });
    assert.equal(await store.get('nobody'), undefined);
  });

  it("without a prefix it is the configured engine's store, in its keyspace", async () => {
    const store = new ExpressSessionStore({ larder });
    assert.equal(store.store, larder.sessions.store);
    await store.set('sid-1', { cookie: cookie(), views: 1 });
    assert.equal(await raw.exists(`${sessionsPrefix}:sid-1`), 1);
    assert.notEqual(new ExpressSessionStore({ larder, prefix: 'other' }).store, larder.sessions.store);
    await store.destroy('sid-1');
  });

  it('a session deleted while a request holds it is not recreated by its save (connect-redis recreates it)', async () => {
    const outcome: Record<string, { stored: unknown; error: unknown }> = {};
    for (const { name, make } of STORES) {
      const fixture = await make(url());
      try {
        await withApp(fixture.store, {}, async (app) => {
          await app.client.get('/views');
          const sid = app.client.sid;
          const pending = app.client.get('/hold?write=1');
          await app.hold.arrived;
          // Logout on another device, an admin revoke: the session is deleted meanwhile.
          await fixture.store.destroy(sid);
          app.hold.open();
          assert.equal((await pending).status, 200);
          await waitUntil(() => app.errors.length > 0 || name.startsWith('connect-redis'));
          outcome[name] = { stored: (await fixture.store.get(sid)) ?? undefined, error: app.errors[0] };
        });
      } finally {
        await fixture.close();
      }
    }
    const [ours, theirs] = STORES.map((s) => outcome[s.name] as { stored: unknown; error: unknown });
    assert.equal(ours.stored, undefined);
    assert.ok(ours.error instanceof SessionInterruptedError);
    assert.equal((theirs.stored as { views: number }).views, 7);
    assert.equal(theirs.error, undefined);
  });

  it('overlapping requests editing different properties keep both writes (connect-redis keeps the last save)', async () => {
    const outcome: Record<string, unknown> = {};
    for (const { name, make } of STORES) {
      const fixture = await make(url());
      try {
        await withApp(fixture.store, {}, async (app) => {
          await app.client.get('/views');
          const sid = app.client.sid;
          const pending = app.client.get('/hold?write=1');
          await app.hold.arrived;
          // Another request, holding its own copy, adds a property and saves first.
          const other = await fixture.store.get(sid);
          other.cart = ['sku-2'];
          await fixture.store.set(sid, other);
          app.hold.open();
          assert.equal((await pending).body, '7');
          outcome[name] = await fixture.store.get(sid);
        });
      } finally {
        await fixture.close();
      }
    }
    const [ours, theirs] = STORES.map((s) => outcome[s.name] as { views: number; cart?: string[] });
    assert.equal(ours.views, 7);
    assert.deepEqual(ours.cart, ['sku-2']);
    assert.equal(theirs.views, 7);
    assert.equal(theirs.cart, undefined);
  });

  it('resave: true saves only the fields that changed (connect-redis rewrites the whole session)', async () => {
    const outcome: Record<string, unknown> = {};
    for (const { name, make } of STORES) {
      const fixture = await make(url());
      try {
        await withApp(fixture.store, { resave: true }, async (app) => {
          await app.client.get('/views');
          const sid = app.client.sid;
          const pending = app.client.get('/hold');
          await app.hold.arrived;
          const current = await fixture.store.get(sid);
          await fixture.store.set(sid, { ...current, views: 41 });
          app.hold.open();
          assert.equal((await pending).body, '1');
          outcome[name] = (await fixture.store.get(sid)).views;
        });
      } finally {
        await fixture.close();
      }
    }
    assert.deepEqual(
      STORES.map((s) => outcome[s.name]),
      [41, 1],
    );
  });

  it('a save of a loaded session writes only the fields that changed', async () => {
    const prefix = uniquePrefix('changed');
    const store = new ExpressSessionStore({ larder, prefix });
    await withApp(store as unknown as DropInStore, { cookie: { maxAge: MINUTE } }, async ({ client }) => {
      await client.get('/views');
      await client.get('/cart');
      const key = `${prefix}:${client.sid}`;
      // Overwritten behind express-session's back: a field the next save does not change stays.
      await raw.hSet(key, 'd:cart', '["planted"]');
      assert.equal((await client.get('/views')).body, '1');
      const hash = await raw.hGetAll(key);
      assert.equal(hash['d:views'], '1');
      assert.equal(hash['d:cart'], '["planted"]');
    });
  });

  it('refuses a session over sessions.maxBytes; nothing is stored', async () => {
    const store = new ExpressSessionStore({ larder, prefix: uniquePrefix('big') });
    await assert.rejects(
      store.set('sid-1', { cookie: cookie(), blob: 'x'.repeat(2000) }),
      SessionTooLargeError,
    );
    assert.equal(await store.get('sid-1'), undefined);
  });

  it('a stored field named __proto__ comes back as an own property; no prototype changes', async () => {
    const store = new ExpressSessionStore({ larder, prefix: uniquePrefix('proto') });
    await store.set('sid-1', JSON.parse('{"cookie":{},"__proto__":{"admin":true}}'));
    const back = (await store.get('sid-1')) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.equal((back as { admin?: boolean }).admin, undefined);
    assert.deepEqual(Object.getOwnPropertyDescriptor(back, '__proto__')?.value, { admin: true });
  });

  it('runs on the memory engine when no Redis is configured', async () => {
    const memory = createLarder({ redis: false, logger: false });
    try {
      const store = new ExpressSessionStore({ larder: memory });
      assert.equal(store.store.name, 'memory');
      await withApp(store as unknown as DropInStore, {}, async ({ client }) => {
        assert.equal((await client.get('/views')).body, '1');
        assert.equal((await client.get('/views')).body, '2');
        assert.equal(await store.length(), 1);
        assert.equal((await client.get('/destroy')).body, 'undefined');
        assert.equal(await store.length(), 0);
      });
    } finally {
      await memory.close();
    }
  });

  it('refuses the signed-cookie engine, a bad prefix and a missing larder, naming the option', async () => {
    const cookieLarder = createLarder({
      redis: false,
      sessions: { engine: 'signed-cookie', secret: 'x'.repeat(32) },
      logger: false,
    });
    try {
      assert.throws(
        () => new ExpressSessionStore({ larder: cookieLarder }),
        (error: unknown) => error instanceof ConfigError && error.path === 'sessions.engine',
      );
    } finally {
      await cookieLarder.close();
    }
    assert.throws(
      () => new ExpressSessionStore({ larder, prefix: '' }),
      (error: unknown) => error instanceof ConfigError && error.path === 'ExpressSessionStore.prefix',
    );
    assert.throws(
      () => new ExpressSessionStore({} as never),
      (error: unknown) => error instanceof ConfigError && error.path === 'ExpressSessionStore.larder',
    );
  });

  it('larder/session does not load express-session until an ExpressSessionStore is made', () => {
    // From the built package, in a fresh process, as an app that never uses the class.
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(process.cwd() + '/');
      const loaded = () => Object.keys(require.cache).some((file) => file.includes('/node_modules/express-session/'));
      const { ExpressSessionStore } = await import('larder/session');
      const { createLarder } = await import('larder');
      const larder = createLarder({ redis: false, logger: false });
      const before = loaded();
      const store = new ExpressSessionStore({ larder });
      console.log(JSON.stringify({ before, after: loaded(), isStore: store instanceof require('express-session').Store }));
      await larder.close();
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { before: false, after: true, isStore: true });
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), 'condition reached');
}
