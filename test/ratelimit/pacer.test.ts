/**
 * The store's pacing (src/ratelimit/pacer.ts): at most PACE calls per event-loop turn go out on
 * one connection, the rest in later turns, in the order they were made, each answered as its own
 * send answers. Turns are counted with `setImmediate`, never with a clock. Exactness of paced
 * checks on real Redis is test/ratelimit/exactness.test.ts (2,000 calls fired at once).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLocation } from '../../src/config/location.js';
import { PACE, paced } from '../../src/ratelimit/pacer.js';
import { RedisConnection } from '../../src/redis/connection.js';
import type { LuaScript } from '../../src/redis/script.js';

/** A connection never connected: pacing only keys its state by the connection object. */
const connection = () => new RedisConnection(parseLocation('redis://127.0.0.1:1', 'redis'));
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A script that records when it is run (with its first key) and answers `answer(key)`: what
 * pacing decides is when `run` is called, which a real server cannot show without a clock.
 */
function recorder(answer: (key: string) => Promise<unknown> = (key) => Promise.resolve(key)) {
  const sent: string[] = [];
  const script: LuaScript = {
    source: 'return KEYS[1]',
    sha1: '',
    numberOfKeys: 1,
    run<T>(_conn: RedisConnection, keys: ReadonlyArray<string | Buffer>): Promise<T> {
      sent.push(String(keys[0]));
      return answer(String(keys[0])) as Promise<T>;
    },
  };
  return { sent, script };
}

describe('rate-limit store pacing', () => {
  it(`sends ${PACE} calls in a turn and the rest ${PACE} a turn later, in order`, async () => {
    const conn = connection();
    const { sent, script } = recorder();
    const keys = Array.from({ length: 2 * PACE + 3 }, (_, i) => `k${i}`);
    const calls = keys.map((key) => paced(conn, script, [key], []));
    assert.equal(sent.length, PACE, 'this turn sends PACE calls');
    await nextTurn();
    assert.equal(sent.length, 2 * PACE, 'the next turn sends the next PACE');
    await nextTurn();
    assert.deepEqual(sent, keys, 'every call, in the order they were made');
    assert.deepEqual(await Promise.all(calls), keys, 'each answered with its own reply');
  });

  it('a call made while others wait goes behind them, even in a fresh turn', async () => {
    const conn = connection();
    const { sent, script } = recorder();
    const first = Array.from({ length: PACE + 1 }, (_, i) => paced(conn, script, [`a${i}`], []));
    await nextTurn();
    // a<PACE> went out at the start of this turn: PACE - 1 more fit before the next.
    const second = Array.from({ length: PACE }, (_, i) => paced(conn, script, [`b${i}`], []));
    assert.equal(sent.length, 2 * PACE);
    await Promise.all([...first, ...second]);
    assert.deepEqual(sent, [
      ...Array.from({ length: PACE + 1 }, (_, i) => `a${i}`),
      ...Array.from({ length: PACE }, (_, i) => `b${i}`),
    ]);
  });

  it('connections are paced apart', () => {
    const { sent, script } = recorder();
    for (const conn of [connection(), connection()])
      for (let i = 0; i < PACE; i++) paced(conn, script, [`k${i}`], []);
    assert.equal(sent.length, 2 * PACE);
  });

  it('a call that fails fails alone, sent now or later', async () => {
    const conn = connection();
    const { script } = recorder((key) =>
      Number(key) % 3 === 1 ? Promise.reject(new Error(`failed ${key}`)) : Promise.resolve(key),
    );
    const keys = Array.from({ length: PACE + 4 }, (_, i) => String(i));
    const settled = await Promise.allSettled(keys.map((key) => paced(conn, script, [key], [])));
    settled.forEach((s, i) => {
      if (i % 3 === 1) assert.deepEqual(s, { status: 'rejected', reason: new Error(`failed ${i}`) });
      else assert.deepEqual(s, { status: 'fulfilled', value: String(i) });
    });
  });

  it('a turn with no calls leaves none pending: the next call goes out at once', async () => {
    const conn = connection();
    const { sent, script } = recorder();
    await Promise.all(Array.from({ length: PACE }, (_, i) => paced(conn, script, [`k${i}`], [])));
    await nextTurn();
    await nextTurn();
    paced(conn, script, ['last'], []);
    assert.equal(sent.length, PACE + 1);
  });
});
