/**
 * Django's DummyCache: implements the contract and stores nothing — for development and
 * tests where caching must be off without changing code.
 */
import type { CacheBackend, Payload, ReadEntry, StoredEntry } from '../backend.js';

const nothing = Promise.resolve(undefined);
const no = Promise.resolve(false);

class NullBackend implements CacheBackend {
  readonly name = 'null';
  get(): Promise<Payload | undefined> {
    return nothing;
  }
  read(): Promise<ReadEntry | undefined> {
    return Promise.resolve(undefined);
  }

  getEntry(): Promise<StoredEntry | undefined> {
    return nothing;
  }
  async set(): Promise<void> {}
  // Django's DummyCache.add returns True: the value was "added", then forgotten at once.
  async add(): Promise<boolean> {
    return true;
  }
  // Nothing is ever there: as add, "stored", then forgotten.
  async addOrGet(): Promise<Payload | undefined> {
    return undefined;
  }
  delete(): Promise<boolean> {
    return no;
  }
  async getMany(keys: readonly string[]): Promise<Array<Payload | undefined>> {
    return keys.map(() => undefined);
  }
  async setMany(): Promise<string[]> {
    return [];
  }
  async deleteMany(): Promise<number> {
    return 0;
  }
  incr(): Promise<number | undefined> {
    return nothing;
  }
  touch(): Promise<boolean> {
    return no;
  }
  async ttl(): Promise<number | null> {
    return 0;
  }
  persist(): Promise<boolean> {
    return no;
  }
  async *scan(): AsyncIterable<string[]> {}
  async deletePattern(): Promise<number> {
    return 0;
  }
  async clear(): Promise<void> {}
  deleteIfEquals(): Promise<boolean> {
    return no;
  }
}

/**
 * A backend that stores nothing (Django's `DummyCache`).
 *
 * @example createLarder({ caches: { default: { backend: 'null' } } })
 */
export const nullBackend = (): CacheBackend => new NullBackend();
