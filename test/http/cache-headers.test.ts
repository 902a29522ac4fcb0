/**
 * Django's header utilities (tests/cache/tests.py CacheUtils, PrefixedCacheUtils adapted):
 * patch_cache_control, patch_vary_headers, get_max_age, never_cache.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addNeverCacheHeaders,
  getMaxAge,
  type HeaderRecord,
  patchCacheControl,
  patchVaryHeaders,
} from '../../src/http/cache-headers.js';

const directives = (h: HeaderRecord) => new Set(String(h['cache-control']).split(', '));

test('patchCacheControl: Django’s cases', () => {
  const cases: Array<[string | undefined, Record<string, string | number | boolean>, string[]]> = [
    [undefined, { private: true }, ['private']],
    ['', { private: true }, ['private']],
    [undefined, { 'max-age': 300 }, ['max-age=300']],
    ['max-age=3600', { 'max-age': 300 }, ['max-age=300']],
    ['max-age=300', { 'max-age': 3600 }, ['max-age=300']],
    ['private', { public: true }, ['public']],
    ['public', { private: true }, ['private']],
    ['must-revalidate,max-age=60,private', { public: true }, ['must-revalidate', 'max-age=60', 'public']],
    ['must-revalidate,max-age=60,public', { private: true }, ['must-revalidate', 'max-age=60', 'private']],
    ['must-revalidate,max-age=60', { public: true }, ['must-revalidate', 'max-age=60', 'public']],
    [undefined, { no_cache: true }, ['no-cache']],
  ];
  for (const [initial, patch, expected] of cases) {
    const headers: HeaderRecord = initial === undefined ? {} : { 'cache-control': initial };
    patchCacheControl(headers, patch);
    assert.deepEqual(directives(headers), new Set(expected), `${initial} + ${JSON.stringify(patch)}`);
  }
});

test('patchCacheControl: false removes a directive, even max-age', () => {
  const headers: HeaderRecord = { 'cache-control': 'max-age=60, public' };
  patchCacheControl(headers, { 'max-age': false });
  assert.equal(headers['cache-control'], 'public');
});

test('patchCacheControl: no-cache field names accumulate and survive a second patch', () => {
  const headers: HeaderRecord = {};
  patchCacheControl(headers, { 'no-cache': 'Set-Cookie' });
  patchCacheControl(headers, { 'no-cache': 'X-Token' });
  assert.equal(headers['cache-control'], 'no-cache="Set-Cookie,X-Token"');
  patchCacheControl(headers, { public: true });
  assert.deepEqual(directives(headers), new Set(['no-cache="Set-Cookie,X-Token"', 'public']));
});

test('patchCacheControl: a bare no-cache wins over field names, either way round (Django)', () => {
  const bareFirst: HeaderRecord = { 'cache-control': 'no-cache' };
  patchCacheControl(bareFirst, { 'no-cache': 'Set-Cookie' });
  assert.equal(bareFirst['cache-control'], 'no-cache');
  const fieldsFirst: HeaderRecord = { 'cache-control': 'no-cache="Set-Cookie"' };
  patchCacheControl(fieldsFirst, { 'no-cache': true });
  assert.equal(fieldsFirst['cache-control'], 'no-cache');
});

test('patchVaryHeaders: Django’s cases', () => {
  const cases: Array<[string | undefined, string[], string]> = [
    [undefined, ['Accept-Encoding'], 'Accept-Encoding'],
    ['Accept-Encoding', ['accept-encoding'], 'Accept-Encoding'],
    ['Accept-Encoding', ['ACCEPT-ENCODING'], 'Accept-Encoding'],
    ['Cookie', ['Accept-Encoding'], 'Cookie, Accept-Encoding'],
    ['Cookie, Accept-Encoding', ['Accept-Encoding'], 'Cookie, Accept-Encoding'],
    ['Cookie, Accept-Encoding', ['Accept-Encoding', 'cookie'], 'Cookie, Accept-Encoding'],
    [undefined, ['Accept-Encoding', 'COOKIE'], 'Accept-Encoding, COOKIE'],
    ['Cookie,     Accept-Encoding', ['Accept-Encoding', 'cookie'], 'Cookie, Accept-Encoding'],
    ['Cookie    ,     Accept-Encoding', ['Accept-Encoding', 'cookie'], 'Cookie, Accept-Encoding'],
    ['*', ['Accept-Language', 'Cookie'], '*'],
    ['Accept-Language, Cookie', ['*'], '*'],
  ];
  for (const [initial, names, expected] of cases) {
    const headers: HeaderRecord = initial === undefined ? {} : { vary: initial };
    patchVaryHeaders(headers, names);
    assert.equal(headers.vary, expected, `${initial} + ${names}`);
  }
});

test('getMaxAge and addNeverCacheHeaders', () => {
  assert.equal(getMaxAge({ 'cache-control': 'public, max-age=60' }), 60);
  assert.equal(getMaxAge({ 'cache-control': 'public' }), undefined);
  assert.equal(getMaxAge({ 'cache-control': 'max-age=nope' }), undefined);
  const headers: HeaderRecord = {};
  addNeverCacheHeaders(headers, Date.UTC(2026, 0, 1));
  assert.equal(headers.expires, 'Thu, 01 Jan 2026 00:00:00 GMT');
  assert.deepEqual(
    directives(headers),
    new Set(['max-age=0', 'no-cache', 'no-store', 'must-revalidate', 'private']),
  );
});
