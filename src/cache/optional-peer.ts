/**
 * @module larder/cache/optional-peer — loads an optional peer package (msgpackr, lz4-napi,
 * zstd-napi) synchronously, only when the configuration asks for it.
 *
 * `createRequire` rather than `await import()`: the cache is built inside the synchronous
 * `createLarder()`, and a missing package must fail there, at construction, not on the
 * first request. Node >= 20.19 can also `require()` an ES module, so either kind loads.
 */
import { createRequire } from 'node:module';

const requireFromHere = createRequire(import.meta.url);

/** The package's exports, or the reason it could not be loaded. @example if (!peer.ok) console.warn(peer.reason); */
export type PeerLoad<T> = { ok: true; module: T } | { ok: false; reason: string };

const cache = new Map<string, PeerLoad<unknown>>();

/**
 * Requires `name` once per process (later calls reuse the outcome).
 *
 * @example
 * const peer = loadOptionalPeer<typeof import('msgpackr')>('msgpackr');
 * if (!peer.ok) throw new Error(peer.reason); // "msgpackr is not installed: run `npm install msgpackr`"
 */
export function loadOptionalPeer<T>(name: string): PeerLoad<T> {
  let outcome = cache.get(name);
  if (outcome === undefined) {
    try {
      outcome = { ok: true, module: requireFromHere(name) };
    } catch (error) {
      const code = (error as { code?: string }).code;
      const missing = code === 'MODULE_NOT_FOUND' && (error as Error).message.includes(`'${name}'`);
      outcome = {
        ok: false,
        reason: missing
          ? `${name} is not installed: run \`npm install ${name}\``
          : `${name} could not be loaded (${(error as Error).message}): reinstall it with \`npm install ${name}\``,
      };
    }
    cache.set(name, outcome);
  }
  return outcome as PeerLoad<T>;
}
