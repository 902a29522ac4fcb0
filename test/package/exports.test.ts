/**
 * The package as users install it: every subpath of the export map resolves from the
 * built `dist/` (npm test builds first), and the three adapters export the same names.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
const subpaths = Object.keys(pkg.exports).filter((p) => p !== './package.json');

test('the export map covers DESIGN §2', () => {
  for (const expected of [
    '.',
    './cache',
    './session',
    './ratelimit',
    './tasks',
    './realtime',
    './leaderboard',
    './express',
    './fastify',
    './hono',
    './nunjucks',
    './liquid',
    './metrics',
  ]) {
    assert.ok(subpaths.includes(expected), `missing export ${expected}`);
  }
});

for (const subpath of subpaths) {
  test(`import('larder${subpath.slice(1)}') resolves from dist`, async () => {
    const mod = await import(`larder${subpath.slice(1)}`);
    assert.ok(Object.keys(mod).length > 0, `larder${subpath.slice(1)} exports nothing`);
  });
}

test('larder exports createLarder and the error classes', async () => {
  const mod: Record<string, any> = await import('larder');
  assert.equal(typeof mod.createLarder, 'function');
  for (const name of [
    'LarderError',
    'ConfigError',
    'CacheKeyError',
    'CacheMissError',
    'SerializationError',
    'BackendUnavailableError',
    'SessionTooLargeError',
    'SessionInterruptedError',
    'RateLimitedError',
    'TaskTimeoutError',
    'TaskRevokedError',
    'CacheValueError',
  ]) {
    assert.equal(typeof mod[name], 'function', name);
    assert.ok(new mod[name]('x', 'y', 'z') instanceof mod.LarderError, name);
  }
});

test('every adapter exports the same names, and adapt() returns the same factories', async () => {
  const { createLarder } = await import('larder');
  const larder = createLarder({ logger: false }, {});
  const adapters = await Promise.all(['express', 'fastify', 'hono'].map((n) => import(`larder/${n}`)));
  const exportNames = adapters.map((m) => Object.keys(m).sort());
  assert.deepEqual(exportNames[1], exportNames[0]);
  assert.deepEqual(exportNames[2], exportNames[0]);
  const factories = adapters.map((m) => Object.keys(m.adapt(larder)).sort());
  assert.deepEqual(factories[1], factories[0]);
  assert.deepEqual(factories[2], factories[0]);
  await larder.close();
});

test('the larder bin points at a built file', () => {
  assert.equal(pkg.bin.larder, './dist/cli/index.js');
  assert.ok(
    readFileSync(new URL(`../../${pkg.bin.larder}`, import.meta.url), 'utf8').startsWith(
      '#!/usr/bin/env node',
    ),
  );
});
