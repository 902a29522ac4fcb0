/**
 * What the storefront's HTTP and browser tests share: the demo on a free port (embedded
 * default or Redis, with a BullMQ worker in this process), and a fetch client with a cookie jar.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createApp, RATE_LIMITS } from '../../examples/storefront/app.js';
import { Catalog } from '../../examples/storefront/catalog.js';
import { createLarder, type Larder } from '../../src/larder.js';
import type { TaskWorker } from '../../src/tasks/index.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * The demo on a free port, on `mode`'s drivers, with a fresh in-memory catalog database;
 * BullMQ gets a worker in this process.
 */
export async function serve(mode: 'memory' | 'redis') {
  const env = mode === 'redis' ? { REDIS_URL: redisUrlFor('standalone') } : {};
  const larder: Larder = createLarder(
    {
      logger: false,
      rateLimits: RATE_LIMITS,
      // Keys (and the `catalog` tag, which each confirmed order invalidates) of this test's own.
      caches: { default: { keyPrefix: uniquePrefix('storefront') } },
      sessions: { prefix: `orders-test:${randomUUID()}` },
      tasks: { prefix: uniquePrefix('storefront') },
    },
    env,
  );
  const catalog = Catalog.open(':memory:');
  const server = createApp(larder as never, {
    catalog,
    loginGuard: { prefix: `orders-test-${randomUUID()}` },
  }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const worker: TaskWorker | undefined =
    mode === 'redis' ? await larder.tasks.startWorker({ concurrency: 2 }) : undefined;
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    larder,
    catalog,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await worker?.close();
      await larder.close();
      catalog.close();
    },
  };
}

/** A fetch client with a cookie jar (a `Max-Age=0` cookie is dropped from it, as a browser would). */
export function client(base: string, userAgent = 'storefront-test') {
  const jar = new Map<string, string>();
  const request = async (path: string, init: RequestInit = {}) => {
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
    const res = await fetch(`${base}${path}`, {
      redirect: 'manual',
      ...init,
      headers: { 'user-agent': userAgent, ...(cookie ? { cookie } : {}), ...init.headers },
    });
    for (const line of res.headers.getSetCookie()) {
      const [name, value] = line.split(';')[0].split('=');
      if (/;\s*max-age=0/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  };
  const post = (path: string, form: Record<string, string> = {}) =>
    request(path, { method: 'POST', body: new URLSearchParams(form) });
  return { jar, request, post };
}
