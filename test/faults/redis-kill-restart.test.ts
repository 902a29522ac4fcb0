/**
 * Fault: Redis killed (SIGKILL) and restarted under load. The page-cached storefront routes
 * (cache with `ignoreErrors`) keep answering — no 5xx; the session route (`/account/devices`,
 * signed in) answers 503 with a message that says which server is unavailable, within the
 * command timeout (never a hang); after the restart, page-cache hits resume, and the time
 * that took is measured.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startStandalone } from '../support/redis-server.js';
import {
  COMMAND_TIMEOUT_MS,
  causes,
  MARGIN_MS,
  outageUnderLoad,
  percentile,
  recordFigures,
  round,
  storefrontOn,
} from './support.js';

test('Redis killed and restarted under load: cached routes 0 5xx, sessions 503 fast, hits resume', async (t) => {
  const server = await startStandalone();
  const shop = await storefrontOn(server.url);
  try {
    const run = await outageUnderLoad(shop, {
      begin: () => server.kill(),
      end: () => server.restart(),
      holdMs: 2_000,
      what: 'restart',
    });
    const { cached, session, cached5xx, refused } = run;
    const figures = {
      requests: cached.length + session.length,
      cachedResponses: cached.length,
      cachedDuringOutage: cached.filter(run.during).length,
      cached5xx: cached5xx.length,
      cached5xxCauses: causes(cached5xx),
      session503Causes: causes(refused),
      cachedP99Ms: round(
        percentile(
          cached.map((s) => s.ms),
          99,
        ),
      ),
      cachedMaxMs: round(Math.max(...cached.map((s) => s.ms))),
      sessionResponses: session.length,
      session503: refused.length,
      session503P99Ms: round(
        percentile(
          refused.map((s) => s.ms),
          99,
        ),
      ),
      sessionMaxMs: round(Math.max(...session.map((s) => s.ms))),
      slowestRequestMs: round(run.slowestMs),
      hitsResumedMsAfterRestart: round(run.resumeMs),
      outageMs: round(run.outageMs),
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
    };
    t.diagnostic(
      `faults: kill/restart — ${figures.cached5xx} of ${figures.cachedResponses} cached responses 5xx ` +
        `(${figures.cachedDuringOutage} during the ${figures.outageMs} ms outage); session route answered ` +
        `${figures.session503} × 503 in p99 ${figures.session503P99Ms} ms (max ${figures.sessionMaxMs} ms); ` +
        `hits resumed ${figures.hitsResumedMsAfterRestart} ms after restart`,
    );
    await recordFigures('kill-restart', figures);

    await t.test('the page-cached routes answer throughout, no 5xx (ignoreErrors)', () => {
      assert.ok(figures.cachedDuringOutage > 0, 'the cached routes were asked while Redis was down');
      assert.equal(cached5xx.length, 0, `cached routes answered 5xx: ${JSON.stringify(cached5xx[0])}`);
    });
    await t.test('the session route answers 200, or 503 with a message that says what is down', () => {
      assert.ok(refused.length > 0, 'the session route was refused while Redis was down');
      // The restarted server is empty: the session is gone, and the page sends the visitor to sign in.
      const allowed = (s: { status: number; at: number }) =>
        s.status === 200 || s.status === 503 || (s.status === 303 && s.at >= run.beganAt);
      for (const s of session) assert.ok(allowed(s), `session route: ${s.status} at ${round(s.at)} ms`);
      for (const s of refused)
        assert.match(s.body ?? '', /unavailable|not answering|could not connect|no reply/i);
    });
    await t.test('page-cache hits resume within 2 s of the restart', () => {
      assert.ok(run.resumeMs < 2_000, `hits resumed ${round(run.resumeMs)} ms after the restart`);
    });
    await t.test(`no request waited past the command timeout + ${MARGIN_MS} ms`, () => {
      assert.ok(
        run.slowestMs < COMMAND_TIMEOUT_MS + MARGIN_MS,
        `a request waited ${round(run.slowestMs)} ms, over the ${COMMAND_TIMEOUT_MS} ms command timeout + ${MARGIN_MS} ms`,
      );
    });
  } finally {
    await shop.close();
    await server.stop();
  }
});
