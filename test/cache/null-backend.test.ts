/**
 * The `null` backend (Django's DummyCache): the whole API works and stores nothing.
 * Ported from Django's `DummyCacheTests` (tests/cache/tests.py); each case names its source.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cache } from '../../src/cache/cache.js';
import { CacheKeyError, CacheMissError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('null cache backend (Django DummyCache)', () => {
  let larder: Larder;
  let cache: Cache;

  before(() => {
    larder = createLarder({ redis: false, caches: { default: { backend: 'null' } }, logger: false }, {});
    cache = larder.cache('default');
  });

  after(async () => {
    await larder.close();
  });

  // test_simple
  it('ignores set: get afterwards is a miss', async () => {
    await cache.set('key', 'value');
    assert.equal(await cache.get('key'), undefined);
    assert.equal((await cache.getEntry('key')).status, 'miss');
  });

  // test_add
  it('add returns true every time and stores nothing', async () => {
    assert.equal(await cache.add('addkey1', 'value'), true);
    assert.equal(await cache.add('addkey1', 'newvalue'), true);
    assert.equal(await cache.get('addkey1'), undefined);
  });

  // test_non_existent
  it('get of a missing key returns undefined, or the default', async () => {
    assert.equal(await cache.get('does_not_exist'), undefined);
    assert.equal(await cache.get('does_not_exist', 'bang!'), 'bang!');
  });

  // test_get_many
  it('getMany returns an empty Map', async () => {
    await cache.setMany({ a: 'a', b: 'b', c: 'c', d: 'd' });
    assert.deepEqual(await cache.getMany(['a', 'c', 'd']), new Map());
    assert.deepEqual(await cache.getMany(['a', 'b', 'e']), new Map());
  });

  // test_get_many_invalid_key, test_set_many_invalid_key, test_delete_many_invalid_key (Django warns for
  // memcached; larder validates keys on every backend, so code that works here works on Redis)
  it('still validates keys: control characters and keys over 250 bytes are a CacheKeyError', async () => {
    for (const bad of ['key\nwith newline', 'a'.repeat(251)]) {
      await assert.rejects(cache.get(bad), CacheKeyError);
      await assert.rejects(cache.set(bad, 1), CacheKeyError);
      await assert.rejects(cache.getMany([bad]), CacheKeyError);
      await assert.rejects(cache.setMany({ [bad]: 'foo' }), CacheKeyError);
      await assert.rejects(cache.deleteMany([bad]), CacheKeyError);
    }
  });

  // test_delete
  it('delete returns false and nothing is there', async () => {
    await cache.setMany({ key1: 'spam', key2: 'eggs' });
    assert.equal(await cache.get('key1'), undefined);
    assert.equal(await cache.delete('key1'), false);
    assert.equal(await cache.get('key1'), undefined);
    assert.equal(await cache.get('key2'), undefined);
  });

  // test_has_key, test_in
  it('has is always false', async () => {
    await cache.set('hello1', 'goodbye1');
    assert.equal(await cache.has('hello1'), false);
    assert.equal(await cache.has('goodbye1'), false);
    await cache.set('null', null);
    assert.equal(await cache.has('null'), false);
  });

  // test_incr, test_decr
  it('incr and decr raise CacheMissError, whatever was set', async () => {
    await cache.set('answer', 42);
    await assert.rejects(cache.incr('answer'), CacheMissError);
    await assert.rejects(cache.incr('does_not_exist'), CacheMissError);
    await assert.rejects(cache.incr('does_not_exist', -1), CacheMissError);
    await assert.rejects(cache.decr('answer'), CacheMissError);
    await assert.rejects(cache.decr('does_not_exist'), CacheMissError);
    await assert.rejects(cache.decr('does_not_exist', -1), CacheMissError);
  });

  // test_touch
  it('touch returns false', async () => {
    assert.equal(await cache.touch('whatever'), false);
    assert.equal(await cache.touch('whatever', 10), false);
  });

  // test_data_types (Django's function and class values are left out: larder refuses them with a
  // SerializationError before any backend is asked, see the conformance suite)
  it('ignores every data type equally', async () => {
    const values: Record<string, unknown> = {
      string: 'this is a string',
      int: 42,
      bool: true,
      list: [1, 2, 3, 4],
      dict: { A: 1, B: 2 },
      date: new Date(0),
      map: new Map([['a', 1]]),
      bytes: new Uint8Array([1, 2, 3]),
    };
    for (const [key, value] of Object.entries(values)) {
      await cache.set(key, value);
      assert.equal(await cache.get(key), undefined, key);
    }
  });

  // test_expiration (shortened: the dummy cache has nothing to expire)
  it('expiration has no effect', async () => {
    await cache.set('expire1', 'very quickly', { timeout: 0.2 });
    await cache.set('expire2', 'very quickly', { timeout: 0.2 });
    await cache.set('expire3', 'very quickly', { timeout: 0.2 });
    await sleep(250);
    assert.equal(await cache.get('expire1'), undefined);
    assert.equal(await cache.add('expire2', 'newvalue'), true);
    assert.equal(await cache.get('expire2'), undefined);
    assert.equal(await cache.has('expire3'), false);
  });

  // test_unicode
  it('ignores Unicode keys and values', async () => {
    const stuff: Record<string, unknown> = {
      ascii: 'ascii_value',
      unicode_ascii: 'Iñtërnâtiônàlizætiøn1',
      Iñtërnâtiônàlizætiøn: 'Iñtërnâtiônàlizætiøn2',
      ascii2: { x: 1 },
    };
    for (const [key, value] of Object.entries(stuff)) {
      await cache.set(key, value);
      assert.equal(await cache.get(key), undefined, key);
    }
  });

  // test_set_many
  it('setMany returns [] and stores nothing', async () => {
    assert.deepEqual(await cache.setMany({ a: 1, b: 2 }), []);
    assert.deepEqual(await cache.setMany({ a: 1, b: 2 }, { timeout: 2, version: 1 }), []);
    assert.deepEqual(await cache.getMany(['a', 'b']), new Map());
  });

  // test_delete_many, test_clear
  it('deleteMany and clear resolve', async () => {
    await cache.deleteMany(['a', 'b']);
    await cache.deleteMany([]);
    await cache.clear();
  });

  // test_incr_version, test_decr_version
  it('incrVersion and decrVersion raise CacheMissError', async () => {
    await cache.set('answer', 42);
    await assert.rejects(cache.incrVersion('answer'), CacheMissError);
    await assert.rejects(cache.incrVersion('does_not_exist'), CacheMissError);
    await assert.rejects(cache.decrVersion('answer'), CacheMissError);
    await assert.rejects(cache.decrVersion('does_not_exist'), CacheMissError);
  });

  // test_get_or_set
  it('getOrSet returns the value given without storing it', async () => {
    assert.equal(await cache.getOrSet('mykey', 'default'), 'default');
    assert.equal(await cache.getOrSet('mykey', null), null);
    assert.equal(await cache.get('mykey'), undefined);
  });

  // test_get_or_set_callable
  it('getOrSet calls the loader every time and returns its value', async () => {
    let calls = 0;
    const myCallable = () => {
      calls++;
      return 'default';
    };
    assert.equal(await cache.getOrSet('mykey', myCallable), 'default');
    assert.equal(await cache.getOrSet('mykey', myCallable()), 'default');
    assert.equal(await cache.getOrSet('mykey', async () => 'async default'), 'async default');
    assert.equal(calls, 2);
  });

  // django-redis' extras, on a cache that keeps nothing
  it('ttl is 0, expire and persist are false, and no key is ever listed', async () => {
    await cache.set('k', 1, { timeout: null });
    assert.equal(await cache.ttl('k'), 0);
    assert.equal(await cache.expire('k', 10), false);
    assert.equal(await cache.persist('k'), false);
    assert.deepEqual(await cache.keys('*'), []);
    const seen: string[] = [];
    for await (const key of cache.iterKeys('*')) seen.push(key);
    assert.deepEqual(seen, []);
    assert.equal(await cache.deletePattern('*'), 0);
  });

  // test_close
  it('close resolves', async () => {
    const other = createLarder({ redis: false, caches: { default: { backend: 'null' } }, logger: false }, {});
    await other.cache('default').close();
    await other.close();
  });
});
