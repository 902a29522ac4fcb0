/**
 * Signing in and out, and "your devices": `session.login(userId)` (a new session id, so a
 * planted id is worthless — Django's `cycle_key`), `session.flush()` on logout, and the
 * per-user index of `larder.sessions.forUser(user)` to list and revoke the user's sessions.
 */
import { createHash } from 'node:crypto';
import { type Request, type Response, Router } from 'express';
import type { Larder } from 'larder';
import type { adapt } from 'larder/express';
import type { Render } from './app.js';
import { shopSession } from './visitor.js';

/** A user name: what the login form accepts (the user id is its lower-case form). */
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

/**
 * What the devices page shows instead of a session id: the id is a credential, and one
 * device's page has no business carrying another's (store.ts: "Show a hash of it, not the id").
 */
function handleOf(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 16);
}

const when = (date: Date) => `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;

/** Login, logout and the devices page. */
export function accountRoutes(larder: Larder, web: ReturnType<typeof adapt>, render: Render): Router {
  const router = Router();

  /** The signed-in user, or a redirect to the login page. */
  const requireUser = async (req: Request, res: Response): Promise<string | undefined> => {
    const user = await shopSession(req).userId();
    if (user === undefined) res.redirect(303, '/login');
    return user;
  };

  router.get('/login', web.neverCache(), async (req, res) => {
    await render(req, res, 'login.njk', { title: 'Sign in', error: '' });
  });

  router.post('/login', async (req, res) => {
    const name = String(req.body?.username ?? '').trim();
    if (!USERNAME.test(name)) {
      res.status(400);
      await render(req, res, 'login.njk', {
        title: 'Sign in',
        error: 'A user name is 1 to 32 letters, digits, dots, dashes or underscores.',
      });
      return;
    }
    const session = shopSession(req);
    const user = name.toLowerCase();
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

  return router;
}
