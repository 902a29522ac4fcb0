/**
 * Signing in and out, and "your devices": `session.login(userId)` (a new session id, so a
 * planted id is worthless — Django's `cycle_key`), `session.flush()` on logout, and the
 * per-user index of `larder.sessions.forUser(user)` to list and revoke the user's sessions
 * (one, every other one, or all of them: "sign out everywhere").
 *
 * Sign-in is guarded against password guessing by `createLoginGuard` (larder/ratelimit):
 * after 5 wrong passwords for one user name from one address (by default), the form answers
 * 429 until the 15 minutes opened by the first failure are over, whatever the password.
 */
import { createHash } from 'node:crypto';
import { type Request, type Response, Router } from 'express';
import type { Larder } from 'larder';
import type { adapt } from 'larder/express';
import type { LoginGuard } from 'larder/ratelimit';
import type { Render } from './app.js';
import { shopSession } from './visitor.js';

/** A user name: what the login form accepts (the user id is its lower-case form). */
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

/**
 * The demo has no user database: every user's password is their user id backwards
 * (alice → ecila). A real app compares with a password hash (scrypt, argon2).
 */
const passwordOf = (user: string) => [...user].reverse().join('');

/** "40 seconds", "4 minutes" or "3 hours": how long the form stays closed, rounded up. */
function wait(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 90) return `${s} ${s === 1 ? 'second' : 'seconds'}`;
  if (s < 90 * 60) return `${Math.ceil(s / 60)} minutes`;
  return `${Math.ceil(s / 3600)} hours`;
}

/**
 * What the devices page shows instead of a session id: the id is a credential, and one
 * device's page has no business carrying another's (store.ts: "Show a hash of it, not the id").
 */
function handleOf(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 16);
}

const when = (date: Date) => `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;

/** Login, logout and the devices page. */
export function accountRoutes(
  larder: Larder,
  web: ReturnType<typeof adapt>,
  render: Render,
  guard: LoginGuard,
): Router {
  const router = Router();
  // What the login page says about the guard, from its configured rule.
  const [rule] = guard.perUserAndIp.rules;
  const policy = { limit: rule.limit, window: wait(rule.window / 1000) };

  /** The signed-in user, or a redirect to the login page. */
  const requireUser = async (req: Request, res: Response): Promise<string | undefined> => {
    const user = await shopSession(req).userId();
    if (user === undefined) res.redirect(303, '/login');
    return user;
  };

  router.get('/login', web.neverCache(), async (req, res) => {
    await render(req, res, 'login.njk', { title: 'Sign in', error: '', username: '', policy });
  });

  router.post('/login', async (req, res) => {
    const name = String(req.body?.username ?? '').trim();
    const password = String(req.body?.password ?? '');
    const failure = async (status: number, error: string) => {
      res.status(status);
      await render(req, res, 'login.njk', { title: 'Sign in', error, username: name, policy });
    };
    if (!USERNAME.test(name)) {
      await failure(400, 'A user name is 1 to 32 letters, digits, dots, dashes or underscores.');
      return;
    }
    // req.ip: the socket's address (Express trusts no proxy headers unless told to);
    // undefined only once the connection is gone.
    const ip = req.ip;
    if (ip === undefined) return;
    // Asked before the password is looked at: while blocked, even the right one is refused.
    const gate = await guard.check(name, ip);
    if (!gate.allowed) {
      res.set('Retry-After', String(Math.ceil(gate.retryAfter)));
      await failure(
        429,
        `Too many wrong passwords from your address. Try again in ${wait(gate.retryAfter)}.`,
      );
      return;
    }
    const user = name.toLowerCase();
    if (password !== passwordOf(user)) {
      const next = await guard.failed(name, ip);
      // 200 with the form and its error, as Django's login view (a 401 would need WWW-Authenticate).
      await failure(
        200,
        next.allowed
          ? `Wrong password for ${name}. ${next.remaining} ${next.remaining === 1 ? 'attempt' : 'attempts'} left.`
          : `Wrong password for ${name}. That was the last attempt: try again in ${wait(next.retryAfter)}.`,
      );
      return;
    }
    await guard.succeeded(name, ip);
    const session = shopSession(req);
    // Django's login(): another user's session is flushed, never carried over; the same
    // visitor keeps what they had (an anonymous cart survives signing in).
    const current = await session.userId();
    if (current !== undefined && current !== user) await session.flush();
    await session.login(user);
    await session.set('name', name);
    res.redirect(303, '/products');
  });

  router.post('/logout', async (req, res) => {
    await shopSession(req).flush();
    res.redirect(303, '/');
  });

  router.get('/account/devices', web.neverCache(), async (req, res) => {
    const user = await requireUser(req, res);
    if (user === undefined) return;
    const session = shopSession(req);
    const devices = (await larder.sessions.forUser(user).list()).map((device) => ({
      handle: handleOf(device.id),
      current: device.id === session.key,
      userAgent: device.userAgent || 'unknown browser',
      created: when(device.created),
      lastSeen: when(device.lastSeen),
    }));
    const flash = await session.pop('flash');
    await render(req, res, 'devices.njk', { title: 'Your devices', devices, flash: flash ?? '' });
  });

  router.post('/account/devices/revoke', async (req, res) => {
    const user = await requireUser(req, res);
    if (user === undefined) return;
    const session = shopSession(req);
    const handle = String(req.body?.device ?? '');
    // Only this user's sessions are listed, so only they can be revoked; forUser(user).revoke
    // checks the index as well.
    const device = (await larder.sessions.forUser(user).list()).find((d) => handleOf(d.id) === handle);
    if (device === undefined) {
      await session.set('flash', 'That device was already signed out.');
    } else if (device.id === session.key) {
      await session.flush();
      res.redirect(303, '/');
      return;
    } else {
      await larder.sessions.forUser(user).revoke(device.id);
      await session.set('flash', 'The device was signed out.');
    }
    res.redirect(303, '/account/devices');
  });

  router.post('/account/devices/revoke-others', async (req, res) => {
    const user = await requireUser(req, res);
    if (user === undefined) return;
    const session = shopSession(req);
    const count = await larder.sessions.forUser(user).revokeAll({ keep: session.key });
    await session.set('flash', `Signed out ${count} other ${count === 1 ? 'device' : 'devices'}.`);
    res.redirect(303, '/account/devices');
  });

  // "Sign out everywhere": every other device, then this one (flush ends it and drops the cookie).
  router.post('/account/devices/revoke-all', async (req, res) => {
    const user = await requireUser(req, res);
    if (user === undefined) return;
    const session = shopSession(req);
    await larder.sessions.forUser(user).revokeAll({ keep: session.key });
    await session.flush();
    res.redirect(303, '/');
  });

  return router;
}
