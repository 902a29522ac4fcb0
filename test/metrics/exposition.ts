/**
 * A strict reader of the Prometheus text format (0.0.4) for the metrics tests: every line
 * is a HELP, a TYPE or a sample; label values are unescaped; anything else fails the test.
 */
import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  help: Map<string, string>;
  type: Map<string, string>;
  /** The value of the one sample named `name` whose labels include `labels`; throws unless exactly one matches. */
  value(name: string, labels?: Record<string, string>): number;
  /** Every sample named `name` whose labels include `labels`. */
  find(name: string, labels?: Record<string, string>): Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  // prom-client writes NaN as 'Nan' (Prometheus reads it case-insensitively).
  if (text.toLowerCase() === 'nan') return Number.NaN;
  const value = Number(text);
  assert.ok(!Number.isNaN(value), `not a sample value: ${text}`);
  return value;
}

/** Parses `text`, asserting that every line is well formed. */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? help : type).set(meta[2]!, meta[3]!);
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const at = LABEL.lastIndex;
      const l = LABEL.exec(body);
      assert.ok(l && l.index === at, `bad labels in ${JSON.stringify(line)}`);
      labels[l[1]!] = unescapeLabel(l[2]!);
    }
    samples.push({ name: m[1]!, labels, value: parseValue(m[3]!) });
  }
  const find = (name: string, want: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v));
  return {
    samples,
    help,
    type,
    find,
    value(name, want = {}) {
      const found = find(name, want);
      assert.equal(found.length, 1, `${name} ${JSON.stringify(want)}: ${found.length} samples`);
      return found[0]!.value;
    },
  };
}

/**
 * Checks one histogram series (`name` with `labels`): buckets cumulative and monotone in
 * `le` order, `+Inf` equal to `_count`, and returns `_count`.
 */
export function histogramCount(expo: Exposition, name: string, labels: Record<string, string>): number {
  const buckets = expo.find(`${name}_bucket`, labels);
  assert.ok(buckets.length > 1, `${name} ${JSON.stringify(labels)}: no buckets`);
  const les = buckets.map((b) => parseValue(b.labels.le!));
  for (let i = 1; i < les.length; i++) assert.ok(les[i]! > les[i - 1]!, `${name}: le in increasing order`);
  assert.equal(les.at(-1), Number.POSITIVE_INFINITY, `${name}: the last bucket is +Inf`);
  for (let i = 1; i < buckets.length; i++)
    assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${name} ${JSON.stringify(labels)}: cumulative`);
  const count = expo.value(`${name}_count`, labels);
  assert.equal(buckets.at(-1)!.value, count, `${name}: +Inf bucket = _count`);
  assert.ok(expo.value(`${name}_sum`, labels) >= 0, `${name}: _sum`);
  return count;
}
