/**
 * `larder bench`: runs bench/run.ts from the package root with the filters passed through
 * (`--list` shows what a filter selects without running anything, so this stays fast).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { larder, lines } from './support.js';

test('bench --list: the filters reach the suite, which lists what they select', async () => {
  const run = await larder(['bench', 'cache', 'leader', '--list']);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(lines(run.stdout), ['cache', 'leaderboard']);
  const all = await larder(['bench', '--list']);
  assert.ok(lines(all.stdout).length >= 7, all.stdout);
});

test('bench with a filter that matches nothing fails with the known names', async () => {
  const run = await larder(['bench', 'no-such-bench', '--list']);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /no benchmark matches 'no-such-bench'; known: cache, /);
});

test('--version prints the package version', async () => {
  const { readFileSync } = await import('node:fs');
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const run = await larder(['--version']);
  assert.equal(run.code, 0);
  assert.equal(run.stdout, `${version}\n`);
});
