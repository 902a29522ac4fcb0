/**
 * The in-process tier of the tiered cache, on its own: bounds (LRU, bytes), the ttl cap,
 * the fill protocol (`mark` / `remember` refused after an invalidation) and the tag index.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LocalEntry } from '../../src/cache/backend.js';
import { LocalTier, type LocalTierOptions } from '../../src/cache/local-tier.js';
import { ConfigError } from '../../src/errors.js';

const T0 = 1_700_000_000_000;

/** A tier on a fake clock, with tracking up (fills accepted). */
function setup(options: LocalTierOptions = {}) {
  const clock = { t: T0 };
  const tier = new LocalTier({ now: () => clock.t, ...options });
  tier.setTracking(true);
  const fill = (key: string, entry: Partial<LocalEntry> = {}) =>
    tier.remember(key, { value: key, expiresAt: null, bytes: 10, ...entry }, tier.mark(key));
  return { tier, clock, fill };
}

const held = (tier: LocalTier, keys: string[]) => keys.filter((k) => tier.get(k) !== undefined);

describe('LocalTier: bounds', () => {
  it('returns the very object it was given (no clone)', () => {
    const { tier } = setup();
    const value = Object.freeze({ a: [1, 2] });
    tier.remember('k', { value, expiresAt: null, bytes: 20 }, tier.mark('k'));
    assert.equal(tier.get('k')?.value, value);
    assert.equal(tier.get('missing'), undefined);
  });

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const { tier, fill } = setup({ maxEntries: 3 });
    for (const k of ['a', 'b', 'c']) fill(k);
    tier.get('a'); // a is now the most recently used: b goes first
    fill('d');
    assert.deepEqual(held(tier, ['a', 'b', 'c', 'd']), ['a', 'c', 'd']);
    assert.equal(tier.size, 3);
    assert.equal(tier.stats.evictions, 1);
  });

  it('keeps the sum of bytes within maxBytes', () => {
    const { tier, fill } = setup({ maxEntries: 100, maxBytes: 100 });
    fill('a', { bytes: 40 });
    fill('b', { bytes: 40 });
    fill('c', { bytes: 40 }); // 120 > 100: a goes
    assert.deepEqual(held(tier, ['a', 'b', 'c']), ['b', 'c']);
    assert.equal(tier.bytes, 80);
  });

  it('does not keep an entry larger than maxBytes, and drops an older copy of it', () => {
    const { tier, fill } = setup({ maxBytes: 100 });
    fill('big', { bytes: 10 });
    fill('big', { bytes: 101, value: 'new' });
    assert.equal(tier.get('big'), undefined);
    assert.equal(tier.bytes, 0);
  });

  it('replacing an entry updates the byte count', () => {
    const { tier, fill } = setup();
    fill('k', { bytes: 10 });
    fill('k', { bytes: 25 });
    assert.equal(tier.bytes, 25);
    assert.equal(tier.size, 1);
  });

  it('rejects bad bounds with a ConfigError naming the option', () => {
    assert.throws(
      () => new LocalTier({ maxEntries: 0, configPath: 'caches.default.l1' }),
      (e: unknown) => e instanceof ConfigError && e.path === 'caches.default.l1.maxEntries',
    );
    assert.throws(
      () => new LocalTier({ maxBytes: 1.5 }),
      (e: unknown) => e instanceof ConfigError,
    );
    assert.throws(
      () => new LocalTier({ ttl: -1 }),
      (e: unknown) => e instanceof ConfigError,
    );
  });
});

describe('LocalTier: expiry', () => {
  it('drops an entry once its own expiresAt has passed', () => {
    const { tier, clock, fill } = setup();
    fill('k', { expiresAt: T0 + 1_000 });
    clock.t += 999;
    assert.ok(tier.get('k'));
    clock.t += 1;
    assert.equal(tier.get('k'), undefined);
    assert.equal(tier.size, 0);
  });

  it('on the real clock, an entry past its expiry is dropped on the next turn', async () => {
    const tier = new LocalTier();
    tier.setTracking(true);
    tier.remember('gone', { value: 1, expiresAt: Date.now() - 1, bytes: 1 }, tier.mark('gone'));
    assert.equal(tier.get('gone'), undefined);
    tier.remember('soon', { value: 1, expiresAt: Date.now() + 5, bytes: 1 }, tier.mark('soon'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(tier.get('soon'), undefined);
  });

  it('on the real clock, an entry past its expiry is not served while the event loop never turns', () => {
    // Regression: one clock reading served up to 1024 hits until a 1 ms timer refreshed it,
    // so code that stayed in microtasks or busy work kept reading entries past their expiry.
    const tier = new LocalTier();
    tier.setTracking(true);
    const expiresAt = Date.now() + 200;
    tier.remember('k', { value: 1, expiresAt, bytes: 1 }, tier.mark('k'));
    assert.ok(tier.get('k'), 'held before its expiry');
    while (Date.now() <= expiresAt) {
      // Busy: time passes, no timer can run.
    }
    assert.equal(tier.get('k'), undefined);
  });

  it('caps an entry at ttl, and reports the store expiry unchanged', () => {
    const { tier, clock, fill } = setup({ ttl: 500 });
    fill('forever', { expiresAt: null });
    fill('long', { expiresAt: T0 + 60_000 });
    fill('short', { expiresAt: T0 + 100 });
    assert.equal(tier.get('long')?.expiresAt, T0 + 60_000);
    clock.t += 100;
    assert.deepEqual(held(tier, ['forever', 'long', 'short']), ['forever', 'long']);
    clock.t += 400;
    assert.deepEqual(held(tier, ['forever', 'long', 'short']), []);
  });
});

describe('LocalTier: fill protocol', () => {
  it('refuses a fill when the key was invalidated after mark', () => {
    const { tier } = setup();
    const since = tier.mark('k');
    tier.invalidate('k'); // another client wrote k while our read was in flight
    tier.remember('k', { value: 'old', expiresAt: null, bytes: 3 }, since);
    assert.equal(tier.get('k'), undefined);
    assert.equal(tier.stats.refusedFills, 1);
  });

  it('refuses a fill when this process wrote the key after mark (forget)', () => {
    const { tier } = setup();
    const since = tier.mark('k');
    tier.forget('k');
    tier.remember('k', { value: 'old', expiresAt: null, bytes: 3 }, since);
    assert.equal(tier.get('k'), undefined);
  });

  it('accepts a fill when the invalidation came before mark, or was of another key', () => {
    const { tier } = setup();
    tier.invalidate('k');
    const since = tier.mark('k');
    tier.invalidate('other');
    tier.remember('k', { value: 'new', expiresAt: null, bytes: 3 }, since);
    assert.equal(tier.get('k')?.value, 'new');
  });

  it('refuses a fill marked before forgetAll', () => {
    const { tier } = setup();
    const since = tier.mark('k');
    tier.forgetAll();
    tier.remember('k', { value: 'old', expiresAt: null, bytes: 3 }, since);
    assert.equal(tier.get('k'), undefined);
  });

  it('refuses every fill while tracking is down, and fills marked before it came back', () => {
    const { tier, fill } = setup();
    fill('a');
    tier.setTracking(false);
    assert.equal(tier.get('a'), undefined, 'losing tracking flushes the tier');
    const during = tier.mark('b');
    fill('c');
    assert.equal(tier.get('c'), undefined);
    tier.setTracking(true);
    tier.remember('b', { value: 'b', expiresAt: null, bytes: 1 }, during);
    assert.equal(tier.get('b'), undefined, 'a read that left during the gap may be stale');
    fill('d');
    assert.equal(tier.get('d')?.value, 'd');
  });

  it('a new tier refuses fills until tracking is up', () => {
    const tier = new LocalTier();
    assert.equal(tier.isTracking, false);
    tier.remember('k', { value: 1, expiresAt: null, bytes: 1 }, tier.mark('k'));
    assert.equal(tier.get('k'), undefined);
  });

  it('refuses a fill whose tag key was invalidated after mark', () => {
    const { tier } = setup();
    const since = tier.mark('k');
    tier.invalidate('tag:news');
    tier.remember('k', { value: 1, expiresAt: null, bytes: 1, tagKeys: ['tag:news'] }, since);
    assert.equal(tier.get('k'), undefined);
  });
});

describe('LocalTier: tags', () => {
  it('an invalidation of a tag key drops every entry carrying it, and only those', () => {
    const { tier, fill } = setup();
    fill('a', { tagKeys: ['t:news'] });
    fill('b', { tagKeys: ['t:news', 't:sport'] });
    fill('c', { tagKeys: ['t:sport'] });
    fill('d');
    tier.invalidate('t:news');
    assert.deepEqual(held(tier, ['a', 'b', 'c', 'd']), ['c', 'd']);
    tier.invalidate('t:sport');
    assert.deepEqual(held(tier, ['a', 'b', 'c', 'd']), ['d']);
  });

  it('an evicted or replaced entry leaves the tag index', () => {
    const { tier, fill } = setup({ maxEntries: 1 });
    fill('a', { tagKeys: ['t'] });
    fill('b'); // evicts a
    fill('a', { tagKeys: ['u'] });
    fill('a', { tagKeys: ['v'] });
    tier.invalidate('t');
    tier.invalidate('u');
    assert.ok(tier.get('a'), 'a no longer carries t or u: their invalidation must not drop it');
    tier.invalidate('v');
    assert.equal(tier.get('a'), undefined);
  });
});
