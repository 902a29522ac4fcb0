/**
 * Page-cache regressions from the code review of session 1: a response destroyed before it
 * ended must not hang later requests for its URL, and Vary values must not run together
 * into another client's key.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import express from 'express';
import { adapt } from '../../src/adapters/express.js';
import { createLarder } from '../../src/larder.js';

async function serve(app: ReturnType<typeof express>) {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('a response destroyed without end() does not hang the next requests for its URL', async () => {
  const larder = createLarder({ logger: false }, {});
  const web = adapt(larder);
  const app = express();
  let calls = 0;
  app.get('/flaky', web.cachePage(60), (_req, res) => {
    calls++;
    if (calls === 1) res.destroy();
    else res.send('fine');
  });
  const { base, server } = await serve(app);
  try {
    await assert.rejects(fetch(`${base}/flaky`));
    const second = await fetch(`${base}/flaky`, { signal: AbortSignal.timeout(3000) });
    assert.equal(await second.text(), 'fine');
    assert.equal(calls, 2);
  } finally {
    server.close();
    await larder.close();
  }
});

test('Vary values cannot be run together to land on another client’s key', async () => {
  const larder = createLarder({ logger: false }, {});
  const web = adapt(larder);
  const app = express();
  app.get('/page', web.cachePage(60), web.varyOnHeaders('Accept-Language', 'X-Region'), (req, res) => {
    res.send(`page for ${req.get('accept-language')}/${req.get('x-region') ?? '-'}`);
  });
  const { base, server } = await serve(app);
  try {
    // The attacker's values concatenate to the victim's ("enus" + nothing = "en" + "us").
    await fetch(`${base}/page`, { headers: { 'accept-language': 'en', 'x-region': 'us' } });
    await fetch(`${base}/page`, { headers: { 'accept-language': 'enus' } });
    const victim = await fetch(`${base}/page`, { headers: { 'accept-language': 'en', 'x-region': 'us' } });
    assert.equal(await victim.text(), 'page for en/us');
    const attacker = await fetch(`${base}/page`, { headers: { 'accept-language': 'enus' } });
    assert.equal(await attacker.text(), 'page for enus/-');
  } finally {
    server.close();
    await larder.close();
  }
});

test('larder.invalidatePage(url, { headers }) is the DESIGN §4.2 form of invalidatePage', async () => {
  const larder = createLarder({ logger: false }, {});
  const web = adapt(larder);
  const app = express();
  let calls = 0;
  app.get('/p', web.cachePage(60), (_req, res) => {
    calls++;
    res.send(`p #${calls}`);
  });
  const { base, server } = await serve(app);
  try {
    await fetch(`${base}/p`);
    assert.equal(await (await fetch(`${base}/p`)).text(), 'p #1');
    assert.equal(await larder.invalidatePage(`${base}/p`), true);
    assert.equal(await (await fetch(`${base}/p`)).text(), 'p #2');
  } finally {
    server.close();
    await larder.close();
  }
});
