/**
 * `larder worker --app <module>` refuses an app module it cannot load as bad usage (exit 2)
 * with what to do, as `--config` does, rather than a raw import error and exit 1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { larder } from './support.js';

describe('larder worker: an --app module that cannot be loaded', () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'larder-cli-worker-'));
    writeFileSync(path.join(dir, 'throws.mjs'), "throw new Error('boom at import');\n");
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a missing module: exit 2, the path it looked at', async () => {
    const run = await larder(['worker', '--app', 'missing-tasks.mjs'], {}, dir);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(
      run.stderr,
      `larder: --app missing-tasks.mjs: no such file (resolved to ${path.join(dir, 'missing-tasks.mjs')}).\n`,
    );
  });

  test('a module that throws while loading: exit 2 with its message, no stack', async () => {
    const run = await larder(['worker', '-A', './throws.mjs'], {}, dir);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stderr, 'larder: --app ./throws.mjs could not be loaded: boom at import.\n');
  });
});
