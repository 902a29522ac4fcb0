/**
 * `larder bench`: runs bench/run.ts from the package root with the filters passed through
 * (`--list` shows what a filter selects without running anything, so this stays fast).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { larder, lines, ROOT } from './support.js';

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

test('bench where there is no bench/ (an installed package): exit 2 and why', () => {
  // The package as npm installs it: dist, package.json and its dependencies, no bench/.
  const installed = mkdtempSync(path.join(os.tmpdir(), 'larder-installed-'));
  try {
    cpSync(path.join(ROOT, 'dist'), path.join(installed, 'dist'), { recursive: true });
    copyFileSync(path.join(ROOT, 'package.json'), path.join(installed, 'package.json'));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(installed, 'node_modules'));
    const run = spawnSync(process.execPath, [path.join(installed, 'dist/cli/index.js'), 'bench', 'cache'], {
      encoding: 'utf8',
    });
    assert.equal(run.status, 2);
    assert.match(
      run.stderr,
      /^larder: larder bench runs the benchmark suite of a source checkout, and there is none at /,
    );
  } finally {
    rmSync(installed, { recursive: true, force: true });
  }
});
