/**
 * @module bench/codec — encode+decode throughput of the cache codec against its floors:
 * plain `JSON.stringify`/`JSON.parse` for the json serializer, raw msgpackr for msgpack.
 *
 * Run: `node --import tsx bench/codec.ts [iterations]`. Prints ops/s (one op = one encode
 * plus one decode) and the ratio to the floor; the target is >= 0.8x on plain data.
 */
import { performance } from 'node:perf_hooks';
import { createCodec } from 'larder/cache';
import { Packr } from 'msgpackr';

const iterations = Number(process.argv[2] ?? 200_000);

function product(i: number): Record<string, unknown> {
  return {
    id: 1000 + i,
    sku: `SKU-${i.toString(36).toUpperCase()}`,
    name: `Stainless steel kettle ${i}`,
    price: 24.99 + i,
    inStock: i % 3 !== 0,
    tags: ['kitchen', 'steel'],
    rating: { average: 4.5, count: 120 + i },
  };
}

/** A plain object whose JSON text is about `bytes` long. */
function plainOfSize(bytes: number): Record<string, unknown> {
  const items: Array<Record<string, unknown>> = [];
  while (JSON.stringify({ region: 'eu', items }).length < bytes - 180) items.push(product(items.length));
  return { region: 'eu', items };
}

const shapes: Array<[string, unknown]> = [
  ['small (~200 B)', product(1)],
  ['1 KiB', plainOfSize(1024)],
  ['10 KiB', plainOfSize(10 * 1024)],
];

/** ops/s of one timed round of `n` calls. */
function round(op: () => unknown, n: number): number {
  const start = performance.now();
  for (let i = 0; i < n; i++) op();
  return n / ((performance.now() - start) / 1000);
}

/** ops/s of `op` after a warm-up: the best of three rounds (less noise on a busy machine). */
function measure(op: () => unknown, n: number): number {
  for (let i = 0; i < Math.min(n, 20_000); i++) op();
  return Math.max(round(op, n), round(op, n), round(op, n));
}

/**
 * ops/s of `op` and of its `floor`, timed in alternating rounds so that drift and GC hit
 * both alike; the best round of each is kept.
 */
function versus(op: () => unknown, floor: () => unknown, n: number): [number, number] {
  for (let i = 0; i < Math.min(n, 20_000); i++) {
    op();
    floor();
  }
  let best = 0;
  let bestFloor = 0;
  for (let r = 0; r < 4; r++) {
    bestFloor = Math.max(bestFloor, round(floor, n));
    best = Math.max(best, round(op, n));
  }
  return [best, bestFloor];
}

const json = createCodec();
const msgpack = createCodec({ serializer: 'msgpack' });
const packr = new Packr({
  useRecords: false,
  moreTypes: true,
  useBigIntExtension: true,
  variableMapSize: true,
});
const rich = { ...product(2), createdAt: new Date(0), views: 12n, related: new Set([1, 2, 3]) };

const rows: Array<Record<string, string>> = [];
/** `floor`: the ops/s to compare with, `'floor'` for a floor itself, nothing when there is none. */
function row(shape: string, name: string, opsPerSec: number, floor?: number | 'floor'): void {
  rows.push({
    shape,
    codec: name,
    'ops/s': Math.round(opsPerSec).toLocaleString('en-US'),
    'vs floor':
      floor === undefined ? '-' : floor === 'floor' ? '(floor)' : `${(opsPerSec / floor).toFixed(2)}x`,
  });
}

for (const [shape, value] of shapes) {
  const n = Math.max(5_000, Math.round(iterations / Math.max(1, JSON.stringify(value).length / 200)));
  const [ours, plain] = versus(
    () => json.decode(json.encode(value)),
    () => JSON.parse(JSON.stringify(value)),
    n,
  );
  row(shape, 'JSON.stringify/parse', plain, 'floor');
  row(shape, 'larder json', ours, plain);
  const [oursMsgpack, raw] = versus(
    () => msgpack.decode(msgpack.encode(value)),
    () => packr.unpack(packr.pack(value)),
    n,
  );
  row(shape, 'msgpackr pack/unpack', raw, 'floor');
  row(shape, 'larder msgpack', oursMsgpack, raw);
}
row(
  'small + Date/BigInt/Set',
  'larder json (tagged)',
  measure(() => json.decode(json.encode(rich)), iterations),
);
row(
  'small + Date/BigInt/Set',
  'larder msgpack',
  measure(() => msgpack.decode(msgpack.encode(rich)), iterations),
);
row(
  'integer',
  'larder json',
  measure(() => json.decode(json.encode(123456)), iterations),
);

for (const algorithm of ['zlib', 'gzip', 'brotli'] as const) {
  const codec = createCodec({ compress: { algorithm } });
  const value = shapes[2][1];
  const size = (codec.encode(value) as Buffer).length;
  row(
    `10 KiB, ${algorithm} → ${size} B`,
    'larder json',
    measure(() => codec.decode(codec.encode(value)), 5_000),
  );
}

console.log(`node ${process.version}, ${iterations} iterations per small-value round`);
console.table(rows);
