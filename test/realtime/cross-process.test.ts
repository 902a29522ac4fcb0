/**
 * Event streams across processes: two app processes (child processes, each with its own
 * Larder, serving `web.events()` — one on Express, one on Fastify), an SSE client on each,
 * events sent from the test process and from both apps; on Redis standalone and Cluster.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { openSse, type SseClient } from './sse-client.js';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sse-child-main.ts');

interface App {
  base: string;
  send(data: unknown): Promise<string>;
  close(): Promise<void>;
}

function startApp(url: string, channel: string, adapter: string): Promise<App> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, LARDER_SSE_URL: url, LARDER_SSE_CHANNEL: channel, LARDER_SSE_ADAPTER: adapter },
  });
  let next = 0;
  const pending = new Map<number, (m: { ok: boolean; value?: unknown; error?: string }) => void>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the app process did not start within 30 s'));
    }, 30_000);
    child.once('exit', (code) => reject(new Error(`the app process exited with ${code}`)));
    child.on('message', (m: { ready?: boolean; port?: number; id?: number; ok: boolean }) => {
      if (m.ready) {
        clearTimeout(timer);
        const call = (op: string, data?: unknown) =>
          new Promise<unknown>((ok, fail) => {
            const id = next++;
            pending.set(id, (r) => (r.ok ? ok(r.value) : fail(new Error(r.error))));
            child.send({ id, op, data });
          });
        resolve({
          base: `http://127.0.0.1:${m.port}`,
          send: (data) => call('send', data) as Promise<string>,
          close: async () => {
            if (child.connected) await call('close').catch(() => {});
            const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
            await exited;
            clearTimeout(kill);
          },
        });
        return;
      }
      if (m.id !== undefined) {
        pending.get(m.id)?.(m as { ok: boolean });
        pending.delete(m.id);
      }
    });
  });
}

for (const target of ['standalone', 'cluster'] as const) {
  describe(`event streams across processes (${target})`, () => {
    const channel = uniquePrefix('xproc');
    let larder: Larder;
    let apps: App[];
    const clients: SseClient[] = [];
    const connect = async (app: App, lastEventId?: string) => {
      const client = await openSse(`${app.base}/events`, lastEventId === undefined ? {} : { lastEventId });
      clients.push(client);
      await client.waitFor((c) => c.lastEventId !== '');
      return client;
    };

    before(async () => {
      const url = redisUrlFor(target)!;
      larder = createLarder({ logger: false, redis: url }, {});
      apps = await Promise.all([startApp(url, channel, 'express'), startApp(url, channel, 'fastify')]);
    });
    after(async () => {
      for (const client of clients) client.close();
      await Promise.all(apps.map((a) => a.close()));
      await larder.close();
    });

    test('an event sent in any process reaches the clients of every process, in order, once', async () => {
      const [a, b] = [await connect(apps[0]!), await connect(apps[1]!)];
      const sent: string[] = [];
      for (let i = 0; i < 30; i++) {
        const from = i % 3;
        const data = { i };
        sent.push(
          from === 0 ? await larder.pubsub.sendEvent(channel, data) : await apps[from - 1]!.send(data),
        );
      }
      await a.waitFor(30);
      await b.waitFor(30);
      await new Promise((r) => setTimeout(r, 50));
      for (const client of [a, b]) {
        assert.deepEqual(
          client.events.map((e) => e.id),
          sent,
        );
        assert.deepEqual(
          client.events.map((e) => JSON.parse(e.data).i),
          sent.map((_, i) => i),
        );
      }
      a.close();
      b.close();
    });

    test('a client that moves to the other process with Last-Event-ID gets what it missed, once', async () => {
      const first = await connect(apps[0]!);
      const sent: string[] = [];
      for (let i = 0; i < 5; i++) sent.push(await larder.pubsub.sendEvent(channel, { i }));
      await first.waitFor(5);
      first.close();
      for (let i = 5; i < 10; i++) sent.push(await apps[0]!.send({ i }));
      // Sends continue while the client reconnects to the other process and replays.
      let sending = true;
      const during = (async () => {
        for (let i = 10; sending && i < 300; i++) sent.push(await apps[1]!.send({ i }));
      })();
      const moved = await connect(apps[1]!, first.lastEventId);
      await moved.waitFor(5);
      sending = false;
      await during;
      await moved.waitFor(sent.length - 5, 20_000);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(
        moved.events.map((e) => e.id),
        sent.slice(5),
      );
      moved.close();
    });
  });
}
