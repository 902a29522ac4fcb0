/**
 * Fault: Redis paused (SIGSTOP) for 5 s under load — the sockets stay open and nothing
 * answers, the case a plain connection error never shows. No request may wait longer than
 * the configured command timeout (plus a margin for the machine): the page-cached routes
 * (`ignoreErrors`) still answer without a 5xx, the session route (`/account/devices`, signed
 * in) answers 200 or a fast 503.
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

const PAUSE_MS = 5_000;

test('Redis paused (SIGSTOP) for 5 s under load: no request waits past the command timeout', async (t) => {
  const server = await startStandalone();
  const shop = await storefrontOn(server.url);
  try {
    const run = await outageUnderLoad(shop, {
      begin: () => server.pause(),
      end: () => server.resume(),
      holdMs: PAUSE_MS,
      what: 'pause',
    });
    const { cached, session, cached5xx, refused } = run;
    const figures = {
      requests: cached.length + session.length,
      pauseMs: PAUSE_MS,
      cachedResponses: cached.length,
      cachedDuringPause: cached.filter(run.during).length,
      cached5xx: cached5xx.length,
      cached5xxCauses: causes(cached5xx),
      session503Causes: causes(refused),
      cachedP99MsDuringPause: round(
        percentile(
          cached.filter(run.during).map((s) => s.ms),
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
      hitsResumedMsAfterResume: round(run.resumeMs),
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
    };
    t.diagnostic(
      `faults: SIGSTOP ${PAUSE_MS / 1000} s — slowest request ${figures.slowestRequestMs} ms ` +
        `(command timeout ${COMMAND_TIMEOUT_MS} ms); ${figures.cached5xx} of ${figures.cachedResponses} cached ` +
        `responses 5xx (${figures.cachedDuringPause} during the pause, p99 ${figures.cachedP99MsDuringPause} ms); ` +
        `session route ${figures.session503} × 503, p99 ${figures.session503P99Ms} ms; ` +
        `hits resumed ${figures.hitsResumedMsAfterResume} ms after SIGCONT`,
    );
    await recordFigures('sigstop', figures);

    await t.test('the page-cached routes answer throughout, no 5xx (ignoreErrors)', () => {
      assert.ok(figures.cachedDuringPause > 0, 'the cached routes were asked while Redis was paused');
      assert.equal(cached5xx.length, 0, `cached routes answered 5xx: ${JSON.stringify(cached5xx[0])}`);
    });
    await t.test('the session route answers 200, or 503 with a message that says what is down', () => {
      assert.ok(refused.length > 0, 'the session route was refused while Redis was paused');
      for (const s of session) assert.ok(s.status === 200 || s.status === 503, `session route: ${s.status}`);
      for (const s of refused)
        assert.match(s.body ?? '', /unavailable|not answering|could not connect|no reply/i);
    });
    await t.test(`no request waited past the command timeout + ${MARGIN_MS} ms`, () => {
      assert.ok(
        run.slowestMs < COMMAND_TIMEOUT_MS + MARGIN_MS,
        `a request waited ${round(run.slowestMs)} ms, over the ${COMMAND_TIMEOUT_MS} ms command timeout + ${MARGIN_MS} ms`,
      );
    });
  } finally {
    server.resume();
    await shop.close();
    await server.stop();
  }
});
