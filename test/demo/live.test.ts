/**
 * The storefront's live side (issue 9's demo): checkout sends a "just bought" event that
 * every open page follows over SSE (replayed after a reconnect with Last-Event-ID), and feeds
 * the weekly best-sellers and top-customers boards shown at /boards — on the embedded
 * default and on Redis. Then in Chromium: an order placed in one browser context shows up as
 * a notification in another.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { CHROMIUM, client, serve } from './support.js';

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** Follows `/events` (from `lastEventId` if given) and collects its events until `stop()`. */
function follow(base: string, lastEventId?: string) {
  const events: SseEvent[] = [];
  const controller = new AbortController();
  const done = (async () => {
    const res = await fetch(`${base}/events`, {
      signal: controller.signal,
      headers: lastEventId ? { 'last-event-id': lastEventId } : {},
    });
    assert.equal(res.headers.get('content-type')?.startsWith('text/event-stream'), true);
    const decoder = new TextDecoder();
    let text = '';
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        let end = text.indexOf('\n\n');
        while (end >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const event: SseEvent = {};
          for (const line of block.split('\n')) {
            const [field, ...rest] = line.split(':');
            const value = rest.join(':').replace(/^ /, '');
            if (field === 'id' || field === 'event' || field === 'data') event[field] = value;
          }
          if (event.event || event.data) events.push(event);
          end = text.indexOf('\n\n');
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  })();
  const next = async (match: (e: SseEvent) => boolean, boundMs = 10_000): Promise<SseEvent> => {
    const until = Date.now() + boundMs;
    for (;;) {
      const found = events.find(match);
      if (found) return found;
      assert.ok(Date.now() < until, `no matching event within ${boundMs} ms; got ${JSON.stringify(events)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    events,
    next,
    stop: async () => {
      controller.abort();
      await done.catch(() => {});
    },
  };
}

const boughtPress = (e: SseEvent) => e.event === 'bought' && /French press/.test(e.data ?? '');

for (const mode of ['memory', 'redis'] as const) {
  test(`live (${mode}): checkout notifies every page, replays after a reconnect, feeds the weekly boards`, async () => {
    const { base, close } = await serve(mode);
    const feed = follow(base);
    try {
      const shopper = client(base);
      const user = `buyer${Date.now() % 100000}`;
      assert.equal(
        (await shopper.post('/login', { username: user, password: [...user].reverse().join('') })).status,
        303,
      );
      await shopper.post('/cart/add', { sku: 'press' });
      await shopper.post('/cart/add', { sku: 'press' });
      assert.equal((await shopper.post('/checkout')).status, 303);
      const first = await feed.next(boughtPress);
      assert.ok(first.id, 'every event has an id');
      await feed.stop();

      // Offline: another order. Reconnecting from the first event's id replays it, once.
      await shopper.post('/cart/add', { sku: 'kettle' });
      await shopper.post('/checkout');
      const resumed = follow(base, first.id);
      try {
        const replayed = await resumed.next(
          (e) => e.event === 'bought' && /Stovetop kettle/.test(e.data ?? ''),
        );
        assert.ok(replayed.id && replayed.id !== first.id);
        assert.equal(
          resumed.events.filter((e) => e.id === first.id).length,
          0,
          'nothing before the id again',
        );
      } finally {
        await resumed.stop();
      }

      const boards = await (await shopper.request('/boards')).text();
      assert.match(boards, /id="best-sellers"[\s\S]*French press/);
      assert.match(boards, new RegExp(`id="top-customers"[\\s\\S]*${user}`));
    } finally {
      await feed.stop();
      await close();
    }
  });
}

test('in Chromium (memory): an order placed in one context pops up in another', async () => {
  const { base, close } = await serve('memory');
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const watcher = await (await browser.newContext({ baseURL: base })).newPage();
    await watcher.goto('/products');
    // Open once the server has answered /events (and followed the channel).
    await watcher.waitForFunction(
      () =>
        (globalThis as unknown as { storefrontEvents?: { readyState: number } }).storefrontEvents
          ?.readyState === 1,
    );
    const buyer = await (await browser.newContext({ baseURL: base })).newPage();
    await buyer.request.post('/cart/add', { form: { sku: 'grinder' } });
    await buyer.goto('/cart');
    await Promise.all([buyer.waitForURL('**/orders/*'), buyer.click('#checkout')]);
    const toast = watcher.locator('#live .bought', { hasText: 'Burr coffee grinder' });
    await toast.waitFor({ timeout: 15_000 });
    assert.match((await toast.textContent()) ?? '', /Someone just bought Burr coffee grinder/);
  } finally {
    await browser?.close();
    await close();
  }
});
