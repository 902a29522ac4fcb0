/**
 * @module bench/events — publish → SSE delivery latency across two processes on loopback.
 *
 * The bench process sends events with `larder.pubsub.sendEvent` (one Lua call: XADD + PUBLISH)
 * and reads them as a browser would, over SSE, from an app process (a child running Express
 * with `web.events()`, its own Larder and subscriber connection). Each event carries its send
 * time; latency is receive time minus send time (both `performance.timeOrigin + now()`, one
 * machine). Scenarios: one client, events one at a time; 50 clients on the app process, the
 * latency to the last of them. Floor: raw node-redis PUBLISH → SUBSCRIBE inside one process.
 * Bounded: at most `count` events and `durationMs` per scenario.
 *
 * `npm run bench -- events [--duration=MS]` (default 10 s per scenario, 2000 events).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLarder } from 'larder';
import { createClient } from 'redis';
import { openSse, type SseClient } from '../test/realtime/sse-client.js';
import { type BenchOptions, type BenchResult, invocation, machineInfo, startBenchRedis } from './support.js';

const CHILD = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'test',
  'realtime',
  'sse-child-main.ts',
);
const now = () => performance.timeOrigin + performance.now();

interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  return {
    count: sorted.length,
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    p99: round(at(0.99)),
    max: round(sorted.at(-1)!),
  };
}

function startApp(url: string, channel: string): Promise<{ base: string; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, LARDER_SSE_URL: url, LARDER_SSE_CHANNEL: channel, LARDER_SSE_ADAPTER: 'express' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the app process exited with ${code}`)));
    child.on('message', (m: { ready?: boolean; port?: number }) => {
      if (!m.ready) return;
      resolve({
        base: `http://127.0.0.1:${m.port}`,
        stop: async () => {
          child.send({ id: 0, op: 'close' });
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
        },
      });
    });
  });
}

/** Sends events one at a time; each is timed until every client has it. */
async function run1(
  send: (sentAt: number) => Promise<unknown>,
  clients: SseClient[],
  count: number,
  durationMs: number,
): Promise<number[]> {
  const samples: number[] = [];
  const started = now();
  for (let i = 0; i < count && now() - started < durationMs; i++) {
    const target = clients.map((c) => c.events.length + 1);
    const sentAt = now();
    await send(sentAt);
    await Promise.all(clients.map((c, k) => c.waitFor(target[k]!, 10_000)));
    samples.push(now() - sentAt);
  }
  return samples;
}

export async function run(options: BenchOptions = {}): Promise<BenchResult> {
  const log = options.log ?? console.log;
  const durationMs = options.durationMs ?? 10_000;
  const count = 2000;
  const redis = await startBenchRedis();
  const channel = 'bench-events';
  const larder = createLarder({ logger: false, redis: redis.url }, {});
  const app = await startApp(redis.url, channel);
  const results: Record<string, Percentiles> = {};
  try {
    log(
      `publish → SSE delivery latency (ms), Redis ${redis.version}, ${count} events or ${durationMs} ms per scenario`,
    );
    const send = (sentAt: number) => larder.pubsub.sendEvent(channel, { sentAt });

    const one = await openSse(`${app.base}/events`);
    await one.waitFor((c) => c.lastEventId !== '');
    await run1(send, [one], 100, durationMs); // warm-up
    results['1 client'] = percentiles(await run1(send, [one], count, durationMs));
    one.close();

    const many = await Promise.all(Array.from({ length: 50 }, () => openSse(`${app.base}/events`)));
    await Promise.all(many.map((c) => c.waitFor((x) => x.lastEventId !== '')));
    await run1(send, many, 50, durationMs);
    results['50 clients (last to get it)'] = percentiles(await run1(send, many, count, durationMs));
    for (const c of many) c.close();

    // Floor: raw node-redis pub/sub in one process (no stream, no HTTP).
    const pub = createClient({ url: redis.url });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    let wake: (() => void) | undefined;
    await sub.subscribe('raw', () => wake?.());
    const raw: number[] = [];
    const started = now();
    for (let i = 0; i < count + 100 && now() - started < durationMs; i++) {
      const got = new Promise<void>((r) => {
        wake = r;
      });
      const sentAt = now();
      await pub.publish('raw', 'x');
      await got;
      if (i >= 100) raw.push(now() - sentAt);
    }
    results['raw node-redis PUBLISH → SUBSCRIBE (floor)'] = percentiles(raw);
    await Promise.all([pub.close(), sub.close()]);

    for (const [name, p] of Object.entries(results))
      log(`  ${name.padEnd(44)} n=${p.count}  p50 ${p.p50}  p90 ${p.p90}  p99 ${p.p99}  max ${p.max}`);
  } finally {
    await app.stop();
    await larder.close();
    await redis.stop();
  }
  const machine = machineInfo(redis.version);
  log(`load average ${machine.loadAverage}; command: ${invocation()}`);
  return { name: 'events', command: invocation(), machine, latencyMs: results };
}
