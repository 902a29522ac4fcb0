/**
 * @module bench/session-server — the server side of `bench/session.ts`, in its own process so
 * the load generator does not share its event loop: one Express 5 app, each contender under
 * its own path, each with a read-only route (`/read`: reads `views`) and a read+write route
 * (`/write`: `views + 1`), as its users would write them:
 *
 * - `/hello` — Express hello world, no session (the ceiling);
 * - `/raw/*` — node-redis v6, per-command timeout off: GET (read), GET + SET (write) of a JSON
 *   session under the `sid` cookie (the round-trip floor);
 * - `/es/*` — express-session + connect-redis 9 (`resave: false, saveUninitialized: false`,
 *   a two-week cookie), on its own node-redis client (timeout off too);
 * - `/xs/*` — express-session on larder's `ExpressSessionStore` (the connect-redis drop-in);
 * - `/larder/*` — larder's `web.session()` on the redis engine (defaults); `/larder/incr` too.
 *
 * Prints `PORT <n>` when listening.
 */

import { RedisStore } from 'connect-redis';
import { parse as parseCookies } from 'cookie';
import express, { type Request } from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import { adapt } from '../src/adapters/express.js';
import { createLarder } from '../src/larder.js';
import { ExpressSessionStore } from '../src/session/express-store.js';

const url = process.env.BENCH_REDIS_URL;
if (!url) throw new Error('BENCH_REDIS_URL is not set');
const TWO_WEEKS = 14 * 86_400_000;

/** A node-redis v6 client with its per-command timeout off (DESIGN §7). */
async function client() {
  const c = createClient({ url, commandOptions: { timeout: 0 } });
  c.on('error', (error) => console.error(`bench session server: ${error}`));
  await c.connect();
  return c;
}

const app = express();
app.get('/hello', (_req, res) => {
  res.send('hello world');
});

// Bare node-redis: the session is one JSON string under the `sid` cookie.
const raw = await client();
const rawKey = (req: Request) => `raw-session:${parseCookies(req.headers.cookie ?? '').sid ?? 'none'}`;
const rawLoad = async (req: Request): Promise<{ views?: number }> => {
  const text = await raw.get(rawKey(req));
  return text ? JSON.parse(String(text)) : {};
};
app.get('/raw/read', async (req, res) => {
  res.send(String((await rawLoad(req)).views ?? 0));
});
app.get('/raw/write', async (req, res) => {
  const data = await rawLoad(req);
  data.views = (data.views ?? 0) + 1;
  await raw.set(rawKey(req), JSON.stringify(data), { expiration: { type: 'PX', value: TWO_WEEKS } });
  res.send(String(data.views));
});

// express-session + connect-redis, as their READMEs set them up.
const sess = (req: Request): { views?: number } =>
  (req as unknown as { session: { views?: number } }).session;
const es = express.Router();
es.use(
  session({
    store: new RedisStore({ client: await client() }),
    secret: 'bench secret',
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: TWO_WEEKS },
  }),
);
es.get('/read', (req, res) => {
  res.send(String(sess(req).views ?? 0));
});
es.get('/write', (req, res) => {
  const s = sess(req);
  s.views = (s.views ?? 0) + 1;
  res.send(String(s.views));
});
app.use('/es', es);

// larder's sessions on the redis engine, defaults.
const larder = createLarder({ redis: url, logger: false, sessions: { prefix: 'bench-session' } });

// express-session on larder's store (the connect-redis drop-in), set up as /es is.
const xs = express.Router();
xs.use(
  session({
    store: new ExpressSessionStore({ larder, prefix: 'bench-xs' }),
    secret: 'bench secret',
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: TWO_WEEKS },
  }),
);
xs.get('/read', (req, res) => {
  res.send(String(sess(req).views ?? 0));
});
xs.get('/write', (req, res) => {
  const s = sess(req);
  s.views = (s.views ?? 0) + 1;
  res.send(String(s.views));
});
app.use('/xs', xs);

const web = adapt(larder);
const ours = express.Router();
ours.use(web.session());
ours.get('/read', async (req, res) => {
  res.send(String((await req.session.get('views')) ?? 0));
});
ours.get('/write', async (req, res) => {
  const views = (((await req.session.get('views')) as number | undefined) ?? 0) + 1;
  await req.session.set('views', views);
  res.send(String(views));
});
ours.get('/incr', async (req, res) => {
  res.send(String(await req.session.incr('views')));
});
app.use('/larder', ours);

const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
process.stdout.write(`PORT ${(server.address() as { port: number }).port}\n`);
process.on('SIGTERM', () => {
  server.close();
  Promise.allSettled([larder.close(), raw.close()]).finally(() => process.exit(0));
});
