import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CacheBackend } from '../../src/cache/backend.js';
import {
  MEMORY_ENTRY_OVERHEAD,
  type MemoryBackendOptions,
  memoryBackend,
} from '../../src/cache/backends/memory.js';
import { escapeGlob } from '../../src/cache/glob.js';
import { CacheValueError, ConfigError } from '../../src/errors.js';

/** A backend on a fake clock that starts at `T0` and moves only when told. */
function setup(options: MemoryBackendOptions = {}) {
  const clock = { t: T0 };
  const backend = memoryBackend({ now: () => clock.t, ...options });
  return { backend, clock, advance: (ms: number) => (clock.t += ms) };
}
const T0 = 1_700_000_000_000;

async function present(backend: CacheBackend, keys: string[]): Promise<string[]> {
  const values = await backend.getMany(keys);
  return keys.filter((_, i) => values[i] !== undefined);
}

async function scanAll(backend: CacheBackend, pattern: string, batchSize = 100): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of backend.scan(pattern, batchSize)) keys.push(...batch);
  return keys.sort();
}

describe('memoryBackend: basic operations', () => {
  it('stores strings and Buffers as given', async () => {
    const { backend } = setup();
    const bytes = Buffer.from([1, 2, 3]);
    await backend.set('s', 'text', null);
    await backend.set('b', bytes, null);
    assert.equal(await backend.get('s'), 'text');
    assert.equal(await backend.get('b'), bytes);
    assert.equal(await backend.get('missing'), undefined);
    assert.equal(backend.name, 'memory');
  });

  it('set replaces payload and expiry', async () => {
    const { backend } = setup();
    await backend.set('k', 'one', 1_000);
    await backend.set('k', 'two', null);
    assert.equal(await backend.get('k'), 'two');
    assert.equal(await backend.ttl('k'), null);
  });

  it('add stores only when the key is absent or expired', async () => {
    const { backend, advance } = setup();
    assert.equal(await backend.add('k', 'first', 100), true);
    assert.equal(await backend.add('k', 'second', 100), false);
    assert.equal(await backend.get('k'), 'first');
    advance(100);
    assert.equal(await backend.add('k', 'third', null), true);
    assert.equal(await backend.get('k'), 'third');
  });

  it('delete says whether a live key was there', async () => {
    const { backend, advance } = setup();
    await backend.set('k', 'v', null);
    await backend.set('short', 'v', 10);
    assert.equal(await backend.delete('k'), true);
    assert.equal(await backend.delete('k'), false);
    advance(10);
    assert.equal(await backend.delete('short'), false);
  });

  it('getEntry gives the payload and absolute expiry, as a copy', async () => {
    const { backend } = setup();
    await backend.set('k', 'v', 5_000);
    await backend.set('forever', 'v', null);
    const entry = await backend.getEntry('k');
    assert.deepEqual(entry, { payload: 'v', expiresAt: T0 + 5_000 });
    entry!.expiresAt = 0;
    assert.equal(await backend.ttl('k'), 5_000);
    assert.deepEqual(await backend.getEntry('forever'), { payload: 'v', expiresAt: null });
    assert.equal(await backend.getEntry('missing'), undefined);
  });

  it('getMany answers in key order, setMany returns [] and deleteMany counts', async () => {
    const { backend } = setup();
    assert.deepEqual(
      await backend.setMany(
        [
          ['a', '1'],
          ['b', '2'],
          ['c', '3'],
        ],
        null,
      ),
      [],
    );
    assert.deepEqual(await backend.getMany(['c', 'x', 'a', 'b']), ['3', undefined, '1', '2']);
    assert.equal(await backend.deleteMany(['a', 'x', 'c', 'a']), 2);
    assert.deepEqual(await backend.getMany(['a', 'b', 'c']), [undefined, '2', undefined]);
  });

  it('clear empties the whole store, whatever the pattern', async () => {
    const { backend } = setup();
    await backend.set('shop:1:a', '1', null);
    await backend.set('other', '2', null);
    await backend.clear('shop:*');
    assert.deepEqual(await scanAll(backend, '*'), []);
  });

  it('every method answers with a Promise, errors included', async () => {
    const { backend } = setup();
    await backend.set('text', 'abc', null);
    const call = backend.incr('text', 1);
    assert.ok(call instanceof Promise);
    await assert.rejects(call, CacheValueError);
    assert.ok(backend.close?.() instanceof Promise);
  });

  it('holds no timers', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const backend = memoryBackend();
    for (let i = 0; i < 100; i++) await backend.set(`k${i}`, 'v', 60_000);
    assert.equal(timers(), before);
  });
});

describe('memoryBackend: expiry (fake clock)', () => {
  it('expires at exactly expiresAt, not a millisecond later', async () => {
    const { backend, advance } = setup();
    await backend.set('k', 'v', 1_000);
    advance(999);
    assert.equal(await backend.get('k'), 'v');
    assert.equal(await backend.ttl('k'), 1);
    advance(1);
    assert.equal(await backend.get('k'), undefined);
    assert.equal(await backend.getEntry('k'), undefined);
    assert.equal(await backend.ttl('k'), 0);
  });

  it('honours sub-second timeouts', async () => {
    const { backend, advance } = setup();
    await backend.set('k', 'v', 1);
    assert.equal(await backend.ttl('k'), 1);
    advance(1);
    assert.equal(await backend.get('k'), undefined);
  });

  it('ttl: milliseconds left, null for no expiry, 0 when missing', async () => {
    const { backend, advance } = setup();
    await backend.set('k', 'v', 10_000);
    await backend.set('forever', 'v', null);
    advance(2_500);
    assert.equal(await backend.ttl('k'), 7_500);
    assert.equal(await backend.ttl('forever'), null);
    assert.equal(await backend.ttl('missing'), 0);
  });

  it('touch sets a new timeout on a live key only', async () => {
    const { backend, advance } = setup();
    await backend.set('k', 'v', 100);
    advance(50);
    assert.equal(await backend.touch('k', 1_000), true);
    assert.equal(await backend.ttl('k'), 1_000);
    assert.equal(await backend.touch('k', null), true);
    assert.equal(await backend.ttl('k'), null);
    assert.equal(await backend.touch('missing', 100), false);
    await backend.set('gone', 'v', 10);
    advance(10);
    assert.equal(await backend.touch('gone', 1_000), false);
    assert.equal(await backend.get('gone'), undefined);
  });

  it('persist removes the timeout of a live key only', async () => {
    const { backend, advance } = setup();
    await backend.set('k', 'v', 100);
    assert.equal(await backend.persist('k'), true);
    advance(1_000);
    assert.equal(await backend.get('k'), 'v');
    assert.equal(await backend.persist('missing'), false);
  });

  it('a timeout of 0 or less stores nothing and removes the old value', async () => {
    const { backend } = setup();
    await backend.set('k', 'v', null);
    await backend.set('k', 'new', 0);
    assert.equal(await backend.get('k'), undefined);
  });
});

describe('memoryBackend: LRU and cull (Django MAX_ENTRIES / CULL_FREQUENCY)', () => {
  it('defaults to 300 entries, culling a third', async () => {
    const { backend } = setup();
    for (let i = 0; i < 300; i++) await backend.set(`k${i}`, 'v', null);
    assert.equal((await scanAll(backend, '*')).length, 300);
    await backend.set('k300', 'v', null);
    assert.equal((await scanAll(backend, '*')).length, 201); // 300 - 300 // 3 + 1
  });

  it('culls floor(n / cullFrequency) entries, least recently used first', async () => {
    const { backend } = setup({ maxEntries: 10, cullFrequency: 3 });
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    for (const key of keys) await backend.set(key, 'v', null);
    await backend.set('new', 'v', null);
    assert.deepEqual(await present(backend, [...keys, 'new']), [
      'k3',
      'k4',
      'k5',
      'k6',
      'k7',
      'k8',
      'k9',
      'new',
    ]);
  });

  it('a get, getEntry or touch protects an entry from the cull', async () => {
    for (const read of ['get', 'getEntry', 'touch'] as const) {
      const { backend } = setup({ maxEntries: 3, cullFrequency: 3 });
      await backend.set('a', 'v', null);
      await backend.set('b', 'v', null);
      await backend.set('c', 'v', null);
      if (read === 'touch') await backend.touch('a', null);
      else await backend[read]('a');
      await backend.set('d', 'v', null);
      assert.deepEqual(await present(backend, ['a', 'b', 'c', 'd']), ['a', 'c', 'd'], read);
    }
  });

  it('keeps the use order when reads repeat on the newest key, and after it is deleted or cleared', async () => {
    const { backend } = setup({ maxEntries: 3, cullFrequency: 3 });
    for (const key of ['a', 'b', 'c']) await backend.set(key, 'v', null);
    await backend.get('c'); // already the newest: nothing moves
    await backend.get('a'); // order now b, c, a
    await backend.get('a');
    await backend.set('d', 'v', null); // culls b, the least recently used
    assert.deepEqual(await present(backend, ['a', 'b', 'c', 'd']), ['a', 'c', 'd']);
    await backend.delete('d'); // the newest is gone: a read of c must move it to the end
    await backend.get('c'); // order a, c
    await backend.set('e', 'v', null);
    await backend.set('f', 'v', null); // culls a
    assert.deepEqual(await present(backend, ['a', 'c', 'e', 'f']), ['c', 'e', 'f']);
    await backend.clear('*');
    for (const key of ['f', 'g', 'h']) await backend.set(key, 'v', null);
    await backend.get('f'); // order g, h, f
    await backend.set('i', 'v', null); // culls g
    assert.deepEqual(await present(backend, ['f', 'g', 'h', 'i']), ['f', 'h', 'i']);
  });

  it('ttl and persist do not count as use', async () => {
    const { backend } = setup({ maxEntries: 2, cullFrequency: 2 });
    await backend.set('a', 'v', 1_000);
    await backend.set('b', 'v', null);
    await backend.ttl('a');
    await backend.persist('a');
    await backend.set('c', 'v', null);
    assert.deepEqual(await present(backend, ['a', 'b', 'c']), ['b', 'c']);
  });

  it('cullFrequency 0 empties the cache when full', async () => {
    const { backend } = setup({ maxEntries: 5, cullFrequency: 0 });
    for (let i = 0; i < 5; i++) await backend.set(`k${i}`, 'v', null);
    await backend.set('new', 'v', null);
    assert.deepEqual(await scanAll(backend, '*'), ['new']);
  });

  it('culls at least one entry, so maxEntries is a hard bound', async () => {
    const { backend } = setup({ maxEntries: 2, cullFrequency: 3 }); // 2 // 3 == 0 in Django
    for (let i = 0; i < 10; i++) await backend.set(`k${i}`, 'v', null);
    assert.deepEqual(await scanAll(backend, '*'), ['k8', 'k9']);
  });

  it('drops expired entries before culling live ones', async () => {
    const { backend, advance } = setup({ maxEntries: 3 });
    await backend.set('short', 'v', 10);
    await backend.set('b', 'v', null);
    await backend.set('c', 'v', null);
    advance(10);
    await backend.set('d', 'v', null);
    assert.deepEqual(await present(backend, ['b', 'c', 'd']), ['b', 'c', 'd']);
  });

  it('replacing a key in a full cache culls nothing', async () => {
    const { backend } = setup({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) await backend.set(key, 'v', null);
    await backend.set('a', 'new', null);
    assert.deepEqual(await present(backend, ['a', 'b', 'c']), ['a', 'b', 'c']);
  });

  it('Infinity means no count bound', async () => {
    const { backend } = setup({ maxEntries: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 1_000; i++) await backend.set(`k${i}`, 'v', null);
    assert.equal((await scanAll(backend, '*')).length, 1_000);
  });
});

describe('memoryBackend: maxBytes', () => {
  const entryBytes = (key: string, payload: string | Buffer) =>
    Buffer.byteLength(key) + Buffer.byteLength(payload) + MEMORY_ENTRY_OVERHEAD;

  it('counts key and payload bytes plus a fixed overhead, culling the least recently used', async () => {
    const size = entryBytes('a', '0123456789');
    const { backend } = setup({ maxBytes: 3 * size, maxEntries: Number.POSITIVE_INFINITY });
    for (const key of ['a', 'b', 'c']) await backend.set(key, '0123456789', null);
    await backend.get('a');
    await backend.set('d', '0123456789', null);
    assert.deepEqual(await present(backend, ['a', 'b', 'c', 'd']), ['a', 'c', 'd']);
  });

  it('counts UTF-8 bytes for strings and length for Buffers', async () => {
    const { backend } = setup({ maxBytes: entryBytes('k', 'éé'), maxEntries: Number.POSITIVE_INFINITY });
    await backend.set('k', 'éé', null); // 4 bytes, fits exactly
    assert.equal(await backend.get('k'), 'éé');
    await backend.set('k', 'ééé', null); // 6 bytes: too big on its own
    assert.equal(await backend.get('k'), undefined);
    await backend.set('k', Buffer.alloc(4), null);
    assert.deepEqual(await backend.get('k'), Buffer.alloc(4));
  });

  it('a bigger replacement makes room by culling others', async () => {
    const small = entryBytes('a', 'x');
    const { backend } = setup({
      maxBytes: 3 * small,
      maxEntries: Number.POSITIVE_INFINITY,
      cullFrequency: 3,
    });
    for (const key of ['a', 'b', 'c']) await backend.set(key, 'x', null);
    await backend.set('c', 'x'.repeat(small), null); // needs two slots: the oldest, a, goes
    assert.deepEqual(await present(backend, ['a', 'b', 'c']), ['b', 'c']);
  });

  it('an entry larger than maxBytes alone is not stored, and the old value goes', async () => {
    const { backend } = setup({ maxBytes: 200 });
    await backend.set('k', 'small', null);
    await backend.set('k', 'x'.repeat(200), null);
    assert.equal(await backend.get('k'), undefined);
    assert.equal(await backend.add('k', 'x'.repeat(200), null), false);
    assert.deepEqual(
      await backend.setMany(
        [
          ['ok', 'v'],
          ['big', 'x'.repeat(200)],
        ],
        null,
      ),
      ['big'],
    );
    assert.equal(await backend.get('ok'), 'v');
  });
});

describe('memoryBackend: incr', () => {
  it('adds and subtracts, storing a decimal string', async () => {
    const { backend } = setup();
    await backend.set('n', '10', null);
    assert.equal(await backend.incr('n', 5), 15);
    assert.equal(await backend.incr('n', -20), -5);
    assert.equal(await backend.get('n'), '-5');
    await backend.set('b', Buffer.from('41'), null);
    assert.equal(await backend.incr('b', 1), 42);
    assert.equal(await backend.get('b'), '42');
  });

  it('keeps the expiry', async () => {
    const { backend, advance } = setup();
    await backend.set('n', '1', 1_000);
    advance(400);
    assert.equal(await backend.incr('n', 1), 2);
    assert.equal(await backend.ttl('n'), 600);
    advance(600);
    assert.equal(await backend.get('n'), undefined);
  });

  it('returns undefined for a missing or expired key', async () => {
    const { backend, advance } = setup();
    assert.equal(await backend.incr('missing', 1), undefined);
    await backend.set('n', '1', 10);
    advance(10);
    assert.equal(await backend.incr('n', 1), undefined);
    assert.equal(await backend.get('n'), undefined);
  });

  it('rejects values that are not canonical integers, as Redis', async () => {
    const { backend } = setup();
    for (const value of ['abc', '1.5', '', ' 1', '1 ', '+1', '01', '-0', '1e3', '"1"', '0x10']) {
      await backend.set('v', value, null);
      await assert.rejects(
        backend.incr('v', 1),
        (error: unknown) =>
          error instanceof CacheValueError &&
          error.code === 'E_CACHE_VALUE' &&
          error.key === 'v' &&
          error.message ===
            "Key 'v': the stored value is not an integer; incr/decr need an integer value (set it with a number)",
        JSON.stringify(value),
      );
      assert.equal(await backend.get('v'), value);
    }
  });

  it('rejects results beyond Number.MAX_SAFE_INTEGER and changes nothing', async () => {
    const { backend } = setup();
    await backend.set('n', String(Number.MAX_SAFE_INTEGER - 1), null);
    assert.equal(await backend.incr('n', 1), Number.MAX_SAFE_INTEGER);
    await assert.rejects(backend.incr('n', 1), CacheValueError);
    assert.equal(await backend.get('n'), String(Number.MAX_SAFE_INTEGER));
    await backend.set('low', String(Number.MIN_SAFE_INTEGER), null);
    await assert.rejects(backend.incr('low', -1), CacheValueError);
    await backend.set('huge', '9007199254740993', null);
    await assert.rejects(backend.incr('huge', -10), /beyond Number\.MAX_SAFE_INTEGER/);
    await backend.set('n', '1', null);
    await assert.rejects(backend.incr('n', 0.5), /safe integer delta/);
  });

  it('is atomic: concurrent increments all land', async () => {
    const { backend } = setup();
    await backend.set('n', '0', null);
    await Promise.all(Array.from({ length: 1_000 }, () => backend.incr('n', 1)));
    assert.equal(await backend.get('n'), '1000');
  });
});

describe('memoryBackend: scan and deletePattern', () => {
  const KEYS = [
    'user:1',
    'user:2',
    'user:10',
    'user:x',
    'hello',
    'hallo',
    'hxllo',
    'hllo',
    'heeeello',
    'h!llo',
    'a*b',
    'aXb',
    'a?b',
    'a[b',
    'a\\b',
  ];
  async function filled() {
    const ctx = setup({ maxEntries: Number.POSITIVE_INFINITY });
    for (const key of KEYS) await ctx.backend.set(key, 'v', null);
    return ctx;
  }

  const cases: Array<[pattern: string, expected: string[]]> = [
    ['*', [...KEYS].sort()],
    ['user:*', ['user:1', 'user:10', 'user:2', 'user:x']],
    ['user:?', ['user:1', 'user:2', 'user:x']],
    ['user:[0-9]', ['user:1', 'user:2']],
    ['user:[^0-9]', ['user:x']],
    ['user:[12]*', ['user:1', 'user:10', 'user:2']],
    ['h?llo', ['h!llo', 'hallo', 'hello', 'hxllo']],
    ['h*llo', ['h!llo', 'hallo', 'heeeello', 'hello', 'hllo', 'hxllo']],
    ['h[ae]llo', ['hallo', 'hello']],
    ['h[^e]llo', ['h!llo', 'hallo', 'hxllo']],
    ['h[!e]llo', ['h!llo', 'hello']],
    ['h[a-e]llo', ['hallo', 'hello']],
    [String.raw`a\*b`, ['a*b']],
    [String.raw`a\?b`, ['a?b']],
    [String.raw`a\[b`, ['a[b']],
    [String.raw`a\\b`, ['a\\b']],
    ['a?b', ['a*b', 'a?b', 'aXb', 'a[b', 'a\\b']],
    ['nothing*', []],
  ];
  for (const [pattern, expected] of cases) {
    it(`scan ${JSON.stringify(pattern)}`, async () => {
      const { backend } = await filled();
      assert.deepEqual(await scanAll(backend, pattern), expected);
    });
  }

  it('yields batches of at most batchSize', async () => {
    const { backend } = await filled();
    const sizes: number[] = [];
    for await (const batch of backend.scan('*', 4)) sizes.push(batch.length);
    assert.deepEqual(sizes, [4, 4, 4, 3]);
  });

  it('skips expired keys', async () => {
    const { backend, advance } = setup();
    await backend.set('a:1', 'v', 10);
    await backend.set('a:2', 'v', null);
    advance(10);
    assert.deepEqual(await scanAll(backend, 'a:*'), ['a:2']);
  });

  it('is safe against writes and deletes between batches', async () => {
    const { backend } = setup({ maxEntries: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 10; i++) await backend.set(`k${i}`, 'v', null);
    const seen: string[] = [];
    for await (const batch of backend.scan('k*', 3)) {
      seen.push(...batch);
      for (const key of batch) await backend.delete(key);
      await backend.delete('k9');
      await backend.set(`k-new-${seen.length}`, 'v', null);
    }
    assert.deepEqual(seen, ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8']);
  });

  it('deletePattern deletes the matches and counts the live ones', async () => {
    const { backend, advance } = await filled();
    await backend.set('user:gone', 'v', 10);
    advance(10);
    assert.equal(await backend.deletePattern('user:*'), 4);
    assert.deepEqual(await scanAll(backend, 'user:*'), []);
    assert.equal((await scanAll(backend, '*')).length, KEYS.length - 4);
    assert.equal(await backend.deletePattern('user:*'), 0);
  });

  it('escapeGlob makes a*b literal', async () => {
    const { backend } = await filled();
    assert.deepEqual(await scanAll(backend, escapeGlob('a*b')), ['a*b']);
    assert.equal(await backend.deletePattern(escapeGlob('a*b')), 1);
    assert.deepEqual(await present(backend, ['a*b', 'aXb', 'a?b']), ['aXb', 'a?b']);
  });
});

describe('memoryBackend: options', () => {
  const bad: Array<[MemoryBackendOptions, string]> = [
    [{ maxEntries: 0 }, 'maxEntries'],
    [{ maxEntries: 1.5 }, 'maxEntries'],
    [{ maxEntries: Number.NaN }, 'maxEntries'],
    [{ maxBytes: 0 }, 'maxBytes'],
    [{ maxBytes: -1 }, 'maxBytes'],
    [{ cullFrequency: -1 }, 'cullFrequency'],
    [{ cullFrequency: 2.5 }, 'cullFrequency'],
  ];
  for (const [options, path] of bad) {
    it(`rejects ${JSON.stringify(options)} with a ConfigError naming ${path}`, () => {
      assert.throws(
        () => memoryBackend(options),
        (error: unknown) => error instanceof ConfigError && error.path === path,
      );
    });
  }

  it('accepts Infinity bounds and cullFrequency 0', () => {
    assert.doesNotThrow(() =>
      memoryBackend({
        maxEntries: Number.POSITIVE_INFINITY,
        maxBytes: Number.POSITIVE_INFINITY,
        cullFrequency: 0,
      }),
    );
  });
});
