/**
 * Where a command's results go: stdout, as text lines or (with `--json`) JSON. Writes wait
 * for the pipe to drain, so a long listing streams at the reader's pace without buffering
 * everything; messages and progress go to stderr, so stdout stays machine-readable.
 */
import type { Writable } from 'node:stream';

/**
 * A command's stdout.
 *
 * @example
 * const out = new Output(opts.json === true);
 * await out.result(report, () => [`status: ${report.status}`]);
 */
export class Output {
  readonly json: boolean;
  readonly #stream: Writable;

  constructor(json: boolean, stream: Writable = process.stdout) {
    this.json = json;
    this.#stream = stream;
  }

  /** Writes one line, waiting for the stream to drain when its buffer is full. */
  async line(text = ''): Promise<void> {
    if (!this.#stream.write(`${text}\n`)) {
      await new Promise<void>((resolve) => this.#stream.once('drain', resolve));
    }
  }

  /** The whole result: `value` as indented JSON with `--json`, else the lines `text()` gives. */
  async result(value: unknown, text: () => string[]): Promise<void> {
    if (this.json) return this.line(JSON.stringify(value, null, 2));
    for (const line of text()) await this.line(line);
  }

  /**
   * A listing that streams: with `--json` one JSON array written item by item (valid JSON
   * once `end()` is called, so `JSON.parse` or `jq` read it whole), else `text(item)` per line.
   *
   * @example
   * const list = out.list<string>((key) => key);
   * for await (const key of keys) await list.push(key);
   * await list.end();
   */
  list<T>(text: (item: T) => string): { push(item: T): Promise<void>; end(): Promise<void> } {
    let first = true;
    return {
      push: async (item) => {
        if (!this.json) return this.line(text(item));
        await this.line(`${first ? '[' : ','}${JSON.stringify(item)}`);
        first = false;
      },
      end: async () => {
        if (this.json) await this.line(first ? '[]' : ']');
      },
    };
  }
}

/** A ratio as a percentage with one decimal (`83.3%`), or `n/a`. */
export function percent(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined || !Number.isFinite(ratio)
    ? 'n/a'
    : `${(ratio * 100).toFixed(1)}%`;
}
