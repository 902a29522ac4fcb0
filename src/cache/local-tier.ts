/**
 * The in-process tier of the `tiered` cache: decoded, frozen values by store key, bounded
 * by entry count (LRU) and bytes, kept coherent by whoever calls `invalidate` (Redis
 * client tracking, see `src/redis/tracking.ts`).
 *
 * The race a fill must not lose: a read leaves for Redis, another client writes the key
 * and the invalidation arrives, then the old value comes back. `mark` takes a clock
 * reading before the read; every invalidation ticks the clock and stamps the key's slot
 * in a fixed table of epochs, so `remember` can tell whether the key (or one of its tag
 * keys, or everything) was invalidated after `mark`. The table is hashed, not keyed: its
 * memory is fixed whatever the write traffic, and a collision only refuses a fill.
 */
import { ConfigError } from '../errors.js';
import type { LocalEntry, LocalTier as LocalTierContract } from './backend.js';

/** Bounds of a `LocalTier` (a tiered cache's resolved `l1` option). */
export interface LocalTierOptions {
  /** Entries kept; the least recently used goes first. @default 1000 */
  maxEntries?: number;
  /** Sum of `LocalEntry.bytes` kept; unbounded when absent. */
  maxBytes?: number;
  /** Longest an entry stays, in ms; `null` = as long as the shared store keeps it. @default null */
  ttl?: number | null;
  /** Where option errors point (`caches.default.l1`). @default 'l1' */
  configPath?: string;
  /** The clock, in epoch ms (tests pass a fake one). @default Date.now */
  now?: () => number;
}

/** Counters of a tier, for tests and metrics. */
export interface LocalTierStats {
  /** Entries dropped by an invalidation (`forget`, tracking, tags). */
  invalidations: number;
  /** Entries dropped to stay within `maxEntries` / `maxBytes`. */
  evictions: number;
  /** `remember` calls refused because the key changed (or tracking was down) since `mark`. */
  refusedFills: number;
  /** Times tracking went from up to down (each one flushed the tier). */
  trackingLosses: number;
}

interface Node {
  key: string;
  entry: LocalEntry;
  /** The entry's expiry, capped by the tier's `ttl`; `null` = none. */
  expiresAt: number | null;
  tagKeys: readonly string[] | undefined;
  prev: Node | undefined;
  next: Node | undefined;
}

/** Size of the epoch table (a power of two); 16 K slots = 128 KB. */
const SLOTS = 1 << 14;

/** FNV-1a over UTF-16 units, folded to a slot. */
function slotOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & (SLOTS - 1);
}

/**
 * An LRU of decoded values with the race-free fill protocol of the `LocalTier` contract.
 * It starts *down* (refusing fills) until its owner says tracking is up.
 *
 * @example
 * const tier = new LocalTier({ maxEntries: 1000, ttl: 60_000 });
 * tier.setTracking(true);
 * const since = tier.mark('shop:1:k');
 * // … read 'shop:1:k' from Redis, decode and freeze it …
 * tier.remember('shop:1:k', { value, expiresAt: Date.now() + pttl, bytes: 120 }, since);
 * tier.get('shop:1:k')?.value; // the same frozen object, no round trip
 */
export class LocalTier implements LocalTierContract {
  readonly maxEntries: number;
  readonly maxBytes: number | undefined;
  readonly ttl: number | null;
  readonly stats: LocalTierStats = {
    invalidations: 0,
    evictions: 0,
    refusedFills: 0,
    trackingLosses: 0,
  };

  readonly #nodes = new Map<string, Node>();
  /** Tag store key → the nodes carrying it. */
  readonly #tagged = new Map<string, Set<Node>>();
  /** Most recently used first. */
  #head: Node | undefined;
  #tail: Node | undefined;
  #bytes = 0;
  /** Ticks on every invalidation, `forgetAll` and tracking change. */
  #clock = 0;
  readonly #epochs = new Float64Array(SLOTS);
  /** Clock of the last `forgetAll` / tracking change: fills marked before it are refused. */
  #flushedAt = 0;
  #up = false;
  readonly #now: () => number;

  constructor(options: LocalTierOptions = {}) {
    const path = options.configPath ?? 'l1';
    const maxEntries = options.maxEntries ?? 1000;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new ConfigError(`${path}.maxEntries`, maxEntries, 'a whole number greater than 0');
    }
    const { maxBytes } = options;
    if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 1)) {
      throw new ConfigError(`${path}.maxBytes`, maxBytes, 'a whole number of bytes greater than 0');
    }
    const ttl = options.ttl ?? null;
    if (ttl !== null && !(Number.isFinite(ttl) && ttl > 0)) {
      throw new ConfigError(`${path}.ttl`, ttl, 'a duration greater than 0, or null');
    }
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
    this.ttl = ttl;
    this.#now = options.now ?? Date.now;
  }

  /** Entries held now (expired ones may still count until they are looked up or evicted). */
  get size(): number {
    return this.#nodes.size;
  }

  /** Sum of the held entries' `bytes`. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True while tracking is established, i.e. while fills are accepted. */
  get isTracking(): boolean {
    return this.#up;
  }

  get(key: string): LocalEntry | undefined {
    const node = this.#nodes.get(key);
    if (node === undefined) return undefined;
    // One clock reading per hit of an entry that expires (~60 ns): a reading kept for later
    // hits, refreshed by a timer, would serve entries past their expiry for as long as the
    // event loop stays in microtasks or busy code, where no timer runs.
    if (node.expiresAt !== null && node.expiresAt <= this.#now()) {
      this.#drop(node);
      return undefined;
    }
    if (node !== this.#head) this.#toFront(node);
    return node.entry;
  }

  mark(_key: string): number {
    return this.#clock;
  }

  remember(key: string, entry: LocalEntry, since: number): void {
    if (!this.#up || this.#flushedAt > since || this.#epochs[slotOf(key)]! > since) {
      this.stats.refusedFills++;
      return;
    }
    const tagKeys = entry.tagKeys;
    if (tagKeys) {
      for (const tagKey of tagKeys) {
        if (this.#epochs[slotOf(tagKey)]! > since) {
          this.stats.refusedFills++;
          return;
        }
      }
    }
    const cap = this.ttl === null ? null : this.#now() + this.ttl;
    const expiresAt =
      cap === null ? entry.expiresAt : entry.expiresAt === null ? cap : Math.min(cap, entry.expiresAt);
    if (this.maxBytes !== undefined && entry.bytes > this.maxBytes) {
      // Too big to keep at all: drop an older copy rather than serve it.
      const old = this.#nodes.get(key);
      if (old) this.#drop(old);
      return;
    }
    const old = this.#nodes.get(key);
    if (old) this.#drop(old);
    const node: Node = { key, entry, expiresAt, tagKeys, prev: undefined, next: undefined };
    this.#nodes.set(key, node);
    this.#bytes += entry.bytes;
    this.#link(node);
    if (tagKeys) {
      for (const tagKey of tagKeys) {
        let set = this.#tagged.get(tagKey);
        if (!set) {
          set = new Set();
          this.#tagged.set(tagKey, set);
        }
        set.add(node);
      }
    }
    this.#evict();
  }

  forget(key: string): void {
    this.invalidate(key);
  }

  /**
   * `key` changed in the shared store: drops its entry and every entry tagged with it, and
   * refuses fills of those keys marked before now.
   */
  invalidate(key: string): void {
    const now = ++this.#clock;
    this.#epochs[slotOf(key)] = now;
    const node = this.#nodes.get(key);
    if (node) {
      this.#drop(node);
      this.stats.invalidations++;
    }
    const tagged = this.#tagged.get(key);
    if (tagged) {
      for (const carrier of [...tagged]) {
        this.#drop(carrier);
        this.stats.invalidations++;
      }
    }
  }

  forgetAll(): void {
    this.#flushedAt = ++this.#clock;
    this.stats.invalidations += this.#nodes.size;
    this.#nodes.clear();
    this.#tagged.clear();
    this.#head = undefined;
    this.#tail = undefined;
    this.#bytes = 0;
  }

  /**
   * Tracking went up or down. Either way everything held is dropped and fills marked
   * before now are refused (invalidations may have been lost in the gap); while down,
   * every fill is refused.
   */
  setTracking(up: boolean): void {
    if (this.#up && !up) this.stats.trackingLosses++;
    this.forgetAll();
    this.#up = up;
  }

  #drop(node: Node): void {
    this.#nodes.delete(node.key);
    this.#bytes -= node.entry.bytes;
    this.#unlink(node);
    if (node.tagKeys) {
      for (const tagKey of node.tagKeys) {
        const set = this.#tagged.get(tagKey);
        if (set?.delete(node) && set.size === 0) this.#tagged.delete(tagKey);
      }
    }
  }

  #evict(): void {
    const maxBytes = this.maxBytes ?? Number.POSITIVE_INFINITY;
    while ((this.#nodes.size > this.maxEntries || this.#bytes > maxBytes) && this.#tail) {
      this.#drop(this.#tail);
      this.stats.evictions++;
    }
  }

  #link(node: Node): void {
    node.prev = undefined;
    node.next = this.#head;
    if (this.#head) this.#head.prev = node;
    this.#head = node;
    this.#tail ??= node;
  }

  #unlink(node: Node): void {
    if (node.prev) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.#tail = node.prev;
    node.prev = undefined;
    node.next = undefined;
  }

  #toFront(node: Node): void {
    this.#unlink(node);
    this.#link(node);
  }
}
