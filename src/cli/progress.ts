/**
 * Progress bars for long scans (`keys`, `clear`, `sessions count`), on stderr and only when
 * stderr is a terminal (or `--progress` asks), so `--json` output and pipes stay clean.
 */
import cliProgress from 'cli-progress';

/** A running bar; every method is a no-op when progress is off. */
export interface Progress {
  /** Adds `n` to the count of keys found. */
  increment(n?: number): void;
  /** Completes and removes the bar. */
  stop(): void;
}

const OFF: Progress = { increment() {}, stop() {} };

/**
 * A bar counting keys found against `total` (the keyspace size, `DBSIZE`: an upper bound,
 * so the bar fills completely only when every key matched).
 *
 * @example
 * const bar = progress({ enabled: opts.progress, label: 'scanning', total: await dbsize() });
 * bar.increment(batch.length);
 * bar.stop();
 */
export function progress(options: { enabled: boolean | undefined; label: string; total: number }): Progress {
  const stream = process.stderr;
  const enabled = options.enabled ?? stream.isTTY === true;
  if (!enabled) return OFF;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${options.label} [{bar}] {value} found of {total} keys in the database | {duration_formatted}`,
      hideCursor: stream.isTTY === true,
      clearOnComplete: false,
      noTTYOutput: true,
      notTTYSchedule: 1000,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const total = Math.max(options.total, 0);
  bar.start(total, 0);
  let value = 0;
  return {
    increment(n = 1) {
      value += n;
      // Keys written while scanning can outnumber the DBSIZE read before it.
      if (value > total) bar.setTotal(value);
      bar.update(value);
    },
    stop() {
      bar.stop();
    },
  };
}
