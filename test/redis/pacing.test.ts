/**
 * A connection's pacing (PACE in src/redis/connection.ts): at most PACE calls a turn are
 * written, the rest in later turns, in the order they were made, each answered as its own
 * command answers — on a real redis-server. What pacing decides is when a call's command
 * function runs, so each call records that; turns are counted with `setImmediate`, never
 * with a clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseLocation } from '../../src/config/location.js';
import { PACE, RedisConnection } from '../../src/redis/connection.js';
import { redisUrlFor } from '../support/conformance.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('connection pacing', () => {
  let conn: RedisConnection;
  const prefix = `pacing:${process.pid}:`;

  before(async () => {
    conn = new RedisConnection(parseLocation(redisUrlFor('standalone')!, 'redis', { commandTimeout: 5000 }));
    await conn.ready();
    await nextTurn();
  });
  after(() => conn.close());

  /** INCR of `key`, recording in `sent` when the command is handed to the client. */
  const incr = (sent: string[], key: string) =>
    conn.run((c) => {
      sent.push(key);
      return c.incr(prefix + key) as Promise<number>;
    });

  it(`writes ${PACE} calls in a turn and the rest ${PACE} a turn later, in order, each with its own reply`, async () => {
    const sent: string[] = [];
    const keys = Array.from({ length: 2 * PACE + 3 }, (_, i) => `a${i}`);
    const calls = keys.map((key) => incr(sent, key));
    assert.equal(sent.length, PACE, 'this turn writes PACE calls');
    await nextTurn();
    assert.equal(sent.length, 2 * PACE, 'the next turn the next PACE');
    const replies = await Promise.all(calls);
    assert.deepEqual(sent, keys, 'every call, in the order made');
    assert.deepEqual(
      replies,
      keys.map(() => 1),
      'each key incremented once',
    );
  });

  it('a call made while others wait goes behind them, even in a fresh turn', async () => {
    const sent: string[] = [];
    const first = Array.from({ length: PACE + 1 }, (_, i) => incr(sent, `b${i}`));
    await nextTurn();
    // b<PACE> went out at the start of this turn: PACE - 1 more fit before the next.
    const second = Array.from({ length: PACE }, (_, i) => incr(sent, `c${i}`));
    assert.equal(sent.length, 2 * PACE);
    await Promise.all([...first, ...second]);
    assert.deepEqual(sent, [
      ...Array.from({ length: PACE + 1 }, (_, i) => `b${i}`),
      ...Array.from({ length: PACE }, (_, i) => `c${i}`),
    ]);
  });

  it('writes to one key keep their order across turns (a read after writes sees them all)', async () => {
    const key = `${prefix}order`;
    const writes = Array.from({ length: 3 * PACE }, (_, i) => conn.run((c) => c.set(key, String(i))));
    const read = conn.run((c) => c.get(key) as Promise<string>);
    await Promise.all(writes);
    assert.equal(await read, String(3 * PACE - 1));
  });

  it('a call that fails fails alone, written now or later', async () => {
    await conn.run((c) => c.set(`${prefix}text`, 'not a number'));
    await nextTurn();
    const calls = Array.from({ length: PACE + 4 }, (_, i) =>
      conn.run((c) => (i % 3 === 1 ? c.incr(`${prefix}text`) : c.incr(`${prefix}n${i}`)) as Promise<number>),
    );
    const settled = await Promise.allSettled(calls);
    settled.forEach((s, i) => {
      if (i % 3 === 1) {
        assert.equal(s.status, 'rejected', `call ${i}`);
        assert.match(String((s as PromiseRejectedResult).reason?.message), /not an integer/);
      } else assert.deepEqual(s, { status: 'fulfilled', value: 1 }, `call ${i}`);
    });
  });
});
