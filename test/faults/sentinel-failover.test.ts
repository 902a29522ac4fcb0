/**
 * Fault: the Sentinel-managed primary killed (SIGKILL) under session write load, with
 * `sessions.durability: 'replicated'` (each write waits for one replica). Every cart
 * addition the storefront acknowledged (303) must be in the session on the new primary
 * afterwards: 0 acknowledged writes lost. The unavailability — the longest stretch with no
 * acknowledged write — is measured and reported, not asserted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLarder } from '../../src/larder.js';
import { uniquePrefix } from '../support/conformance.js';
import { startSentinel } from '../support/redis-server.js';
import { load, percentile, recordFigures, round, serveStorefront, timeUntil } from './support.js';

const CLIENTS = 6;

test('Sentinel failover under session writes (durability replicated): 0 acknowledged writes lost', async (t) => {
  // Two replicas: after the failover the one not promoted follows the new primary, so
  // writes can be acknowledged again without restarting the dead server.
  const sentinel = await startSentinel({ replicas: 2 });
  const prefix = uniquePrefix('faults-failover');
  const larder = createLarder(
    {
      logger: false,
      redis: { url: sentinel.url, commandTimeout: '500ms', connectTimeout: '1s' },
      caches: { default: { backend: 'redis', ignoreErrors: true } },
      sessions: { prefix, durability: 'replicated' },
      rateLimits: { api: { limit: 1_000_000, window: 60 } },
      tasks: { prefix: uniquePrefix('faults-failover-tasks') },
    },
    {},
  );
  const shop = await serveStorefront(larder);
  try {
    const add = (cookie?: string) =>
      fetch(`${shop.base}/cart/add`, {
        method: 'POST',
        redirect: 'manual',
        body: new URLSearchParams({ sku: 'kettle' }),
        headers: cookie ? { cookie } : {},
      });
    // One session per client, created (and acknowledged) before the fault.
    const cookies: string[] = [];
    const acked = new Array<number>(CLIENTS).fill(0);
    const attempted = new Array<number>(CLIENTS).fill(0);
    for (let c = 0; c < CLIENTS; c++) {
      const res = await add();
      assert.equal(res.status, 303, `the first cart addition: ${res.status} ${await res.text()}`);
      cookies.push(
        res.headers
          .getSetCookie()
          .map((line) => line.split(';')[0])
          .join('; '),
      );
      acked[c] += 1;
      attempted[c] += 1;
    }

    let done = false;
    let killedAt = Number.POSITIVE_INFINITY;
    let ackedAfterKill = 0;
    const ackTimes: number[] = [];
    const started = performance.now();
    const traffic = load({
      concurrency: CLIENTS,
      count: 100_000,
      maxMs: 45_000,
      stop: () => done,
      next: (_, worker) => ({
        route: `client-${worker}`,
        url: `${shop.base}/cart/add`,
        init: {
          method: 'POST',
          body: new URLSearchParams({ sku: 'kettle' }),
          headers: { cookie: cookies[worker] },
        },
      }),
      onSample: (sample, worker) => {
        attempted[worker] += 1;
        if (sample.status !== 303) return;
        acked[worker] += 1;
        ackTimes.push(sample.at + sample.ms);
        if (sample.at > killedAt) ackedAfterKill += 1;
      },
    });
    let resumedMs = Number.NaN;
    try {
      await sleep(1_000);
      killedAt = performance.now() - started;
      await sentinel.primary.kill();
      resumedMs = await timeUntil(
        async () => ackedAfterKill >= 20,
        'acknowledged writes after the failover',
        40_000,
      );
      await sleep(1_000);
    } finally {
      done = true;
    }
    const samples = await traffic;

    // Read every session back from the primary the sentinels report now.
    const primary = await sentinel.currentPrimaryHandle();
    const stored = await Promise.all(
      cookies.map(async (cookie) => {
        const id = /sessionid=([^;]+)/.exec(cookie)?.[1];
        return Number(await primary.command('HGET', `${prefix}:${id}`, 'd:qty:kettle'));
      }),
    );
    const lost = stored.reduce((sum, n, c) => sum + Math.max(0, acked[c]! - n), 0);
    ackTimes.sort((a, b) => a - b);
    let longestGap = 0;
    for (let i = 1; i < ackTimes.length; i++)
      longestGap = Math.max(longestGap, ackTimes[i]! - ackTimes[i - 1]!);
    const failed = samples.filter((s) => s.status !== 303);
    const figures = {
      acknowledgedWrites: acked.reduce((a, b) => a + b, 0),
      attemptedWrites: attempted.reduce((a, b) => a + b, 0),
      acknowledgedLost: lost,
      refused: failed.length,
      refusedStatuses: [...new Set(failed.map((s) => s.status))],
      unavailabilityMs: round(longestGap),
      writesResumedMsAfterKill: round(resumedMs),
      refusedP99Ms: round(
        percentile(
          failed.map((s) => s.ms),
          99,
        ),
      ),
      slowestRequestMs: round(Math.max(...samples.map((s) => s.ms))),
      newPrimaryPort: primary.port,
    };
    t.diagnostic(
      `faults: sentinel failover — ${figures.acknowledgedLost} of ${figures.acknowledgedWrites} acknowledged ` +
        `session writes lost (${figures.attemptedWrites} attempted, ${figures.refused} refused with ` +
        `${figures.refusedStatuses.join('/')}); no write acknowledged for ${figures.unavailabilityMs} ms; ` +
        `slowest request ${figures.slowestRequestMs} ms`,
    );
    await recordFigures('sentinel-failover', figures);

    assert.notEqual(primary.port, sentinel.primary.port, 'the sentinels promoted a replica');
    assert.ok(ackedAfterKill > 0, 'writes were acknowledged again after the failover');
    for (let c = 0; c < CLIENTS; c++) {
      assert.ok(stored[c]! >= acked[c]!, `client ${c}: ${acked[c]} acknowledged, ${stored[c]} stored`);
      assert.ok(stored[c]! <= attempted[c]!, `client ${c}: ${stored[c]} stored of ${attempted[c]} attempted`);
    }
    for (const s of failed) assert.equal(s.status, 503, `a refused write answers 503, got ${s.status}`);
  } finally {
    await shop.close();
    await larder.close();
    await sentinel.stop();
  }
});
