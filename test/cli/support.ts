/**
 * @module Runs the built `larder` CLI (`node dist/cli/index.js`, built by `npm test`) as a
 * child process and collects what it printed and its exit code.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CONFIG_MODULE = 'test/cli/fixtures/config.mjs';
export const LARDER_MODULE = 'test/cli/fixtures/larder.mjs';

/** What one run of the CLI printed, and how it exited. */
export interface CliRun {
  args: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `larder ...args` in `cwd` (default: the repository) with the test's environment minus
 * any Redis URL and LARDER_DEBUG, plus `env`. A run still going after a minute is killed (a
 * guard against a command that never ends: the run then fails, it is not a timing assertion).
 * @example const { code, stdout } = await larder(['keys', 'a*'], { REDIS_URL: url });
 */
export function larder(args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<CliRun> {
  const base = { ...process.env };
  delete base.REDIS_URL;
  delete base.LARDER_REDIS_URL;
  delete base.LARDER_DEBUG;
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/cli/index.js'), ...args], {
    cwd,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ args, code, signal, stdout, stderr });
    });
  });
}

/** The non-empty lines of `text`. */
export const lines = (text: string) => text.split('\n').filter((l) => l !== '');

/** `run`'s stdout parsed as JSON; when it is not JSON, fails with the exit code and stderr (what went wrong). */
export function parsed(run: CliRun): any {
  try {
    return JSON.parse(run.stdout);
  } catch {
    throw new Error(
      `stdout is not JSON (exit ${run.code}): ${run.stdout.slice(0, 200)}\nstderr: ${run.stderr}`,
    );
  }
}
