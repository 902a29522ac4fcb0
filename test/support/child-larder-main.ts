/**
 * @module The child side of `child-larder.ts`: one Larder in its own process, driven over
 * IPC. Started by `startChildLarders`; not meant to be run by hand. Its config arrives as
 * JSON in `LARDER_CHILD_CONFIG`; every request is `{ id, op, args }`, every reply
 * `{ id, ok: true, value }` or `{ id, ok: false, error }`.
 */
import type { LocalTier } from '../../src/cache/local-tier.js';
import type { CacheConfig } from '../../src/config/index.js';
import { createLarder } from '../../src/larder.js';
import type { ChildRequest } from './child-larder.js';

const config = JSON.parse(process.env.LARDER_CHILD_CONFIG ?? '{}') as { url: string; cache: CacheConfig };
const larder = createLarder({ logger: false, redis: config.url, caches: { default: config.cache } }, {});
const cache = larder.cache('default');
const tier = cache.backend.local as LocalTier | undefined;
const conn = larder.connection();

/** Epoch milliseconds with sub-millisecond precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function handle(request: ChildRequest): Promise<unknown> {
  switch (request.op) {
    case 'get':
      return cache.get(request.key);
    case 'getEntry': {
      const { value, status } = await cache.getEntry(request.key);
      return { value, status };
    }
    case 'set': {
      const sentAt = now();
      await cache.set(
        request.key,
        request.value,
        request.timeout === undefined ? {} : { timeout: request.timeout },
      );
      return sentAt;
    }
    case 'getOrSet':
      return cache.getOrSet(request.key, async () => {
        await conn.send(['INCR', request.counterKey], { key: request.counterKey });
        if (request.delayMs) await sleep(request.delayMs);
        return request.value;
      });
    case 'command':
      return conn.send(request.args, request.args[1] === undefined ? {} : { key: request.args[1] });
    case 'holds':
      return tier?.get(cache.keyMaker.make(request.key)) !== undefined;
    case 'tracking': {
      // Reads until the tier says tracking is up (the first read subscribes it).
      const started = now();
      while (!tier?.isTracking) {
        if (now() - started > request.boundMs)
          throw new Error(`tracking not up within ${request.boundMs} ms`);
        await cache.get('__tracking_probe__');
        await sleep(5);
      }
      return true;
    }
    case 'waitEvicted': {
      const made = cache.keyMaker.make(request.key);
      const started = now();
      while (tier?.get(made) !== undefined) {
        if (now() - started > request.boundMs)
          throw new Error(`${request.key} still held after ${request.boundMs} ms`);
        await sleep(1);
      }
      return now();
    }
    case 'close':
      await larder.close();
      setImmediate(() => process.disconnect?.());
      return true;
  }
}

process.on('message', (message: { id: number } & ChildRequest) => {
  handle(message).then(
    (value) => process.send?.({ id: message.id, ok: true, value }),
    (error: Error) => process.send?.({ id: message.id, ok: false, error: error?.stack ?? String(error) }),
  );
});
// The parent died: do not linger.
process.on('disconnect', () => {
  void larder.close().finally(() => process.exit(0));
});
process.send?.({ ready: true });
