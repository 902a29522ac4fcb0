/**
 * Paces the store's script calls on a connection: at most `PACE` go out per event-loop turn,
 * the rest on the next turns, in order.
 *
 * Why (bench/ratelimit.ts, docs/performance.md): node-redis writes every command queued in one
 * turn as one write, from a `setImmediate`, and redis-server runs all it has read (up to 16 KiB)
 * before it answers any of it. With 100 checks in flight on one socket the two processes then
 * take turns, each idle while the other works: a check costs Node's time *plus* Redis's. Sent
 * in slices, Redis answers the first slice while Node is still making the next, and a check
 * costs about the larger of the two. (rate-limiter-flexible gets the same overlap by accident:
 * its full-text EVAL makes each batch larger than Redis's 16 KiB read.)
 *
 * A turn with `PACE` calls or fewer — every sequential caller, any light load — sends each at
 * once, as before. Pacing changes when a call is written, never what it does: each call is still
 * one atomic script and one round trip, and its deadline starts when it is sent.
 */
import type { RedisConnection } from '../redis/connection.js';
import type { LuaScript } from '../redis/script.js';

/** Calls sent per turn per connection: of 10, 25 and 50, 25 gave the most checks/s with 100 in flight. */
export const PACE = 25;

/** A call waiting for a later turn. */
interface Waiting {
  script: LuaScript;
  keys: readonly string[];
  args: readonly string[];
  resolve: (reply: unknown) => void;
  reject: (error: unknown) => void;
}

/** One connection's pacing state. */
interface Pace {
  conn: RedisConnection;
  /** Calls sent in this turn. */
  sent: number;
  /** A `setImmediate` will end this turn (and send the next slice). */
  turning: boolean;
  /** Calls waiting for a later turn, in order. */
  waiting: Waiting[];
}

const paces = new WeakMap<RedisConnection, Pace>();

/**
 * `script.run(conn, keys, args)` now, or in a later turn once this turn's `PACE` calls have gone
 * out; answers as that call answers. (No closure per call: this runs on every check.)
 *
 * @example const reply = await paced(conn, FIXED_WINDOW, [key], ['1', '60000', '100']);
 */
export function paced<T>(
  conn: RedisConnection,
  script: LuaScript,
  keys: readonly string[],
  args: readonly string[],
): Promise<T> {
  let pace = paces.get(conn);
  if (pace === undefined) {
    pace = { conn, sent: 0, turning: false, waiting: [] };
    paces.set(conn, pace);
  }
  if (pace.sent < PACE && pace.waiting.length === 0) {
    pace.sent++;
    // run() never throws: every failure comes back as a rejection.
    const promise = script.run<T>(conn, keys, args);
    // Scheduled after the send, so node-redis's own write (also a setImmediate) goes first and
    // this turn's slice is on the wire before the next one is made.
    if (!pace.turning) endTurnSoon(pace);
    return promise;
  }
  const waiting = pace.waiting;
  return new Promise<T>((resolve, reject) => {
    waiting.push({ script, keys, args, resolve: resolve as (reply: unknown) => void, reject });
  });
}

function endTurnSoon(pace: Pace): void {
  pace.turning = true;
  setImmediate(endTurn, pace);
}

/** A new turn: send the next slice of waiting calls, and end this turn too if any were sent. */
function endTurn(pace: Pace): void {
  pace.turning = false;
  pace.sent = 0;
  const waiting = pace.waiting;
  if (waiting.length === 0) return;
  const slice = waiting.splice(0, PACE);
  pace.sent = slice.length;
  for (const call of slice) call.script.run(pace.conn, call.keys, call.args).then(call.resolve, call.reject);
  endTurnSoon(pace);
}
