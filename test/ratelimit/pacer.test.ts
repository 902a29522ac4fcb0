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

/** A connection never connected: pacing only keys its state by the connection object. */
const connection = () => new RedisConnection(parseLocation('redis://127.0.0.1:1', 'redis'));
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('rate-limit store pacing', () => {
  it(`sends ${PACE} calls in a turn and the rest ${PACE} a turn later, in order`, async () => {
    const conn = connection();
    const sent: number[] = [];
    const calls = Array.from({ length: 2 * PACE + 3 }, (_, i) =>
      paced(conn, () => {
        sent.push(i);
        return Promise.resolve(i * 10);
      }),
    );
    assert.equal(sent.length, PACE, 'this turn sends PACE calls');
    await nextTurn();
    assert.equal(sent.length, 2 * PACE, 'the next turn sends the next PACE');
    await nextTurn();
    assert.equal(sent.length, 2 * PACE + 3);
    assert.deepEqual(
      sent,
      calls.map((_, i) => i),
      'in the order they were made',
    );
    assert.deepEqual(
      await Promise.all(calls),
      calls.map((_, i) => i * 10),
    );
  });

  it('a call made while others wait goes behind them, even in a fresh turn', async () => {
    const conn = connection();
    const sent: string[] = [];
    const send = (name: string) => () => {
      sent.push(name);
      return Promise.resolve(name);
    };
    const first = Array.from({ length: PACE + 1 }, (_, i) => paced(conn, send(`a${i}`)));
    await nextTurn();
    // a<PACE> went out at the start of this turn: PACE - 1 more fit before the next.
    const second = Array.from({ length: PACE }, (_, i) => paced(conn, send(`b${i}`)));
    assert.equal(sent.length, 2 * PACE);
    await Promise.all([...first, ...second]);
    assert.deepEqual(sent, [
      ...Array.from({ length: PACE + 1 }, (_, i) => `a${i}`),
      ...Array.from({ length: PACE }, (_, i) => `b${i}`),
    ]);
  });

  it('connections are paced apart', () => {
    const [one, two] = [connection(), connection()];
    let sent = 0;
    const send = () => {
      sent++;
      return Promise.resolve();
    };
    for (let i = 0; i < PACE; i++) paced(one, send);
    for (let i = 0; i < PACE; i++) paced(two, send);
    assert.equal(sent, 2 * PACE);
  });

  it('a send that throws or rejects fails its own call only, sent now or later', async () => {
    const conn = connection();
    const outcomes = Array.from({ length: PACE + 4 }, (_, i) =>
      paced(conn, () => {
        if (i % 4 === 1) throw new Error(`threw ${i}`);
        if (i % 4 === 2) return Promise.reject(new Error(`rejected ${i}`));
        return Promise.resolve(i);
      }),
    );
    const settled = await Promise.allSettled(outcomes);
    settled.forEach((s, i) => {
      if (i % 4 === 1) assert.deepEqual(s, { status: 'rejected', reason: new Error(`threw ${i}`) });
      else if (i % 4 === 2) assert.deepEqual(s, { status: 'rejected', reason: new Error(`rejected ${i}`) });
      else assert.deepEqual(s, { status: 'fulfilled', value: i });
    });
  });

  it('a turn with no calls leaves none pending: the next call goes out at once', async () => {
    const conn = connection();
    let sent = 0;
    const send = () => {
      sent++;
      return Promise.resolve();
    };
    await Promise.all(Array.from({ length: PACE }, () => paced(conn, send)));
    await nextTurn();
    await nextTurn();
    paced(conn, send);
    assert.equal(sent, PACE + 1);
  });
});
