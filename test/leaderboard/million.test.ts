/**
 * DESIGN §7: on a 1M-member board in Redis, `top(10)` and `rank` answer in one round trip
 * each — for every ranking, and `around` too. A redis-server of its own (so its command
 * counters see only this test) is loaded with 1,000,000 members by a Lua loop (a few
 * seconds), then each call is counted twice: commands the client sent (the connection's
 * `send`), and `INFO commandstats` deltas on the server (exactly one top-level command: a
 * ZRANGE / ZREVRANK, or one EVALSHA whose inner commands the counters also list).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLarder, type Larder } from '../../src/larder.js';
import type { Leaderboard } from '../../src/leaderboard/index.js';
import { DISTINCT_SCORES, loadBoard, MILLION } from '../support/leaderboard-load.js';
import { type RedisServerHandle, startStandalone } from '../support/redis-server.js';

const N = MILLION;
const DISTINCT = DISTINCT_SCORES; // member i has score i % DISTINCT: ten members per score
const NAME = 'million';
const KEY = `lb:{${NAME}}:all`;

function parseStats(info: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(match[1], Number(match[2]));
  return out;
}

describe('a 1M-member board in Redis', () => {
  let server: RedisServerHandle;
  let larder: Larder;
  let sent: string[] = [];

  before(async () => {
    server = await startStandalone();
    larder = createLarder({ redis: server.url, logger: false }, {});
    const conn = larder.connection();
    await loadBoard((args) => conn.send(args, { timeout: 30_000 }), KEY);
    assert.equal(await conn.send(['ZCARD', KEY]), N);
    const send = conn.send.bind(conn);
    conn.send = ((args: Array<string | Buffer>, options?: object) => {
      sent.push(String(args[0]));
      return send(args, options);
    }) as typeof conn.send;
  });
  after(async () => {
    await larder?.close();
    await server?.stop();
  });

  /** Runs `call` once to warm (scripts get loaded), then counts what the second run sends. */
  async function roundTrips<T>(
    call: () => Promise<T>,
  ): Promise<{ value: T; sent: string[]; server: Map<string, number> }> {
    await call();
    const before = parseStats(String(await server.command('INFO', 'commandstats')));
    sent = [];
    const value = await call();
    const mine = sent;
    const afterStats = parseStats(String(await server.command('INFO', 'commandstats')));
    const delta = new Map<string, number>();
    for (const [cmd, calls] of afterStats) {
      const d = calls - (before.get(cmd) ?? 0) - (cmd === 'info' ? 1 : 0);
      if (d) delta.set(cmd, d);
    }
    return { value, sent: mine, server: delta };
  }

  // Best first: score 99999 held by m99999, m199999, …, m999999, in reverse member order.
  const topTen = Array.from({ length: 10 }, (_, k) => `m${k * DISTINCT + DISTINCT - 1}`)
    .sort()
    .reverse();

  const boards: Array<[string, () => Leaderboard]> = [
    ['ordinal', () => larder.leaderboard(NAME)],
    ['competition', () => larder.leaderboard(NAME, { ranking: 'competition' })],
    ['dense', () => larder.leaderboard(NAME, { ranking: 'dense' })],
  ];

  for (const [ranking, board] of boards) {
    it(`top(10), ${ranking}: one round trip`, async () => {
      const { value, sent, server } = await roundTrips(() => board().top(10));
      assert.deepEqual(
        value.map((e) => e.member),
        topTen,
      );
      assert.ok(value.every((e) => e.score === DISTINCT - 1));
      assert.deepEqual(
        value.map((e) => e.rank),
        ranking === 'ordinal' ? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] : Array(10).fill(1),
      );
      assert.equal(sent.length, 1, `commands sent: ${sent}`);
      const top = ranking === 'ordinal' ? 'zrange' : 'evalsha';
      assert.equal(server.get(top), 1, `server saw one ${top}: ${[...server]}`);
      if (ranking === 'ordinal') assert.deepEqual([...server], [['zrange', 1]]);
    });

    it(`rank of a low member, ${ranking}: one round trip`, async () => {
      // m10 has score 10: 99,989 scores above it, each held by ten members.
      const { value, sent, server } = await roundTrips(() => board().rank('m10'));
      // Ordinal: 999,890 members score higher; of the ten with score 10 (m10, m100010, …,
      // m900010) reverse member order puts m10 last.
      assert.equal(value, { ordinal: 999_900, competition: 999_891, dense: 99_990 }[ranking]);
      assert.equal(sent.length, 1, `commands sent: ${sent}`);
      const cmd = ranking === 'ordinal' ? 'zrevrank' : 'evalsha';
      assert.equal(server.get(cmd), 1, `server saw one ${cmd}: ${[...server]}`);
    });

    it(`around(member, 5), ${ranking}: one round trip`, async () => {
      const { value, sent, server } = await roundTrips(() => board().around('m500000', 5));
      assert.equal(value.length, 11);
      assert.equal(value[5].member, 'm500000');
      assert.equal(sent.length, 1);
      assert.equal(server.get('evalsha'), 1);
    });
  }
});
