/**
 * @module bench/session-server — the server side of `bench/session.ts`: one contender per
 * process (`BENCH_CONTENDER`), so no contender's JIT state, heap or response-prototype hook
 * (larder's Express adapter hooks `writeHead` once on `express.response`) touches another's
 * figures. Every contender is the same Express 5 app shape — `express()`, its session
 * middleware (if any) at the app level as the READMEs show it, then its routes — with a
 * read-only route (`/<prefix>/read`: reads `views`) and a read+write route (`/<prefix>/write`:
 * `views + 1`), as its users would write them:
 *
 * - `hello` (`/hello`) — Express hello world, no session (the ceiling);
 * - `raw` (`/raw/*`) — node-redis v6, per-command timeout off: GET (read), GET + SET (write)
 *   of a JSON session under the `sid` cookie (the round-trip floor);
 * - `es` (`/es/*`) — express-session + connect-redis 9 (`resave: false, saveUninitialized:
 *   false`, a two-week cookie), on its own node-redis client (timeout off too);
 * - `xs` (`/xs/*`) — express-session on larder's `ExpressSessionStore` (the connect-redis drop-in);
 * - `larder` (`/larder/*`) — larder's `web.session()` on the redis engine (defaults); `/larder/incr` too.
 *
 * Prints `PORT <n>` when listening; answers the IPC message `'cpu'` with `process.cpuUsage()`.
 */

import { RedisStore } from 'connect-redis';
import { parse as parseCookies } from 'cookie';
import express, { type Express, type Request } from 'express';
import session from 'express-session';
import { createLarder } from 'larder';
import { adapt } from 'larder/express';
import { ExpressSessionStore } from 'larder/session';
import { createClient } from 'redis';

const url = process.env.BENCH_REDIS_URL;
if (!url) throw new Error('BENCH_REDIS_URL is not set');
const contender = process.env.BENCH_CONTENDER ?? '';
const TWO_WEEKS = 14 * 86_400_000;

/** A node-redis v6 client with its per-command timeout off (DESIGN §7). */
async function client() {
  const c = createClient({ url, commandOptions: { timeout: 0 } });
  c.on('error', (error) => console.error(`bench session server: ${error}`));
  await c.connect();
  return c;
}

const sess = (req: Request): { views?: number } =>
  (req as unknown as { session: { views?: number } }).session;

/** express-session's routes, the same on connect-redis and on larder's store. */
function expressSessionApp(prefix: string, store: session.Store): Express {
  const app = express();
  app.use(
    session({
      store,
      secret: 'bench secret',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: TWO_WEEKS },
    }),
  );
  app.get(`${prefix}/read`, (req, res) => {
    res.send(String(sess(req).views ?? 0));
  });
  app.get(`${prefix}/write`, (req, res) => {
    const s = sess(req);
    s.views = (s.views ?? 0) + 1;
    res.send(String(s.views));
  });
  return app;
}

/** Each contender's app and what to close on SIGTERM. */
const contenders: Record<string, () => Promise<{ app: Express; close?: () => Promise<unknown> }>> = {
  async hello() {
    const app = express();
    app.get('/hello', (_req, res) => {
      res.send('hello world');
    });
    return { app };
  },

  // Bare node-redis: the session is one JSON string under the `sid` cookie.
  async raw() {
    const raw = await client();
    const rawKey = (req: Request) => `raw-session:${parseCookies(req.headers.cookie ?? '').sid ?? 'none'}`;
    const rawLoad = async (req: Request): Promise<{ views?: number }> => {
      const text = await raw.get(rawKey(req));
      return text ? JSON.parse(String(text)) : {};
    };
    const app = express();
    app.get('/raw/read', async (req, res) => {
      res.send(String((await rawLoad(req)).views ?? 0));
    });
    app.get('/raw/write', async (req, res) => {
      const data = await rawLoad(req);
      data.views = (data.views ?? 0) + 1;
      await raw.set(rawKey(req), JSON.stringify(data), { expiration: { type: 'PX', value: TWO_WEEKS } });
      res.send(String(data.views));
    });
    return { app, close: () => raw.close() };
  },

  // express-session + connect-redis, as their READMEs set them up.
  async es() {
    const redis = await client();
    return { app: expressSessionApp('/es', new RedisStore({ client: redis })), close: () => redis.close() };
  },

  // express-session on larder's store (the connect-redis drop-in), set up as es is.
  async xs() {
    const larder = createLarder({ redis: url, logger: false });
    return {
      app: expressSessionApp('/xs', new ExpressSessionStore({ larder, prefix: 'bench-xs' })),
      close: () => larder.close(),
    };
  },

  // larder's sessions on the redis engine, defaults.
  async larder() {
    const larder = createLarder({ redis: url, logger: false, sessions: { prefix: 'bench-session' } });
    const web = adapt(larder);
    const app = express();
    app.use(web.session());
    app.get('/larder/read', async (req, res) => {
      res.send(String((await req.session.get('views')) ?? 0));
    });
    app.get('/larder/write', async (req, res) => {
      const views = (((await req.session.get('views')) as number | undefined) ?? 0) + 1;
      await req.session.set('views', views);
      res.send(String(views));
    });
    app.get('/larder/incr', async (req, res) => {
      res.send(String(await req.session.incr('views')));
    });
    return { app, close: () => larder.close() };
  },
};

const make = contenders[contender];
if (!make)
  throw new Error(`BENCH_CONTENDER must be one of ${Object.keys(contenders).join(', ')}; got '${contender}'`);
const { app, close } = await make();
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
process.stdout.write(`PORT ${(server.address() as { port: number }).port}\n`);
// bench/session.ts asks for this process's CPU time around each timed run (IPC).
process.on('message', (message) => {
  if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() });
});
process.on('SIGTERM', () => {
  server.close();
  Promise.allSettled([close?.()]).finally(() => process.exit(0));
});
