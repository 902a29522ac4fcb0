/**
 * @module The cache conformance suite: Django's `BaseCacheTests` and django-redis'
 * `test_backend.py` cases, ported to larder's `Cache` (DESIGN §4.1) and run against every
 * target (memory, Redis standalone, Redis Cluster) by `test/cache/cache-conformance.test.ts`.
 *
 * The suite shares one store between its cases, so every case writes under its own key names
 * (`scoped('<case id>')`) and a case that clears uses a cache of its own (`make({ keyPrefix })`).
 * Each case names the test it ports in a comment above it.
 */
import assert from 'node:assert/strict';
import { deflateSync, inflateSync } from 'node:zlib';
import type { Cache } from '../../src/cache/cache.js';
import type { KeyFunction } from '../../src/config/index.js';
import type { Duration } from '../../src/config/types.js';
import { CacheKeyError, CacheMissError, CacheValueError, SerializationError } from '../../src/errors.js';
import { defineSuite, it, uniquePrefix } from '../support/conformance.js';

/** Options a fixture can give a second cache on the same store (Django's `caches['v2']` and friends). */
export interface CacheOptionsForTests {
  keyPrefix: string;
  version: number;
  keyFunction: KeyFunction;
  timeout: Duration | null;
  hashLongKeys: boolean;
}

/** What a target hands the suite. */
export interface CacheFixture {
  /** The cache under test: default options (version 1, timeout 300 s), a prefix of its own. */
  cache: Cache;
  /**
   * Another cache on the SAME store (same server, same database; for memory, the same
   * backend instance). Options not given are the main cache's — so `make({ version: 2 })`
   * is Django's `caches['v2']`: same prefix, other version. The fixture closes what it made.
   */
  make(options?: Partial<CacheOptionsForTests>): Cache;
  /** A real sleep: expiry cases use timeouts of 0.2–1 s. */
  sleep(ms: number): Promise<void>;
}

/** Key names of one case: `scoped('add')('k')` is `'add:k'`. */
const scoped =
  (id: string) =>
  (name: string): string =>
    `${id}:${name}`;

/** Calls `op` and asserts it returns a promise that rejects with `type` (a sync throw fails the case). */
async function rejectsWith(
  op: () => Promise<unknown>,
  type: new (...args: any[]) => Error,
  label: string,
): Promise<void> {
  let promise: Promise<unknown>;
  try {
    promise = op();
  } catch (error) {
    assert.fail(`${label} threw synchronously instead of returning a rejected promise: ${String(error)}`);
  }
  await assert.rejects(promise, type, `${label} should reject with ${type.name}`);
}

/** Asserts `actual` is a number within [min, max] (seconds, for ttl checks). */
function assertBetween(actual: number | null, min: number, max: number, label: string): void {
  assert.equal(typeof actual, 'number', `${label}: expected a number of seconds, got ${String(actual)}`);
  assert.ok(
    (actual as number) >= min && (actual as number) <= max,
    `${label}: expected ${min}..${max}, got ${actual}`,
  );
}

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out;
}

const sorted = (keys: Iterable<string>): string[] => [...keys].sort();

const THIRTY_DAYS_AND_A_SECOND = 60 * 60 * 24 * 30 + 1;

/** Django's `stuff` dict (test_unicode), plus an astral-plane key and value. */
const UNICODE_STUFF: Record<string, unknown> = {
  ascii: 'ascii_value',
  unicode_ascii: 'Iñtërnâtiônàlizætiøn1',
  Iñtërnâtiônàlizætiøn: 'Iñtërnâtiônàlizætiøn2',
  ascii2: { x: 1 },
  ключ: 'значение',
  '🗝️ emoji 𝄞': '🍰 𝄞 清',
};

defineSuite<CacheFixture>('cache', ({ driver }) => {
  // ------------------------------------------------------------------ basics

  // Django test_simple
  it('set then get returns the value', async () => {
    const { cache } = driver();
    const k = scoped('simple');
    await cache.set(k('key'), 'value');
    assert.equal(await cache.get(k('key')), 'value');
  });

  // Django test_non_existent
  it('get of a missing key returns undefined, or the default given', async () => {
    const { cache } = driver();
    const k = scoped('nonexistent');
    assert.equal(await cache.get(k('does_not_exist')), undefined);
    assert.equal(await cache.get(k('does_not_exist'), 'bang!'), 'bang!');
  });

  // Django test_default_used_when_none_is_set
  it('null is a storable value: get returns it instead of the default', async () => {
    const { cache } = driver();
    const k = scoped('null-stored');
    await cache.set(k('key'), null);
    assert.equal(await cache.get(k('key'), 'default'), null);
    assert.equal(await cache.get(k('key')), null);
    assert.equal(await cache.has(k('key')), true);
    assert.equal(await cache.get(k('missing'), 'default'), 'default');
  });

  // Django test_add; django-redis test_set_add
  it('add stores only when the key is absent and says whether it stored', async () => {
    const { cache } = driver();
    const k = scoped('add');
    assert.equal(await cache.add(k('addkey1'), 'value'), true);
    assert.equal(await cache.add(k('addkey1'), 'newvalue'), false);
    assert.equal(await cache.get(k('addkey1')), 'value');
    await cache.set(k('set-first'), 'Initial value');
    assert.equal(await cache.add(k('set-first'), 'New value'), false);
    assert.equal(await cache.get(k('set-first')), 'Initial value');
    // A stored null counts as present.
    await cache.set(k('null'), null);
    assert.equal(await cache.add(k('null'), 'x'), false);
    assert.equal(await cache.get(k('null'), 'default'), null);
  });

  // Django test_prefix
  it('a cache with another keyPrefix on the same store does not see these keys', async () => {
    const { cache, make } = driver();
    const other = make({ keyPrefix: uniquePrefix('prefix') });
    const k = scoped('prefix');
    await cache.set(k('somekey'), 'value');
    assert.equal(await other.has(k('somekey')), false);
    await other.set(k('somekey'), 'value2');
    assert.equal(await cache.get(k('somekey')), 'value');
    assert.equal(await other.get(k('somekey')), 'value2');
  });

  // Django test_get_many
  it('getMany returns a Map of the keys found, null values included', async () => {
    const { cache } = driver();
    const k = scoped('getmany');
    await cache.setMany({ [k('a')]: 'a', [k('b')]: 'b', [k('c')]: 'c', [k('d')]: 'd' });
    assert.deepEqual(
      await cache.getMany([k('a'), k('c'), k('d')]),
      new Map([
        [k('a'), 'a'],
        [k('c'), 'c'],
        [k('d'), 'd'],
      ]),
    );
    assert.deepEqual(
      await cache.getMany([k('a'), k('b'), k('e')]),
      new Map([
        [k('a'), 'a'],
        [k('b'), 'b'],
      ]),
    );
    await cache.setMany({ [k('x')]: null, [k('y')]: 1 });
    assert.deepEqual(
      await cache.getMany([k('x'), k('y')]),
      new Map<string, unknown>([
        [k('x'), null],
        [k('y'), 1],
      ]),
    );
    assert.deepEqual(await cache.getMany([]), new Map());
    assert.deepEqual(await cache.getMany([k('nope1'), k('nope2')]), new Map());
  });

  // Brief: getMany of 100 keys (one round trip per slot group on a cluster; spread over every slot there).
  it('getMany of 100 keys returns each one, and leaves out the missing ones', async () => {
    const { cache } = driver();
    const k = scoped('getmany100');
    const entries = Array.from(
      { length: 100 },
      (_, i) => [k(`key-${i}`), { i, label: `value ${i}` }] as const,
    );
    assert.deepEqual(await cache.setMany(entries), []);
    const missing = Array.from({ length: 10 }, (_, i) => k(`missing-${i}`));
    const asked = [...entries.map(([key]) => key), ...missing];
    const found = await cache.getMany(asked);
    assert.equal(found.size, 100);
    assert.deepEqual(found, new Map(entries));
  });

  // Django test_delete, test_delete_nonexistent; django-redis test_delete, test_delete_return_value_type_new31
  it('delete returns true when the key was there and false otherwise', async () => {
    const { cache } = driver();
    const k = scoped('delete');
    await cache.setMany({ [k('key1')]: 'spam', [k('key2')]: 'eggs' });
    assert.equal(await cache.get(k('key1')), 'spam');
    assert.equal(await cache.delete(k('key1')), true);
    assert.equal(await cache.get(k('key1')), undefined);
    assert.equal(await cache.get(k('key2')), 'eggs');
    assert.equal(await cache.delete(k('key1')), false);
    assert.equal(await cache.delete(k('nonexistent_key')), false);
  });

  // Django test_has_key (test_in has no JS counterpart: there is no `in` operator over a cache)
  it('has is true for stored values, null and never-expiring ones included', async () => {
    const { cache } = driver();
    const k = scoped('has');
    await cache.set(k('hello1'), 'goodbye1');
    assert.equal(await cache.has(k('hello1')), true);
    assert.equal(await cache.has(k('goodbye1')), false);
    await cache.set(k('no_expiry'), 'here', { timeout: null });
    assert.equal(await cache.has(k('no_expiry')), true);
    await cache.set(k('null'), null);
    assert.equal(await cache.has(k('null')), true);
    await cache.set(k('false'), false);
    assert.equal(await cache.has(k('false')), true);
  });

  // Django test_close (on a cache of its own, so the shared one stays usable)
  it('close resolves, and other caches on the store keep working', async () => {
    const { cache, make } = driver();
    const k = scoped('close');
    const other = make({ keyPrefix: uniquePrefix('close') });
    await other.set(k('f'), '1');
    await other.close();
    await cache.set(k('after'), 'still here');
    assert.equal(await cache.get(k('after')), 'still here');
  });

  // Django test_data_types; django-redis test_save_and_integer, test_save_string, test_save_unicode,
  // test_save_dict, test_save_float, test_get_set_bool
  it('values of every supported type round-trip with their types', async () => {
    const { cache } = driver();
    const k = scoped('types');
    const values: Record<string, unknown> = {
      string: 'this is a string',
      'long string': 'hello'.repeat(1000),
      'numeric string': '2',
      'empty string': '',
      int: 42,
      'negative int': -7,
      zero: 0,
      'max safe int': Number.MAX_SAFE_INTEGER,
      'min safe int': Number.MIN_SAFE_INTEGER,
      float: 1.345620002,
      'huge float': 1e300,
      'unsafe integer': 2 ** 60,
      NaN: Number.NaN,
      Infinity: Number.POSITIVE_INFINITY,
      '-Infinity': Number.NEGATIVE_INFINITY,
      true: true,
      false: false,
      null: null,
      list: [1, 2, 3, 4],
      'empty list': [],
      dict: { A: 1, B: 2 },
      'empty dict': {},
      nested: { id: 1, name: 'Foo', tags: ['a', 'b'], inner: { deep: [null, { x: -0 }] } },
      date: new Date('2024-02-29T12:34:56.789Z'),
      bigint: 2n ** 64n + 1n,
      'negative bigint': -(10n ** 30n),
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, { b: [3] }],
      ]),
      set: new Set([1, 'two', null]),
      bytes: new Uint8Array([0, 1, 2, 253, 254, 255]),
      'mixed tree': {
        when: new Date(0),
        counts: new Map([['x', 10n]]),
        seen: new Set([new Date(86_400_000)]),
        raw: new Uint8Array([9, 8, 7]),
      },
      'proto-looking key': JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}'),
    };
    for (const [name, value] of Object.entries(values)) {
      await cache.set(k(name), value);
      const got = await cache.get(k(name));
      assert.deepStrictEqual(got, value, `round trip of ${name}`);
    }
    assert.equal(typeof (await cache.get(k('int'))), 'number', 'an integer comes back as a number');
    assert.equal(typeof (await cache.get(k('numeric string'))), 'string', "'2' stays a string");
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted');
  });

  // Django test_cache_write_unpicklable_object, test_add_fail_on_pickleerror, test_set_fail_on_pickleerror
  // (functions, symbols and class constructors play the part of unpicklable objects)
  it('values that cannot be serialized are refused with SerializationError and nothing is written', async () => {
    const { cache } = driver();
    const k = scoped('unserializable');
    class C {
      m() {
        return 24;
      }
    }
    const bad: Record<string, unknown> = {
      function: () => 42,
      class: C,
      symbol: Symbol('s'),
      'nested function': { ok: 1, handler: () => 0 },
      'function in a list': [1, () => 2],
      'function in a Map': new Map([['f', () => 3]]),
    };
    for (const [name, value] of Object.entries(bad)) {
      await rejectsWith(() => cache.set(k(name), value), SerializationError, `set(${name})`);
      assert.equal(await cache.has(k(name)), false, `set(${name}) wrote nothing`);
      await rejectsWith(() => cache.add(k(name), value), SerializationError, `add(${name})`);
      assert.equal(await cache.has(k(name)), false, `add(${name}) wrote nothing`);
    }
    // A refused value leaves the previous one in place (nothing half-written).
    await cache.set(k('kept'), 'old');
    await rejectsWith(() => cache.set(k('kept'), () => 1), SerializationError, 'set over an existing value');
    assert.equal(await cache.get(k('kept')), 'old');
  });

  // Principle 5 (nothing half-written), for set_many with one bad value
  it('setMany with one unserializable value rejects and writes none of the entries', async () => {
    const { cache } = driver();
    const k = scoped('setmany-bad');
    await rejectsWith(
      () => cache.setMany({ [k('good')]: 1, [k('bad')]: () => 2, [k('good2')]: 3 }),
      SerializationError,
      'setMany',
    );
    assert.deepEqual(await cache.getMany([k('good'), k('bad'), k('good2')]), new Map());
  });

  // Django test_expiration
  it('expired values are gone, and add stores again after expiry', async () => {
    const { cache, sleep } = driver();
    const k = scoped('expiration');
    await cache.set(k('expire1'), 'very quickly', { timeout: 0.3 });
    await cache.set(k('expire2'), 'very quickly', { timeout: 0.3 });
    await cache.set(k('expire3'), 'very quickly', { timeout: 0.3 });
    assert.equal(await cache.get(k('expire1')), 'very quickly');
    await sleep(600);
    assert.equal(await cache.get(k('expire1')), undefined);
    assert.equal(await cache.add(k('expire2'), 'newvalue'), true);
    assert.equal(await cache.get(k('expire2')), 'newvalue');
    assert.equal(await cache.has(k('expire3')), false);
    assert.equal(await cache.ttl(k('expire3')), 0);
  });

  // Django test_touch; django-redis test_touch_positive_timeout, test_touch_missed_key, test_touch_default_timeout
  it('touch sets a new timeout on an existing key, the default one when none is given', async () => {
    const { cache, sleep } = driver();
    const k = scoped('touch');
    await cache.set(k('expire1'), 'very quickly', { timeout: 0.3 });
    assert.equal(await cache.touch(k('expire1'), 1), true);
    await sleep(500);
    assert.equal(await cache.has(k('expire1')), true, 'touched past its first timeout');
    await sleep(800);
    assert.equal(await cache.has(k('expire1')), false, 'expired after the new timeout');

    await cache.set(k('expire2'), 'very quickly', { timeout: 0.3 });
    assert.equal(await cache.touch(k('expire2')), true);
    await sleep(500);
    assert.equal(await cache.has(k('expire2')), true, 'touch() without a timeout uses the default (300 s)');
    assertBetween(await cache.ttl(k('expire2')), 295, 300, 'ttl after touch()');

    assert.equal(await cache.touch(k('nonexistent')), false);
    assert.equal(await cache.touch(k('nonexistent'), 1), false);
  });

  // django-redis test_touch_zero_timeout, test_touch_negative_timeout, test_touch_forever,
  // test_touch_forever_nonexistent; Django test_zero_timeout (touch part)
  it('touch with 0 or a negative timeout removes the key; with null it never expires', async () => {
    const { cache, sleep } = driver();
    const k = scoped('touch-edges');
    await cache.set(k('zero'), 222, { timeout: 10 });
    assert.equal(await cache.touch(k('zero'), 0), true);
    assert.equal(await cache.get(k('zero')), undefined);

    await cache.set(k('negative'), 222, { timeout: 10 });
    assert.equal(await cache.touch(k('negative'), -1), true);
    assert.equal(await cache.get(k('negative')), undefined);

    await cache.set(k('forever'), 'foo', { timeout: 0.3 });
    assert.equal(await cache.touch(k('forever'), null), true);
    assert.equal(await cache.ttl(k('forever')), null);
    await sleep(500);
    assert.equal(await cache.get(k('forever')), 'foo');

    assert.equal(await cache.touch(k('nonexistent'), null), false);
  });

  // Django test_unicode; django-redis test_unicode_keys, test_save_unicode
  it('Unicode keys and values work with set, add and setMany', async () => {
    const { cache } = driver();
    const k = scoped('unicode');
    const stuff = Object.entries(UNICODE_STUFF).map(([key, value]) => [k(key), value] as const);
    for (const [key, value] of stuff) {
      await cache.set(key, value);
      assert.deepEqual(await cache.get(key), value, `set ${key}`);
    }
    for (const [key, value] of stuff) {
      assert.equal(await cache.delete(key), true, `delete ${key}`);
      assert.equal(await cache.add(key, value), true, `add ${key}`);
      assert.deepEqual(await cache.get(key), value, `add ${key}`);
    }
    for (const [key] of stuff) assert.equal(await cache.delete(key), true);
    assert.deepEqual(await cache.setMany(stuff), []);
    for (const [key, value] of stuff) assert.deepEqual(await cache.get(key), value, `setMany ${key}`);
    assert.deepEqual(sorted(await cache.keys(k('*'))), sorted(stuff.map(([key]) => key)));
  });

  // Django test_binary_string
  it('binary values (Uint8Array, Buffer) round-trip byte for byte with set, add and setMany', async () => {
    const { cache } = driver();
    const k = scoped('binary');
    const value = 'value_to_be_compressed';
    const compressed = new Uint8Array(deflateSync(Buffer.from(value)));

    await cache.set(k('binary1'), compressed);
    let result = await cache.get(k('binary1'));
    assert.deepStrictEqual(result, compressed);
    assert.equal(inflateSync(result as Uint8Array).toString(), value);

    assert.equal(await cache.add(k('binary1-add'), compressed), true);
    result = await cache.get(k('binary1-add'));
    assert.deepStrictEqual(result, compressed);
    assert.equal(inflateSync(result as Uint8Array).toString(), value);

    await cache.setMany({ [k('binary1-set_many')]: compressed });
    result = await cache.get(k('binary1-set_many'));
    assert.deepStrictEqual(result, compressed);
    assert.equal(inflateSync(result as Uint8Array).toString(), value);

    // Every byte value, and bytes that are not valid UTF-8.
    const all = new Uint8Array(256).map((_, i) => i);
    await cache.set(k('all-bytes'), all);
    assert.deepStrictEqual(await cache.get(k('all-bytes')), all);
    const buffer = Buffer.from([0xff, 0xfe, 0x00, 0xc3]);
    await cache.set(k('buffer'), buffer);
    assert.deepStrictEqual(await cache.get(k('buffer')), buffer);
    await cache.set(k('empty'), new Uint8Array(0));
    assert.deepStrictEqual(await cache.get(k('empty')), new Uint8Array(0));
  });

  // Django test_set_many; django-redis test_set_many
  it('setMany takes a plain object, a Map or an array of pairs', async () => {
    const { cache } = driver();
    const k = scoped('setmany');
    await cache.setMany({ [k('key1')]: 'spam', [k('key2')]: 'eggs' });
    assert.equal(await cache.get(k('key1')), 'spam');
    assert.equal(await cache.get(k('key2')), 'eggs');
    await cache.setMany(
      new Map<string, unknown>([
        [k('map1'), 1],
        [k('map2'), { two: 2 }],
      ]),
    );
    assert.deepEqual(
      await cache.getMany([k('map1'), k('map2')]),
      new Map<string, unknown>([
        [k('map1'), 1],
        [k('map2'), { two: 2 }],
      ]),
    );
    await cache.setMany([
      [k('pair1'), 'a'],
      [k('pair2'), null],
    ]);
    assert.deepEqual(
      await cache.getMany([k('pair1'), k('pair2')]),
      new Map([
        [k('pair1'), 'a'],
        [k('pair2'), null],
      ]),
    );
    // setMany replaces what was there.
    await cache.setMany({ [k('key1')]: 'new spam' });
    assert.equal(await cache.get(k('key1')), 'new spam');
  });

  // Django test_set_many_returns_empty_list_on_success, test_set_many_empty_data
  it('setMany returns [] on success, also with no entries', async () => {
    const { cache } = driver();
    const k = scoped('setmany-result');
    assert.deepEqual(await cache.setMany({ [k('key1')]: 'spam', [k('key2')]: 'eggs' }), []);
    assert.deepEqual(await cache.setMany({}), []);
    assert.deepEqual(await cache.setMany(new Map()), []);
    assert.deepEqual(await cache.setMany([]), []);
  });

  // Django test_set_many_expiration
  it('setMany honours its timeout', async () => {
    const { cache, sleep } = driver();
    const k = scoped('setmany-expiration');
    await cache.setMany({ [k('key1')]: 'spam', [k('key2')]: 'eggs' }, { timeout: 0.3 });
    assertBetween(await cache.ttl(k('key1')), 0.1, 0.3, 'ttl of a setMany entry');
    await sleep(600);
    assert.equal(await cache.get(k('key1')), undefined);
    assert.equal(await cache.get(k('key2')), undefined);
    await cache.setMany({ [k('key3')]: 'ham' }, { timeout: '2s' });
    assertBetween(await cache.ttl(k('key3')), 1.5, 2, "ttl of setMany with '2s'");
    await cache.setMany({ [k('key4')]: 'forever' }, { timeout: null });
    assert.equal(await cache.ttl(k('key4')), null);
  });

  // Django test_delete_many, test_delete_many_no_keys; django-redis test_delete_many
  it('deleteMany removes the keys given and only those', async () => {
    const { cache } = driver();
    const k = scoped('deletemany');
    await cache.setMany({ [k('key1')]: 'spam', [k('key2')]: 'eggs', [k('key3')]: 'ham' });
    await cache.deleteMany([k('key1'), k('key2')]);
    assert.equal(await cache.get(k('key1')), undefined);
    assert.equal(await cache.get(k('key2')), undefined);
    assert.equal(await cache.get(k('key3')), 'ham');
    await cache.deleteMany([]);
    await cache.deleteMany([k('never-set')]);
    assert.equal(await cache.get(k('key3')), 'ham');
  });

  // Django test_clear; django-redis test_clear
  it('clear removes every key of this cache, in every version', async () => {
    const { make } = driver();
    const own = make({ keyPrefix: uniquePrefix('clear') });
    await own.setMany({ key1: 'spam', key2: 'eggs' });
    await own.set('key3', 'v2', { version: 2 });
    await own.clear();
    assert.equal(await own.get('key1'), undefined);
    assert.equal(await own.get('key2'), undefined);
    assert.equal(await own.get('key3', undefined, { version: 2 }), undefined);
    assert.deepEqual(await own.keys('*'), []);
  });

  // DESIGN §4.1: clear removes only this cache's keys — never FLUSHDB on a shared database
  it('clear keeps the keys of caches with another prefix on the same store', async () => {
    const { cache, make } = driver();
    const k = scoped('clear-keep');
    const own = make({ keyPrefix: uniquePrefix('clear') });
    const neighbour = make({ keyPrefix: uniquePrefix('clear') });
    await own.set('k', 'own');
    await neighbour.set('k', 'neighbour');
    await cache.set(k('k'), 'main');
    await own.clear();
    assert.equal(await own.get('k'), undefined);
    assert.equal(await neighbour.get('k'), 'neighbour');
    assert.equal(await cache.get(k('k')), 'main');
  });

  // DESIGN §4.1: a prefix is never a pattern either (`p[a]` must not clear `pa`'s keys)
  it('clear treats glob characters in its own prefix literally', async () => {
    const { make } = driver();
    const base = uniquePrefix('clear-glob');
    const own = make({ keyPrefix: `${base}[a]*` });
    const lookalike = make({ keyPrefix: `${base}a` });
    const star = make({ keyPrefix: `${base}[a]*x` });
    await own.set('k', 'own');
    await lookalike.set('k', 'lookalike');
    await star.set('k', 'star');
    await own.clear();
    assert.equal(await own.get('k'), undefined);
    assert.equal(await lookalike.get('k'), 'lookalike');
    assert.equal(await star.get('k'), 'star');
  });

  // ------------------------------------------------------------------ timeouts

  // Django test_long_timeout (#12399, memcached's 30-day edge: here it simply works)
  it('a timeout of 30 days and a second is a relative timeout like any other', async () => {
    const { cache } = driver();
    const k = scoped('long-timeout');
    await cache.set(k('key1'), 'eggs', { timeout: THIRTY_DAYS_AND_A_SECOND });
    assert.equal(await cache.get(k('key1')), 'eggs');
    assertBetween(await cache.ttl(k('key1')), THIRTY_DAYS_AND_A_SECOND - 5, THIRTY_DAYS_AND_A_SECOND, 'ttl');
    assert.equal(await cache.add(k('key2'), 'ham', { timeout: THIRTY_DAYS_AND_A_SECOND }), true);
    assert.equal(await cache.get(k('key2')), 'ham');
    await cache.setMany(
      { [k('key3')]: 'sausage', [k('key4')]: 'lobster bisque' },
      { timeout: THIRTY_DAYS_AND_A_SECOND },
    );
    assert.equal(await cache.get(k('key3')), 'sausage');
    assert.equal(await cache.get(k('key4')), 'lobster bisque');
    await cache.set(k('key5'), 'a year', { timeout: '365d' });
    assertBetween(await cache.ttl(k('key5')), 365 * 86_400 - 5, 365 * 86_400, "ttl of '365d'");
  });

  // Django test_forever_timeout; django-redis test_ttl (None part)
  it('a null timeout never expires', async () => {
    const { cache, sleep } = driver();
    const k = scoped('forever');
    await cache.set(k('key1'), 'eggs', { timeout: null });
    assert.equal(await cache.get(k('key1')), 'eggs');
    assert.equal(await cache.ttl(k('key1')), null);
    assert.equal(await cache.add(k('key2'), 'ham', { timeout: null }), true);
    assert.equal(await cache.get(k('key2')), 'ham');
    assert.equal(await cache.add(k('key1'), 'new eggs', { timeout: null }), false);
    assert.equal(await cache.get(k('key1')), 'eggs');
    await cache.setMany({ [k('key3')]: 'sausage', [k('key4')]: 'lobster bisque' }, { timeout: null });
    assert.equal(await cache.get(k('key3')), 'sausage');
    assert.equal(await cache.get(k('key4')), 'lobster bisque');
    assert.equal(await cache.ttl(k('key4')), null);
    await cache.set(k('key5'), 'belgian fries', { timeout: 0.3 });
    assert.equal(await cache.touch(k('key5'), null), true);
    await sleep(500);
    assert.equal(await cache.get(k('key5')), 'belgian fries');
  });

  // Django test_zero_timeout; django-redis test_timeout_0
  it('a zero timeout stores nothing and removes what was there; add returns true', async () => {
    const { cache } = driver();
    const k = scoped('zero-timeout');
    await cache.set(k('key1'), 'eggs', { timeout: 0 });
    assert.equal(await cache.get(k('key1')), undefined);
    assert.equal(await cache.add(k('key2'), 'ham', { timeout: 0 }), true);
    assert.equal(await cache.get(k('key2')), undefined);
    assert.equal(await cache.has(k('key2')), false);
    await cache.setMany({ [k('key3')]: 'sausage', [k('key4')]: 'lobster bisque' }, { timeout: 0 });
    assert.equal(await cache.get(k('key3')), undefined);
    assert.equal(await cache.get(k('key4')), undefined);
    // An existing value is removed by a zero-timeout set / setMany (Django's semantics).
    await cache.set(k('existing'), 'old', { timeout: null });
    await cache.set(k('existing'), 'new', { timeout: 0 });
    assert.equal(await cache.get(k('existing')), undefined);
    await cache.set(k('existing-many'), 'old');
    await cache.setMany({ [k('existing-many')]: 'new' }, { timeout: 0 });
    assert.equal(await cache.get(k('existing-many')), undefined);
    await cache.set(k('key5'), 'belgian fries', { timeout: 5 });
    assert.equal(await cache.touch(k('key5'), 0), true);
    assert.equal(await cache.get(k('key5')), undefined);
  });

  // django-redis test_timeout_negative, test_timeout_parameter_as_positional_argument; test_ttl (expired part)
  it('a negative timeout stores nothing and removes what was there', async () => {
    const { cache } = driver();
    const k = scoped('negative-timeout');
    await cache.set(k('key'), 222, { timeout: -1 });
    assert.equal(await cache.get(k('key')), undefined);
    assert.equal(await cache.ttl(k('key')), 0);
    await cache.set(k('key'), 222, { timeout: null });
    await cache.set(k('key'), 222, { timeout: -1 });
    assert.equal(await cache.get(k('key')), undefined);
    assert.equal(await cache.add(k('added'), 1, { timeout: -5 }), true);
    assert.equal(await cache.has(k('added')), false);
    await cache.set(k('fraction'), 1, { timeout: -0.5 });
    assert.equal(await cache.has(k('fraction')), false);
  });

  // Django test_float_timeout; django-redis test_pttl (float part)
  it('a fractional timeout is honoured to the millisecond', async () => {
    const { cache, sleep } = driver();
    const k = scoped('float-timeout');
    await cache.set(k('key1'), 'spam', { timeout: 100.2 });
    assert.equal(await cache.get(k('key1')), 'spam');
    assertBetween(await cache.ttl(k('key1')), 99.5, 100.2, 'ttl of 100.2 s');
    await cache.set(k('key2'), 'bar', { timeout: 5.5 });
    assertBetween(await cache.ttl(k('key2')), 5.3, 5.5, 'ttl of 5.5 s (not truncated to 5)');
    await cache.set(k('short'), 'spam', { timeout: 0.3 });
    assert.equal(await cache.get(k('short')), 'spam');
    await sleep(600);
    assert.equal(await cache.get(k('short')), undefined, 'a 0.3 s timeout expired');
  });

  // DESIGN §4.1: sub-second timeouts are honoured (milliseconds in Redis), not truncated
  it("a sub-second string timeout ('500ms') is honoured", async () => {
    const { cache, sleep } = driver();
    const k = scoped('subsecond');
    await cache.set(k('key'), 'soon gone', { timeout: '500ms' });
    assertBetween(await cache.ttl(k('key')), 0.3, 0.5, "ttl of '500ms'");
    await sleep(100);
    assert.equal(await cache.get(k('key')), 'soon gone', 'present at ~100 ms');
    await sleep(500);
    assert.equal(await cache.get(k('key')), undefined, 'gone at ~600 ms');
    assert.equal(await cache.has(k('key')), false);
  });

  // DESIGN §3: durations as strings in every per-call timeout
  it("per-call timeouts accept duration strings ('2s', '15m', '2h', '7d')", async () => {
    const { cache } = driver();
    const k = scoped('duration-strings');
    await cache.set(k('set'), 1, { timeout: '2s' });
    assertBetween(await cache.ttl(k('set')), 1.5, 2, "set '2s'");
    assert.equal(await cache.add(k('add'), 1, { timeout: '15m' }), true);
    assertBetween(await cache.ttl(k('add')), 895, 900, "add '15m'");
    await cache.setMany({ [k('many')]: 1 }, { timeout: '2h' });
    assertBetween(await cache.ttl(k('many')), 7195, 7200, "setMany '2h'");
    assert.equal(await cache.touch(k('set'), '7d'), true);
    assertBetween(await cache.ttl(k('set')), 7 * 86_400 - 5, 7 * 86_400, "touch '7d'");
    assert.equal(await cache.expire(k('add'), '2s'), true);
    assertBetween(await cache.ttl(k('add')), 1.5, 2, "expire '2s'");
    assert.equal(await cache.getOrSet(k('gos'), 'v', { timeout: '2s' }), 'v');
    assertBetween(await cache.ttl(k('gos')), 1.5, 2, "getOrSet '2s'");
  });

  // Django's DEFAULT_TIMEOUT (300 s) and a cache-level TIMEOUT
  it("the default timeout is 300 s, and a cache's own timeout replaces it", async () => {
    const { cache, make } = driver();
    const k = scoped('default-timeout');
    await cache.set(k('default'), 1);
    assertBetween(await cache.ttl(k('default')), 295, 300, 'default timeout');
    const tenSeconds = make({ timeout: 10 });
    await tenSeconds.set(k('ten'), 1);
    assertBetween(await tenSeconds.ttl(k('ten')), 9, 10, 'cache timeout 10');
    const never = make({ timeout: null });
    await never.set(k('never'), 1);
    assert.equal(await never.ttl(k('never')), null);
    const halfSecond = make({ timeout: '500ms' });
    await halfSecond.set(k('half'), 1);
    assertBetween(await halfSecond.ttl(k('half')), 0.3, 0.5, "cache timeout '500ms'");
    // A per-call timeout wins over the cache's.
    await tenSeconds.set(k('per-call'), 1, { timeout: 60 });
    assertBetween(await tenSeconds.ttl(k('per-call')), 55, 60, 'per-call timeout');
  });

  // ------------------------------------------------------------------ key validation

  // Django test_invalid_key_characters (Django warns for memcached; larder raises CacheKeyError for
  // control characters, and allows spaces — see the next case)
  it('keys with control characters are refused with CacheKeyError by every operation', async () => {
    const { cache } = driver();
    const k = scoped('control-chars');
    for (const bad of [
      k('nul\u0000'),
      k('tab\t'),
      k('new\nline'),
      k('cr\r'),
      k('unit\u001f'),
      k('del\u007f'),
      `\u0001${k('start')}`,
    ]) {
      const label = JSON.stringify(bad);
      await checkEveryOperationRefuses(cache, bad, k('b'), label);
    }
  });

  // Django test_invalid_key_characters' key ("key with spaces and 清"), which Redis accepts
  it('keys with spaces and non-ASCII characters are valid', async () => {
    const { cache } = driver();
    const k = scoped('spaces');
    const key = k('key with spaces and 清');
    await cache.set(key, 1);
    assert.equal(await cache.get(key), 1);
    assert.equal(await cache.incr(key), 2);
    assert.deepEqual(await cache.keys(k('key with*')), [key]);
    assert.equal(await cache.delete(key), true);
  });

  // Django test_invalid_key_length (bytes, not characters: '清' is 3 bytes of UTF-8)
  it('keys longer than 250 bytes are refused with CacheKeyError by every operation', async () => {
    const { cache } = driver();
    const k = scoped('long-key');
    await checkEveryOperationRefuses(cache, `${'a'.repeat(250)}清`, k('b'), '251 characters');
    await checkEveryOperationRefuses(cache, '清'.repeat(84), k('b'), '84 characters, 252 bytes');
    // Short enough once prefixed: accepted.
    const fine = k('b'.repeat(150));
    await cache.set(fine, 'ok');
    assert.equal(await cache.get(fine), 'ok');
  });

  // Django test_invalid_with_version_key_length: the limit applies to the made key
  it('the 250-byte limit applies to the made key (prefix, version, keyFunction), boundary included', async () => {
    const { make } = driver();
    const keyFunction: KeyFunction = (key) => `${key}:1`;
    const custom = make({ keyPrefix: '', keyFunction });
    await checkEveryOperationRefuses(custom, 'a'.repeat(249), uniquePrefix('edge-good'), '249 + ":1"');
    const exactly250 = `${uniquePrefix('edge')}:`.padEnd(248, 'a');
    await custom.set(exactly250, 'fits'); // made key: 248 + 2 = 250 bytes
    assert.equal(await custom.get(exactly250), 'fits');
    assert.equal(await custom.delete(exactly250), true);
    // With the default key format the prefix and version count too.
    const prefix = uniquePrefix('edge');
    const prefixed = make({ keyPrefix: prefix });
    const room = 250 - Buffer.byteLength(`${prefix}:1:`);
    await prefixed.set('z'.repeat(room), 'fits');
    assert.equal(await prefixed.get('z'.repeat(room)), 'fits');
    await rejectsWith(() => prefixed.set('z'.repeat(room + 1), 'too long'), CacheKeyError, 'one byte over');
    await rejectsWith(
      () => prefixed.set('z'.repeat(room), 'too long', { version: 10 }),
      CacheKeyError,
      'a two-digit version pushes it over',
    );
  });

  // DESIGN §4.1: hashLongKeys
  it('with hashLongKeys, long keys are stored under a hash and stay distinct', async () => {
    const { make } = driver();
    const hashing = make({ keyPrefix: uniquePrefix('hash'), hashLongKeys: true });
    const long1 = `${'x'.repeat(300)}1`;
    const long2 = `${'x'.repeat(300)}2`;
    await hashing.set(long1, 'one');
    await hashing.set(long2, 'two');
    assert.equal(await hashing.get(long1), 'one');
    assert.equal(await hashing.get(long2), 'two');
    assert.equal(await hashing.has(long1), true);
    assert.equal(await hashing.delete(long1), true);
    assert.equal(await hashing.get(long1), undefined);
    assert.equal(await hashing.get(long2), 'two');
    await rejectsWith(
      () => hashing.set(`${'x'.repeat(300)}\n`, 1),
      CacheKeyError,
      'control characters are refused even when hashing',
    );
  });

  // ------------------------------------------------------------------ versioning

  // Django test_cache_versioning_get_set
  it('versioning: get and set with the cache version and a per-call version', async () => {
    const { cache, make } = driver();
    const v2 = make({ version: 2 });
    const k = scoped('ver-getset');
    // set, using default version = 1
    await cache.set(k('answer1'), 42);
    assert.equal(await cache.get(k('answer1')), 42);
    assert.equal(await cache.get(k('answer1'), undefined, { version: 1 }), 42);
    assert.equal(await cache.get(k('answer1'), undefined, { version: 2 }), undefined);
    assert.equal(await v2.get(k('answer1')), undefined);
    assert.equal(await v2.get(k('answer1'), undefined, { version: 1 }), 42);
    assert.equal(await v2.get(k('answer1'), undefined, { version: 2 }), undefined);
    // set, default version = 1, but manually override version = 2
    await cache.set(k('answer2'), 42, { version: 2 });
    assert.equal(await cache.get(k('answer2')), undefined);
    assert.equal(await cache.get(k('answer2'), undefined, { version: 1 }), undefined);
    assert.equal(await cache.get(k('answer2'), undefined, { version: 2 }), 42);
    assert.equal(await v2.get(k('answer2')), 42);
    assert.equal(await v2.get(k('answer2'), undefined, { version: 1 }), undefined);
    assert.equal(await v2.get(k('answer2'), undefined, { version: 2 }), 42);
    // v2 set, using default version = 2
    await v2.set(k('answer3'), 42);
    assert.equal(await cache.get(k('answer3')), undefined);
    assert.equal(await cache.get(k('answer3'), undefined, { version: 1 }), undefined);
    assert.equal(await cache.get(k('answer3'), undefined, { version: 2 }), 42);
    assert.equal(await v2.get(k('answer3')), 42);
    assert.equal(await v2.get(k('answer3'), undefined, { version: 1 }), undefined);
    assert.equal(await v2.get(k('answer3'), undefined, { version: 2 }), 42);
    // v2 set, default version = 2, but manually override version = 1
    await v2.set(k('answer4'), 42, { version: 1 });
    assert.equal(await cache.get(k('answer4')), 42);
    assert.equal(await cache.get(k('answer4'), undefined, { version: 1 }), 42);
    assert.equal(await cache.get(k('answer4'), undefined, { version: 2 }), undefined);
    assert.equal(await v2.get(k('answer4')), undefined);
    assert.equal(await v2.get(k('answer4'), undefined, { version: 1 }), 42);
    assert.equal(await v2.get(k('answer4'), undefined, { version: 2 }), undefined);
    // The default is still returned on a versioned miss.
    assert.equal(await v2.get(k('answer4'), 'dflt', { version: 3 }), 'dflt');
  });

  // Django test_cache_versioning_add
  it('versioning: add', async () => {
    const { cache, make } = driver();
    const v2 = make({ version: 2 });
    const k = scoped('ver-add');
    const at = (key: string, version: number) => cache.get(k(key), undefined, { version });
    // add, default version = 1, but manually override version = 2
    assert.equal(await cache.add(k('answer1'), 42, { version: 2 }), true);
    assert.equal(await at('answer1', 1), undefined);
    assert.equal(await at('answer1', 2), 42);
    assert.equal(await cache.add(k('answer1'), 37, { version: 2 }), false);
    assert.equal(await at('answer1', 1), undefined);
    assert.equal(await at('answer1', 2), 42);
    assert.equal(await cache.add(k('answer1'), 37, { version: 1 }), true);
    assert.equal(await at('answer1', 1), 37);
    assert.equal(await at('answer1', 2), 42);
    // v2 add, using default version = 2
    assert.equal(await v2.add(k('answer2'), 42), true);
    assert.equal(await at('answer2', 1), undefined);
    assert.equal(await at('answer2', 2), 42);
    assert.equal(await v2.add(k('answer2'), 37), false);
    assert.equal(await at('answer2', 1), undefined);
    assert.equal(await at('answer2', 2), 42);
    assert.equal(await v2.add(k('answer2'), 37, { version: 1 }), true);
    assert.equal(await at('answer2', 1), 37);
    assert.equal(await at('answer2', 2), 42);
    // v2 add, default version = 2, but manually override version = 1
    assert.equal(await v2.add(k('answer3'), 42, { version: 1 }), true);
    assert.equal(await at('answer3', 1), 42);
    assert.equal(await at('answer3', 2), undefined);
    assert.equal(await v2.add(k('answer3'), 37, { version: 1 }), false);
    assert.equal(await at('answer3', 1), 42);
    assert.equal(await at('answer3', 2), undefined);
    assert.equal(await v2.add(k('answer3'), 37), true);
    assert.equal(await at('answer3', 1), 42);
    assert.equal(await at('answer3', 2), 37);
  });

  // Django test_cache_versioning_has_key
  it('versioning: has', async () => {
    const { cache, make } = driver();
    const v2 = make({ version: 2 });
    const k = scoped('ver-has');
    await cache.set(k('answer1'), 42);
    assert.equal(await cache.has(k('answer1')), true);
    assert.equal(await cache.has(k('answer1'), { version: 1 }), true);
    assert.equal(await cache.has(k('answer1'), { version: 2 }), false);
    assert.equal(await v2.has(k('answer1')), false);
    assert.equal(await v2.has(k('answer1'), { version: 1 }), true);
    assert.equal(await v2.has(k('answer1'), { version: 2 }), false);
  });

  // Django test_cache_versioning_delete
  it('versioning: delete', async () => {
    const { cache, make } = driver();
    const v2 = make({ version: 2 });
    const k = scoped('ver-delete');
    const at = (key: string, version: number) => cache.get(k(key), undefined, { version });
    const both = async (key: string) => {
      await cache.set(k(key), 37, { version: 1 });
      await cache.set(k(key), 42, { version: 2 });
    };
    await both('answer1');
    assert.equal(await cache.delete(k('answer1')), true);
    assert.equal(await at('answer1', 1), undefined);
    assert.equal(await at('answer1', 2), 42);
    await both('answer2');
    assert.equal(await cache.delete(k('answer2'), { version: 2 }), true);
    assert.equal(await at('answer2', 1), 37);
    assert.equal(await at('answer2', 2), undefined);
    await both('answer3');
    assert.equal(await v2.delete(k('answer3')), true);
    assert.equal(await at('answer3', 1), 37);
    assert.equal(await at('answer3', 2), undefined);
    await both('answer4');
    assert.equal(await v2.delete(k('answer4'), { version: 1 }), true);
    assert.equal(await at('answer4', 1), undefined);
    assert.equal(await at('answer4', 2), 42);
  });

  // Django test_cache_versioning_incr_decr
  it('versioning: incr and decr', async () => {
    const { cache, make } = driver();
    const v2 = make({ version: 2 });
    const k = scoped('ver-incr');
    const at = (key: string, version: number) => cache.get(k(key), undefined, { version });
    const both = async (key: string) => {
      await cache.set(k(key), 37, { version: 1 });
      await cache.set(k(key), 42, { version: 2 });
    };
    await both('answer1');
    assert.equal(await cache.incr(k('answer1')), 38);
    assert.equal(await at('answer1', 1), 38);
    assert.equal(await at('answer1', 2), 42);
    assert.equal(await cache.decr(k('answer1')), 37);
    assert.equal(await at('answer1', 1), 37);
    assert.equal(await at('answer1', 2), 42);
    await both('answer2');
    assert.equal(await cache.incr(k('answer2'), 1, { version: 2 }), 43);
    assert.equal(await at('answer2', 1), 37);
    assert.equal(await at('answer2', 2), 43);
    assert.equal(await cache.decr(k('answer2'), 1, { version: 2 }), 42);
    assert.equal(await at('answer2', 1), 37);
    assert.equal(await at('answer2', 2), 42);
    await both('answer3');
    assert.equal(await v2.incr(k('answer3')), 43);
    assert.equal(await at('answer3', 1), 37);
    assert.equal(await at('answer3', 2), 43);
    assert.equal(await v2.decr(k('answer3')), 42);
    assert.equal(await at('answer3', 1), 37);
    assert.equal(await at('answer3', 2), 42);
    await both('answer4');
    assert.equal(await v2.incr(k('answer4'), 1, { version: 1 }), 38);
    assert.equal(await at('answer4', 1), 38);
    assert.equal(await at('answer4', 2), 42);
    assert.equal(await v2.decr(k('answer4'), 1, { version: 1 }), 37);
    assert.equal(await at('answer4', 1), 37);
    assert.equal(await at('answer4', 2), 42);
  });

  // Django test_cache_versioning_get_set_many
  it('versioning: getMany and setMany', async () => {
    const { cache, make } = driver();
    const v2 = make({ version: 2 });
    const k = scoped('ver-many');
    const pair = (n: number) => [k(`ford${n}`), k(`arthur${n}`)];
    const expected = (n: number) =>
      new Map([
        [k(`ford${n}`), 37],
        [k(`arthur${n}`), 42],
      ]);
    const entries = (n: number) => ({ [k(`ford${n}`)]: 37, [k(`arthur${n}`)]: 42 });
    const none = new Map();
    // set, using default version = 1
    await cache.setMany(entries(1));
    assert.deepEqual(await cache.getMany(pair(1)), expected(1));
    assert.deepEqual(await cache.getMany(pair(1), { version: 1 }), expected(1));
    assert.deepEqual(await cache.getMany(pair(1), { version: 2 }), none);
    assert.deepEqual(await v2.getMany(pair(1)), none);
    assert.deepEqual(await v2.getMany(pair(1), { version: 1 }), expected(1));
    assert.deepEqual(await v2.getMany(pair(1), { version: 2 }), none);
    // set, default version = 1, but manually override version = 2
    await cache.setMany(entries(2), { version: 2 });
    assert.deepEqual(await cache.getMany(pair(2)), none);
    assert.deepEqual(await cache.getMany(pair(2), { version: 1 }), none);
    assert.deepEqual(await cache.getMany(pair(2), { version: 2 }), expected(2));
    assert.deepEqual(await v2.getMany(pair(2)), expected(2));
    assert.deepEqual(await v2.getMany(pair(2), { version: 1 }), none);
    assert.deepEqual(await v2.getMany(pair(2), { version: 2 }), expected(2));
    // v2 set, using default version = 2
    await v2.setMany(entries(3));
    assert.deepEqual(await cache.getMany(pair(3)), none);
    assert.deepEqual(await cache.getMany(pair(3), { version: 1 }), none);
    assert.deepEqual(await cache.getMany(pair(3), { version: 2 }), expected(3));
    assert.deepEqual(await v2.getMany(pair(3)), expected(3));
    assert.deepEqual(await v2.getMany(pair(3), { version: 1 }), none);
    assert.deepEqual(await v2.getMany(pair(3), { version: 2 }), expected(3));
    // v2 set, default version = 2, but manually override version = 1
    await v2.setMany(entries(4), { version: 1 });
    assert.deepEqual(await cache.getMany(pair(4)), expected(4));
    assert.deepEqual(await cache.getMany(pair(4), { version: 1 }), expected(4));
    assert.deepEqual(await cache.getMany(pair(4), { version: 2 }), none);
    assert.deepEqual(await v2.getMany(pair(4)), none);
    assert.deepEqual(await v2.getMany(pair(4), { version: 1 }), expected(4));
    assert.deepEqual(await v2.getMany(pair(4), { version: 2 }), none);
  });

  // Django test_incr_version; django-redis test_incr_version
  it('incrVersion moves a key to the next version and returns it', async () => {
    const { cache, make } = driver();
    const v2 = make({ version: 2 });
    const k = scoped('incr-version');
    const at = (c: Cache, key: string, version: number) => c.get(k(key), undefined, { version });
    await cache.set(k('answer'), 42, { version: 2 });
    assert.equal(await cache.get(k('answer')), undefined);
    assert.equal(await at(cache, 'answer', 1), undefined);
    assert.equal(await at(cache, 'answer', 2), 42);
    assert.equal(await at(cache, 'answer', 3), undefined);
    assert.equal(await cache.incrVersion(k('answer'), 1, { version: 2 }), 3);
    assert.equal(await cache.get(k('answer')), undefined);
    assert.equal(await at(cache, 'answer', 1), undefined);
    assert.equal(await at(cache, 'answer', 2), undefined);
    assert.equal(await at(cache, 'answer', 3), 42);

    await v2.set(k('answer2'), 42);
    assert.equal(await v2.get(k('answer2')), 42);
    assert.equal(await at(v2, 'answer2', 1), undefined);
    assert.equal(await at(v2, 'answer2', 2), 42);
    assert.equal(await at(v2, 'answer2', 3), undefined);
    assert.equal(await v2.incrVersion(k('answer2')), 3);
    assert.equal(await v2.get(k('answer2')), undefined);
    assert.equal(await at(v2, 'answer2', 1), undefined);
    assert.equal(await at(v2, 'answer2', 2), undefined);
    assert.equal(await at(v2, 'answer2', 3), 42);

    await rejectsWith(
      () => cache.incrVersion(k('does_not_exist')),
      CacheMissError,
      'incrVersion of a missing key',
    );

    await cache.set(k('null'), null);
    assert.equal(await cache.incrVersion(k('null')), 2);
    assert.equal(await at(cache, 'null', 2), null);
    assert.equal(await cache.has(k('null'), { version: 2 }), true);

    // A delta other than 1 (django-redis' incr_version(delta=...)).
    await cache.set(k('jump'), 'j');
    assert.equal(await cache.incrVersion(k('jump'), 5), 6);
    assert.equal(await at(cache, 'jump', 6), 'j');
  });

  // Django test_decr_version
  it('decrVersion moves a key to the previous version and returns it', async () => {
    const { cache, make } = driver();
    const v2 = make({ version: 2 });
    const k = scoped('decr-version');
    const at = (c: Cache, key: string, version: number) => c.get(k(key), undefined, { version });
    await cache.set(k('answer'), 42, { version: 2 });
    assert.equal(await cache.get(k('answer')), undefined);
    assert.equal(await at(cache, 'answer', 1), undefined);
    assert.equal(await at(cache, 'answer', 2), 42);
    assert.equal(await cache.decrVersion(k('answer'), 1, { version: 2 }), 1);
    assert.equal(await cache.get(k('answer')), 42);
    assert.equal(await at(cache, 'answer', 1), 42);
    assert.equal(await at(cache, 'answer', 2), undefined);

    await v2.set(k('answer2'), 42);
    assert.equal(await v2.get(k('answer2')), 42);
    assert.equal(await at(v2, 'answer2', 1), undefined);
    assert.equal(await at(v2, 'answer2', 2), 42);
    assert.equal(await v2.decrVersion(k('answer2')), 1);
    assert.equal(await v2.get(k('answer2')), undefined);
    assert.equal(await at(v2, 'answer2', 1), 42);
    assert.equal(await at(v2, 'answer2', 2), undefined);

    await rejectsWith(
      () => cache.decrVersion(k('does_not_exist'), 1, { version: 2 }),
      CacheMissError,
      'decrVersion of a missing key',
    );

    await cache.set(k('null'), null, { version: 2 });
    assert.equal(await cache.decrVersion(k('null'), 1, { version: 2 }), 1);
    assert.equal(await cache.get(k('null'), 'default'), null);
  });

  // django-redis test_ttl_incr_version_no_timeout (and the same for a finite timeout)
  it('incrVersion keeps the expiry of the key it moves', async () => {
    const { cache } = driver();
    const k = scoped('incr-version-ttl');
    await cache.set(k('my_key'), 'hello world!', { timeout: null });
    await cache.incrVersion(k('my_key'));
    assert.equal(await cache.get(k('my_key'), undefined, { version: 2 }), 'hello world!');
    assert.equal(await cache.ttl(k('my_key'), { version: 2 }), null);
    await cache.set(k('finite'), 'x', { timeout: 10 });
    await cache.incrVersion(k('finite'));
    assertBetween(await cache.ttl(k('finite'), { version: 2 }), 9, 10, 'ttl after incrVersion');
    assert.equal(await cache.ttl(k('finite')), 0, 'the old version is gone');
  });

  // Django test_custom_key_func (custom_key and custom_key2 are two caches with the same function)
  it('caches with another keyFunction do not see these keys; two with the same one share them', async () => {
    const { cache, make } = driver();
    const customKeyFunction: KeyFunction = (key, keyPrefix, version) =>
      `CUSTOM-${keyPrefix}-${version}-${key}`;
    const customKey = make({ keyFunction: customKeyFunction });
    const customKey2 = make({ keyFunction: customKeyFunction });
    const k = scoped('custom-key');
    await cache.set(k('answer1'), 42);
    assert.equal(await cache.get(k('answer1')), 42);
    assert.equal(await customKey.get(k('answer1')), undefined);
    assert.equal(await customKey2.get(k('answer1')), undefined);
    await customKey.set(k('answer2'), 42);
    assert.equal(await cache.get(k('answer2')), undefined);
    assert.equal(await customKey.get(k('answer2')), 42);
    assert.equal(await customKey2.get(k('answer2')), 42);
    assert.equal(await customKey2.delete(k('answer2')), true);
  });

  // ------------------------------------------------------------------ incr / decr

  // Django test_incr; django-redis test_incr, test_incr_error
  it('incr adds to an integer and returns the new value; a missing key is a CacheMissError', async () => {
    const { cache } = driver();
    const k = scoped('incr');
    await cache.set(k('answer'), 41);
    assert.equal(await cache.incr(k('answer')), 42);
    assert.equal(await cache.get(k('answer')), 42);
    assert.equal(await cache.incr(k('answer'), 10), 52);
    assert.equal(await cache.get(k('answer')), 52);
    assert.equal(await cache.incr(k('answer'), -10), 42);
    assert.equal(await cache.incr(k('answer'), 0), 42);
    await rejectsWith(() => cache.incr(k('does_not_exist')), CacheMissError, 'incr of a missing key');
    await rejectsWith(() => cache.incr(k('does_not_exist'), -1), CacheMissError, 'incr(-1) of a missing key');
    assert.equal(await cache.has(k('does_not_exist')), false, 'incr of a missing key creates nothing');
    // A value incremented from zero and into the negatives.
    await cache.set(k('zero'), 0);
    assert.equal(await cache.incr(k('zero'), -3), -3);
    assert.equal(await cache.get(k('zero')), -3);
  });

  // Django test_decr; django-redis test_decr
  it('decr subtracts from an integer and returns the new value; a missing key is a CacheMissError', async () => {
    const { cache } = driver();
    const k = scoped('decr');
    await cache.set(k('answer'), 43);
    assert.equal(await cache.decr(k('answer')), 42);
    assert.equal(await cache.get(k('answer')), 42);
    assert.equal(await cache.decr(k('answer'), 10), 32);
    assert.equal(await cache.get(k('answer')), 32);
    assert.equal(await cache.decr(k('answer'), -10), 42);
    await rejectsWith(() => cache.decr(k('does_not_exist')), CacheMissError, 'decr of a missing key');
    await rejectsWith(() => cache.decr(k('does_not_exist'), -1), CacheMissError, 'decr(-1) of a missing key');
    await cache.set(k('num'), 20);
    assert.equal(await cache.decr(k('num')), 19);
    assert.equal(await cache.decr(k('num'), 20), -1);
    assert.equal(await cache.decr(k('num'), 2), -3);
    assert.equal(await cache.get(k('num')), -3);
  });

  // Django test_incr/test_decr (the None part: incr_decr_type_error); django-redis incr on a string
  it('incr and decr of a value that is not an integer are a CacheValueError and change nothing', async () => {
    const { cache } = driver();
    const k = scoped('incr-type');
    const values: Record<string, unknown> = {
      null: null,
      string: 'abc',
      'numeric string': '5',
      float: 1.5,
      object: { a: 1 },
      list: [1],
      bool: true,
    };
    for (const [name, value] of Object.entries(values)) {
      await cache.set(k(name), value);
      await rejectsWith(() => cache.incr(k(name)), CacheValueError, `incr of ${name}`);
      await rejectsWith(() => cache.decr(k(name)), CacheValueError, `decr of ${name}`);
      assert.deepStrictEqual(await cache.get(k(name)), value, `${name} is unchanged`);
    }
  });

  // django-redis test_incr_no_timeout; brief: incr keeps the TTL
  it('incr and decr keep the expiry of the key', async () => {
    const { cache } = driver();
    const k = scoped('incr-ttl');
    await cache.set(k('finite'), 1, { timeout: 10 });
    assert.equal(await cache.incr(k('finite')), 2);
    assertBetween(await cache.ttl(k('finite')), 9, 10, 'ttl after incr');
    assert.equal(await cache.decr(k('finite'), 5), -3);
    assertBetween(await cache.ttl(k('finite')), 9, 10, 'ttl after decr');
    await cache.set(k('forever'), 1, { timeout: null });
    assert.equal(await cache.incr(k('forever')), 2);
    assert.equal(await cache.incr(k('forever'), 10), 12);
    assert.equal(await cache.get(k('forever')), 12);
    assert.equal(await cache.ttl(k('forever')), null);
  });

  // django-redis test_incr (the 64-bit part, kept within JavaScript's safe integers)
  it('incr and decr with large deltas stay exact within the safe integer range', async () => {
    const { cache } = driver();
    const k = scoped('incr-large');
    await cache.set(k('num'), 2 ** 52);
    assert.equal(await cache.incr(k('num'), 2 ** 52 - 1), Number.MAX_SAFE_INTEGER);
    assert.equal(await cache.get(k('num')), Number.MAX_SAFE_INTEGER);
    assert.equal(await cache.decr(k('num'), Number.MAX_SAFE_INTEGER), 0);
    assert.equal(await cache.decr(k('num'), Number.MAX_SAFE_INTEGER), Number.MIN_SAFE_INTEGER);
    assert.equal(await cache.get(k('num')), Number.MIN_SAFE_INTEGER);
    await cache.set(k('num'), 3);
    assert.equal(await cache.incr(k('num'), 2), 5);
    assert.equal(await cache.get(k('num')), 5);
  });

  // DESIGN §4.1: incr is atomic (one INCRBY)
  it('concurrent incr calls are atomic: none is lost', async () => {
    const { cache } = driver();
    const k = scoped('incr-atomic');
    await cache.set(k('counter'), 0);
    const results = await Promise.all(Array.from({ length: 50 }, () => cache.incr(k('counter'))));
    assert.equal(await cache.get(k('counter')), 50);
    assert.deepEqual(
      [...results].sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
  });

  // ------------------------------------------------------------------ getOrSet

  // Django test_get_or_set
  it('getOrSet stores and returns the value on a miss, and returns the stored one on a hit', async () => {
    const { cache } = driver();
    const k = scoped('getorset');
    assert.equal(await cache.get(k('projector')), undefined);
    assert.equal(await cache.getOrSet(k('projector'), 42), 42);
    assert.equal(await cache.get(k('projector')), 42);
    assert.equal(await cache.getOrSet(k('projector'), 43), 42);
    assert.equal(await cache.getOrSet(k('null'), null), null);
    // The previous getOrSet stored null.
    assert.equal(await cache.get(k('null'), 'default'), null);
    assert.equal(await cache.getOrSet(k('null'), 'other'), null);
  });

  // Django test_get_or_set_callable
  it('getOrSet calls a loader (sync or async) only on a miss', async () => {
    const { cache } = driver();
    const k = scoped('getorset-callable');
    let calls = 0;
    const myCallable = () => {
      calls++;
      return 'value';
    };
    assert.equal(await cache.getOrSet(k('mykey'), myCallable), 'value');
    assert.equal(await cache.getOrSet(k('mykey'), myCallable), 'value');
    assert.equal(await cache.getOrSet(k('mykey'), myCallable()), 'value');
    assert.equal(calls, 2, 'the loader ran on the miss only (plus the explicit call)');
    assert.equal(await cache.getOrSet(k('null'), () => null), null);
    assert.equal(await cache.get(k('null'), 'default'), null);

    let asyncCalls = 0;
    const loader = async () => {
      asyncCalls++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { loaded: new Date(0) };
    };
    assert.deepEqual(await cache.getOrSet(k('async'), loader), { loaded: new Date(0) });
    assert.deepEqual(await cache.getOrSet(k('async'), loader), { loaded: new Date(0) });
    assert.equal(asyncCalls, 1);
    assert.deepEqual(await cache.get(k('async')), { loaded: new Date(0) });
  });

  // Django test_get_or_set_version (the TypeError for a missing default has no TypeScript counterpart)
  it('getOrSet with a version', async () => {
    const { cache } = driver();
    const k = scoped('getorset-version');
    assert.equal(await cache.getOrSet(k('brian'), 1979, { version: 2 }), 1979);
    assert.equal(await cache.get(k('brian'), undefined, { version: 1 }), undefined);
    assert.equal(await cache.getOrSet(k('brian'), 42, { version: 1 }), 42);
    assert.equal(await cache.getOrSet(k('brian'), 1979, { version: 2 }), 1979);
    assert.equal(await cache.get(k('brian'), undefined, { version: 3 }), undefined);
    assert.equal(await cache.get(k('brian')), 42);
    assert.equal(await cache.get(k('brian'), undefined, { version: 2 }), 1979);
  });

  it('getOrSet honours its timeout', async () => {
    const { cache } = driver();
    const k = scoped('getorset-timeout');
    await cache.getOrSet(k('ten'), 'v', { timeout: 10 });
    assertBetween(await cache.ttl(k('ten')), 9, 10, 'getOrSet timeout 10');
    await cache.getOrSet(k('forever'), async () => 'v', { timeout: null });
    assert.equal(await cache.ttl(k('forever')), null);
  });

  // DESIGN §4.1: single-flight in the process (Django's test_get_or_set_racing mocks add(); not portable)
  it('10 concurrent getOrSet calls on a cold key run the loader once', async () => {
    const { cache, sleep } = driver();
    const k = scoped('single-flight');
    let calls = 0;
    const loader = async () => {
      calls++;
      await sleep(50);
      return { rebuilt: calls };
    };
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.getOrSet(k('cold'), loader)));
    assert.equal(calls, 1, 'the loader ran once');
    for (const result of results) assert.deepEqual(result, { rebuilt: 1 });
    assert.deepEqual(await cache.get(k('cold')), { rebuilt: 1 });
  });

  it('a loader that throws rejects every waiter, stores nothing, and the next call loads again', async () => {
    const { cache, sleep } = driver();
    const k = scoped('loader-error');
    let calls = 0;
    const failing = async () => {
      calls++;
      await sleep(20);
      throw new Error('database down');
    };
    const settled = await Promise.allSettled(
      Array.from({ length: 3 }, () => cache.getOrSet(k('key'), failing)),
    );
    for (const outcome of settled) {
      assert.equal(outcome.status, 'rejected');
      assert.match(String((outcome as PromiseRejectedResult).reason), /database down/);
    }
    assert.equal(calls, 1);
    assert.equal(await cache.has(k('key')), false);
    assert.equal(await cache.getOrSet(k('key'), async () => 'recovered'), 'recovered');
    assert.equal(await cache.get(k('key')), 'recovered');
  });

  // ------------------------------------------------------------------ ttl / expire / persist

  // django-redis test_ttl, test_pttl
  it('ttl: seconds left (fractional), null when it never expires, 0 when missing', async () => {
    const { cache } = driver();
    const k = scoped('ttl');
    await cache.set(k('foo'), 'bar', { timeout: 10 });
    assertBetween(await cache.ttl(k('foo')), 9, 10, 'ttl of 10 s');
    await cache.set(k('foo'), 'foo', { timeout: null });
    assert.equal(await cache.ttl(k('foo')), null);
    await cache.set(k('foo'), 'foo', { timeout: -1 });
    assert.equal(await cache.ttl(k('foo')), 0);
    assert.equal(await cache.ttl(k('not-existent-key')), 0);
    await cache.set(k('ms'), 'bar', { timeout: '1500ms' });
    // Milliseconds are kept: neither 1 nor 2 (truncated or rounded to whole seconds).
    assertBetween(await cache.ttl(k('ms')), 1.2, 1.5, "ttl of '1500ms'");
  });

  // django-redis test_persist
  it('persist removes the expiry of an existing key', async () => {
    const { cache } = driver();
    const k = scoped('persist');
    await cache.set(k('foo'), 'bar', { timeout: 20 });
    assert.equal(await cache.persist(k('foo')), true);
    assert.equal(await cache.ttl(k('foo')), null);
    assert.equal(await cache.get(k('foo')), 'bar');
    assert.equal(await cache.persist(k('not-existent-key')), false);
    assert.equal(await cache.has(k('not-existent-key')), false);
  });

  // django-redis test_expire, test_pexpire (as a sub-second expire)
  it('expire gives an existing key a new timeout', async () => {
    const { cache, sleep } = driver();
    const k = scoped('expire');
    await cache.set(k('foo'), 'bar', { timeout: null });
    assert.equal(await cache.expire(k('foo'), 20), true);
    assertBetween(await cache.ttl(k('foo')), 19, 20, 'ttl after expire(20)');
    assert.equal(await cache.expire(k('not-existent-key'), 20), false);
    assert.equal(await cache.has(k('not-existent-key')), false, 'expire creates nothing');
    assert.equal(await cache.expire(k('foo'), 0.3), true);
    await sleep(600);
    assert.equal(await cache.get(k('foo')), undefined);
    await cache.set(k('now'), 'bar', { timeout: null });
    await cache.expire(k('now'), 0);
    assert.equal(await cache.has(k('now')), false, 'expire(0) removes the key');
  });

  // DESIGN §4.1: getEntry
  it('getEntry reports the value, hit or miss, and when the entry expires', async () => {
    const { cache } = driver();
    const k = scoped('getentry');
    const before = Date.now();
    await cache.set(k('ten'), { v: 1 }, { timeout: 10 });
    const hit = await cache.getEntry(k('ten'));
    assert.deepEqual(hit.value, { v: 1 });
    assert.ok(hit.status === 'hit' || hit.status === 'hit-local', `status ${hit.status}`);
    const expiresAt = Number(hit.expiresAt);
    assert.ok(
      expiresAt >= before + 9_000 && expiresAt <= Date.now() + 10_000 + 50,
      `expiresAt ${hit.expiresAt} should be about 10 s from now (epoch ms)`,
    );
    await cache.set(k('forever'), null, { timeout: null });
    const forever = await cache.getEntry(k('forever'));
    assert.equal(forever.value, null);
    assert.ok(forever.status === 'hit' || forever.status === 'hit-local', `status ${forever.status}`);
    assert.equal(forever.expiresAt, null);
    const miss = await cache.getEntry(k('missing'));
    assert.equal(miss.status, 'miss');
    assert.equal(miss.value, undefined);
    await cache.set(k('v2'), 'two', { version: 2 });
    assert.equal((await cache.getEntry(k('v2'), { version: 2 })).value, 'two');
    assert.equal((await cache.getEntry(k('v2'))).status, 'miss');
  });

  // ------------------------------------------------------------------ lock

  // django-redis test_lock (whether the lock's key is visible through has() is the implementation's business)
  it('a held lock cannot be acquired again until it is released', async () => {
    const { cache } = driver();
    const name = `${uniquePrefix('lock')}:foobar`;
    const first = cache.lock(name, { timeout: '5s', blockingTimeout: 0 });
    const second = cache.lock(name, { timeout: '5s', blockingTimeout: 0 });
    assert.equal(await first.acquire(), true);
    assert.equal(await second.acquire(), false, 'a second holder is refused while the lock is held');
    await first.release();
    assert.equal(await second.acquire(), true, 'free again after release');
    assert.equal(await first.acquire(), false);
    await second.release();
  });

  // redis-py Lock(timeout=...): a crashed holder cannot block others forever
  it('a lock expires after its timeout', async () => {
    const { cache, sleep } = driver();
    const name = `${uniquePrefix('lock')}:expiring`;
    const crashed = cache.lock(name, { timeout: 0.3, blockingTimeout: 0 });
    assert.equal(await crashed.acquire(), true);
    const next = cache.lock(name, { timeout: 5, blockingTimeout: 0 });
    assert.equal(await next.acquire(), false);
    await sleep(500);
    assert.equal(await next.acquire(), true, 'acquired once the first holder timed out');
    await next.release();
  });

  it('acquire waits up to blockingTimeout for a lock released meanwhile', async () => {
    const { cache, sleep } = driver();
    const name = `${uniquePrefix('lock')}:waiting`;
    const holder = cache.lock(name, { timeout: 5, blockingTimeout: 0 });
    assert.equal(await holder.acquire(), true);
    const waiter = cache.lock(name, { timeout: 5, blockingTimeout: 2 });
    const waiting = waiter.acquire();
    await sleep(100);
    await holder.release();
    assert.equal(await waiting, true);
    await waiter.release();
  });

  // ------------------------------------------------------------------ keys / iterKeys / deletePattern

  // django-redis test_delete_pattern
  it('deletePattern deletes the matching keys and returns how many', async () => {
    const { cache } = driver();
    const k = scoped('delpattern');
    for (const key of ['foo-aa', 'foo-ab', 'foo-bb', 'foo-bc']) await cache.set(k(key), 'foo');
    assert.equal(await cache.deletePattern(k('*foo-a*')), 2);
    assert.deepEqual(sorted(await cache.keys(k('foo*'))), [k('foo-bb'), k('foo-bc')]);
    assert.equal(await cache.deletePattern(k('*foo-a*')), 0);
    assert.equal(await cache.deletePattern(k('foo-b?')), 2);
    assert.deepEqual(await cache.keys(k('*')), []);
  });

  it('deletePattern only deletes the given version, and never another cache’s keys', async () => {
    const { cache, make } = driver();
    const k = scoped('delpattern-scope');
    const other = make({ keyPrefix: uniquePrefix('delpattern') });
    await cache.set(k('a'), 1);
    await cache.set(k('a'), 2, { version: 2 });
    await other.set(k('a'), 3);
    assert.equal(await cache.deletePattern(k('*')), 1);
    assert.equal(await cache.get(k('a'), undefined, { version: 2 }), 2);
    assert.equal(await other.get(k('a')), 3);
    assert.equal(await cache.deletePattern(k('*'), { version: 2 }), 1);
    assert.equal(await cache.has(k('a'), { version: 2 }), false);
  });

  // django-redis test_iter_keys, test_iter_keys_generator, test_delete_pattern (keys part)
  it('keys and iterKeys yield the caller’s keys, prefix and version stripped', async () => {
    const { cache } = driver();
    const k = scoped('keys');
    await cache.set(k('foo1'), 1);
    await cache.set(k('foo2'), 1);
    await cache.set(k('foo3'), 1);
    await cache.set(k('bar1'), 1);
    const expected = [k('foo1'), k('foo2'), k('foo3')];
    assert.deepEqual(sorted(await cache.keys(k('foo*'))), expected);
    assert.deepEqual(sorted(new Set(await collect(cache.iterKeys(k('foo*'))))), expected);
    const iterator = cache.iterKeys(k('foo*'))[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.done, false);
    assert.ok(expected.includes(first.value as string));
    await iterator.return?.();
    assert.deepEqual(sorted(await cache.keys(k('foo[12]'))), [k('foo1'), k('foo2')]);
    assert.deepEqual(sorted(await cache.keys(k('?oo3'))), [k('foo3')]);
    assert.deepEqual(await cache.keys(k('nothing*')), []);
  });

  // django-redis test_iter_keys_itersize: more keys than one SCAN batch
  it('iterKeys walks more keys than one batch and yields each of them', async () => {
    const { cache } = driver();
    const k = scoped('iterkeys-many');
    const keys = Array.from({ length: 1200 }, (_, i) => k(`item-${i}`));
    assert.deepEqual(await cache.setMany(keys.map((key) => [key, 1] as const)), []);
    const seen = new Set(await collect(cache.iterKeys(k('item-*'))));
    assert.equal(seen.size, 1200);
    assert.deepEqual(sorted(seen), sorted(keys));
    assert.equal(await cache.deletePattern(k('item-*')), 1200);
    assert.deepEqual(await cache.keys(k('item-*')), []);
  });

  // django-redis: keys() and iter_keys() take a version
  it('keys lists the cache version unless another version is asked for', async () => {
    const { cache, make } = driver();
    const v2 = make({ version: 2 });
    const k = scoped('keys-version');
    await cache.set(k('one'), 1);
    await cache.set(k('two'), 2, { version: 2 });
    assert.deepEqual(await cache.keys(k('*')), [k('one')]);
    assert.deepEqual(await cache.keys(k('*'), { version: 2 }), [k('two')]);
    assert.deepEqual(await v2.keys(k('*')), [k('two')]);
    assert.deepEqual(await v2.keys(k('*'), { version: 1 }), [k('one')]);
    assert.deepEqual(await collect(v2.iterKeys(k('*'), { version: 1 })), [k('one')]);
  });

  it('keys never lists another cache’s keys, even when its prefix holds glob characters', async () => {
    const { make } = driver();
    const base = uniquePrefix('keys-glob');
    const own = make({ keyPrefix: `${base}[a]*` });
    const lookalike = make({ keyPrefix: `${base}a` });
    await own.set('mine', 1);
    await lookalike.set('theirs', 1);
    assert.deepEqual(await own.keys('*'), ['mine']);
    assert.deepEqual(await lookalike.keys('*'), ['theirs']);
    assert.equal(await own.deletePattern('*'), 1);
    assert.equal(await lookalike.get('theirs'), 1);
  });

  // DESIGN §4.1: a user-provided key is never interpreted as a pattern
  it('keys with glob and separator characters are plain keys for get, has, delete and getMany', async () => {
    const { cache } = driver();
    const k = scoped('special');
    const special = ['a*', 'a?', 'a[b]', 'a\\', 'a\\*', 'a:b:c', '{tag}a', 'a b', '*', '[', ']', '^', '-'];
    const plain = ['ab', 'ax', 'abc', 'a', 'b'];
    for (const key of [...special, ...plain]) await cache.set(k(key), `value of ${key}`);
    for (const key of [...special, ...plain]) assert.equal(await cache.get(k(key)), `value of ${key}`, key);

    assert.equal(await cache.get(k('x*')), undefined, "'x*' is not a pattern matching 'x…'");
    assert.equal(await cache.has(k('b*')), false);
    assert.equal(await cache.delete(k('a*')), true);
    assert.equal(await cache.get(k('a*')), undefined);
    for (const key of plain)
      assert.equal(await cache.get(k(key)), `value of ${key}`, `${key} survives delete('a*')`);
    assert.equal(await cache.delete(k('?')), false, "delete('?') matches nothing");
    await cache.deleteMany([k('a?'), k('a[b]')]);
    assert.equal(await cache.get(k('ax')), 'value of ax');
    assert.equal(await cache.get(k('ab')), 'value of ab');
    const found = await cache.getMany([k('*'), k('['), k('a:b:c')]);
    assert.deepEqual(
      found,
      new Map([
        [k('*'), 'value of *'],
        [k('['), 'value of ['],
        [k('a:b:c'), 'value of a:b:c'],
      ]),
    );
    // Escaped glob characters match literally; the separator inside a key is kept when stripping.
    assert.deepEqual(await cache.keys(k('\\*')), [k('*')]);
    assert.deepEqual(await cache.keys(k('a\\\\')), [k('a\\')]);
    assert.deepEqual(await cache.keys(k('a:b:*')), [k('a:b:c')]);
    assert.deepEqual(await cache.keys(k('{tag}*')), [k('{tag}a')]);
    assert.equal(await cache.incr(k('counter*'), 1).catch((e) => e.constructor), CacheMissError);
  });
});

/** Every key-taking operation must refuse `bad` with a CacheKeyError and write nothing. */
async function checkEveryOperationRefuses(
  cache: Cache,
  bad: string,
  good: string,
  label: string,
): Promise<void> {
  const ops: Array<[string, () => Promise<unknown>]> = [
    ['add', () => cache.add(bad, 1)],
    ['get', () => cache.get(bad)],
    ['getEntry', () => cache.getEntry(bad)],
    ['set', () => cache.set(bad, 1)],
    ['has', () => cache.has(bad)],
    ['incr', () => cache.incr(bad)],
    ['decr', () => cache.decr(bad)],
    ['touch', () => cache.touch(bad)],
    ['delete', () => cache.delete(bad)],
    ['ttl', () => cache.ttl(bad)],
    ['expire', () => cache.expire(bad, 10)],
    ['persist', () => cache.persist(bad)],
    ['getOrSet', () => cache.getOrSet(bad, 1)],
    ['incrVersion', () => cache.incrVersion(bad)],
    ['decrVersion', () => cache.decrVersion(bad)],
    ['getMany', () => cache.getMany([bad, good])],
    ['setMany', () => cache.setMany({ [bad]: 1, [good]: 2 })],
    ['deleteMany', () => cache.deleteMany([bad, good])],
  ];
  for (const [name, op] of ops) {
    await rejectsWith(op, CacheKeyError, `${name}(${label})`);
  }
  assert.equal(await cache.has(good), false, `setMany with a bad key wrote none of its entries (${label})`);
}
