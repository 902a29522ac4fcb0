/**
 * @module The leaderboard conformance suite (DESIGN §4.7): ordering, the three rankings with
 * ties, first-achiever ties and their score range, windows on a controllable clock with
 * per-bucket expiry, combine, friends, maxDelta, `around` at the edges, page bounds and
 * typed errors that write nothing — through `larder.leaderboard` as an application calls it.
 * `test/leaderboard/leaderboard-conformance.test.ts` runs it on memory, Redis standalone and
 * Redis Cluster.
 *
 * Every board gets a unique name (`fixture.board`), so cases share no keys. The clock is the
 * fixture's on every target: it starts on Monday 2030-01-07 10:00 UTC, so the bucket
 * expiry times Redis is given (PEXPIREAT) lie in the future. On memory, expiry follows that
 * clock (`fixture.exact`), so there the cases also watch buckets disappear; on Redis they
 * read each key's PEXPIRETIME.
 */
import assert from 'node:assert/strict';
import calculateSlot from 'cluster-key-slot';
import { ConfigError, LeaderboardError } from '../../src/errors.js';
import type { Larder } from '../../src/larder.js';
import type { Leaderboard, LeaderboardEntry, LeaderboardOptions } from '../../src/leaderboard/index.js';
import { defineSuite, it, type Target } from '../support/conformance.js';

/** What a target hands the suite. */
export interface LeaderboardFixture {
  target: Target;
  larder: Larder;
  /** True on memory: buckets expire by the fixture's clock. */
  exact: boolean;
  /** A board with a unique name (unless `name` is given) on the fixture's clock. */
  board(options?: LeaderboardOptions & { name?: string }): Leaderboard;
  /** The fixture's clock, epoch ms. */
  now(): number;
  /** Moves the clock to `t`. */
  set(t: number): void;
  /** `PEXPIRETIME key` on Redis (-1: no expiry, -2: no key); undefined on memory. */
  expireTime(key: string): Promise<number | undefined>;
  /** `EXISTS key` on Redis; undefined on memory. */
  exists(key: string): Promise<boolean | undefined>;
}

/** The case that needs Redis keys; memory lists it as excluded with this reason. */
export const SLOT_CASE =
  "a board's keys (buckets, distinct scores, sequence, combined) share one Cluster slot";

/** Monday 2030-01-07 10:00 UTC. */
export const START = Date.UTC(2030, 0, 7, 10);
const DAY = 86_400_000;

const pairs = (entries: LeaderboardEntry[]) => entries.map((e) => [e.member, e.score, e.rank]);
const members = (entries: LeaderboardEntry[]) => entries.map((e) => e.member);

async function fill(board: Leaderboard, scores: Record<string, number>): Promise<void> {
  for (const [member, score] of Object.entries(scores)) await board.add(member, score);
}

async function rejects(promise: Promise<unknown>, reason: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof LeaderboardError, `a LeaderboardError, got ${error}`);
    assert.equal(error.reason, reason, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

// a:100, b:90, c:90, d:80, e:80, f:70 — two tie groups.
const TIED = { a: 100, b: 90, c: 90, d: 80, e: 80, f: 70 };
// On a desc board equal scores list in reverse member order (Redis ZREVRANGE).
const TIED_DESC = ['a', 'c', 'b', 'e', 'd', 'f'];
const EXPECTED_RANKS = {
  ordinal: [1, 2, 3, 4, 5, 6],
  dense: [1, 2, 2, 3, 3, 4],
  competition: [1, 2, 2, 4, 4, 6],
} as const;

defineSuite<LeaderboardFixture>('leaderboard', ({ driver }) => {
  it('add, incr, score, count and remove', async () => {
    const board = driver().board();
    assert.equal(await board.count(), 0);
    assert.equal(await board.score('alice'), undefined);
    assert.equal(await board.rank('alice'), undefined);
    assert.equal(await board.add('alice', 10), 10);
    assert.equal(await board.incr('bob'), 1, 'a new member starts at 0');
    assert.equal(await board.incr('bob', 4), 5);
    assert.equal(await board.incr('bob', -2.5), 2.5);
    assert.equal(await board.add('alice', 7), 7, 'add replaces the score');
    assert.equal(await board.score('alice'), 7);
    assert.equal(await board.count(), 2);
    assert.equal(await board.remove('alice'), true);
    assert.equal(await board.remove('alice'), false);
    assert.equal(await board.count(), 1);
    assert.equal(await board.incr('frac', 0.1), 0.1);
    assert.equal(await board.incr('frac', 0.2), 0.1 + 0.2, 'doubles, exactly as JavaScript adds them');
    assert.equal(await board.score('frac'), 0.30000000000000004);
  });

  it('desc orders high first, equal scores in reverse member order; asc orders low first', async () => {
    const desc = driver().board();
    const asc = driver().board({ order: 'asc' });
    for (const b of [desc, asc]) await fill(b, TIED);
    assert.deepEqual(members(await desc.top(10)), TIED_DESC);
    assert.deepEqual(members(await asc.top(10)), ['f', 'd', 'e', 'b', 'c', 'a']);
    assert.equal(await desc.rank('a'), 1);
    assert.equal(await asc.rank('a'), 6);
    assert.equal(await asc.rank('f'), 1);
  });

  for (const ranking of ['ordinal', 'dense', 'competition'] as const) {
    it(`${ranking} ranking with ties: top, rank, every page size and around agree`, async () => {
      const board = driver().board({ ranking });
      await fill(board, TIED);
      const top = await board.top(6);
      assert.deepEqual(members(top), TIED_DESC);
      assert.deepEqual(
        top.map((e) => e.rank),
        [...EXPECTED_RANKS[ranking]],
      );
      for (const entry of top)
        assert.equal(await board.rank(entry.member), entry.rank, `rank(${entry.member})`);
      for (let size = 1; size <= 7; size++) {
        const pages: LeaderboardEntry[] = [];
        for (let n = 1; n <= Math.ceil(6 / size) + 1; n++) pages.push(...(await board.page(n, size)));
        assert.deepEqual(pairs(pages), pairs(top), `pages of ${size}`);
      }
      for (const [i, entry] of top.entries()) {
        const near = await board.around(entry.member, 1);
        assert.deepEqual(
          pairs(near),
          pairs(top.slice(Math.max(0, i - 1), i + 2)),
          `around(${entry.member}, 1)`,
        );
      }
    });

    it(`${ranking} ranking on an asc board`, async () => {
      const board = driver().board({ ranking, order: 'asc' });
      await fill(board, { x: 1, y: 2, z: 2, w: 3 });
      const expected = { ordinal: [1, 2, 3, 4], dense: [1, 2, 2, 3], competition: [1, 2, 2, 4] }[ranking];
      const top = await board.top(4);
      assert.deepEqual(members(top), ['x', 'y', 'z', 'w']);
      assert.deepEqual(
        top.map((e) => e.rank),
        expected,
      );
      assert.equal(await board.rank('w'), expected[3]);
      assert.deepEqual(
        (await board.page(2, 2)).map((e) => e.rank),
        expected.slice(2),
      );
    });
  }

  it('dense ranks follow updates and removals (the distinct scores stay in step)', async () => {
    const board = driver().board({ ranking: 'dense' });
    await fill(board, TIED);
    await board.add('b', 95); // 90 still held by c
    assert.deepEqual(pairs(await board.top(6)), [
      ['a', 100, 1],
      ['b', 95, 2],
      ['c', 90, 3],
      ['e', 80, 4],
      ['d', 80, 4],
      ['f', 70, 5],
    ]);
    await board.incr('c', 5); // 90 is gone: c joins b at 95
    await board.remove('f');
    await board.remove('e');
    assert.deepEqual(pairs(await board.top(6)), [
      ['a', 100, 1],
      ['c', 95, 2],
      ['b', 95, 2],
      ['d', 80, 3],
    ]);
    assert.equal(await board.rank('d'), 3);
    await board.remove('d');
    await board.add('d', 80);
    assert.equal(await board.rank('d'), 3, 'a score removed and added again counts once');
  });

  it('first-achiever (desc): the earlier score ranks higher; an update re-stamps it', async () => {
    const board = driver().board({ ties: 'first-achiever', ranking: 'competition' });
    await board.add('bob', 100);
    await board.add('alice', 100);
    await board.add('carol', 100);
    await board.add('dave', 120);
    assert.deepEqual(pairs(await board.top(4)), [
      ['dave', 120, 1],
      ['bob', 100, 2],
      ['alice', 100, 2],
      ['carol', 100, 2],
    ]);
    assert.deepEqual(
      await Promise.all(['dave', 'bob', 'alice', 'carol'].map((m) => board.rank(m))),
      [1, 2, 2, 2],
    );
    // bob leaves 100 and comes back: now he reached it last.
    assert.equal(await board.incr('bob', 10), 110);
    assert.equal(await board.incr('bob', -10), 100);
    assert.deepEqual(members(await board.top(4)), ['dave', 'alice', 'carol', 'bob']);
    assert.equal(await board.score('bob'), 100, 'scores come back exact');
    const ordinal = driver().board({ name: board.name, ties: 'first-achiever' });
    assert.deepEqual(
      (await ordinal.top(4)).map((e) => e.rank),
      [1, 2, 3, 4],
    );
    assert.deepEqual(members(await board.around('carol', 1)), ['alice', 'carol', 'bob']);
  });

  it('first-achiever (asc) and dense: the earlier time ranks higher among equals', async () => {
    const board = driver().board({ ties: 'first-achiever', order: 'asc', ranking: 'dense' });
    await fill(board, { late: 61, first: 59, second: 59, third: 60, fourth: -3 });
    assert.deepEqual(pairs(await board.top(5)), [
      ['fourth', -3, 1],
      ['first', 59, 2],
      ['second', 59, 2],
      ['third', 60, 3],
      ['late', 61, 4],
    ]);
    assert.equal(await board.rank('second'), 2);
    assert.equal(await board.rank('late'), 4);
  });

  it('first-achiever scores: exact up to maxScore, refused beyond it and when fractional, nothing written', async () => {
    const board = driver().board({ ties: 'first-achiever' });
    const max = 2 ** 21 - 1;
    assert.equal(await board.add('top', max), max);
    assert.equal(await board.add('bottom', -max), -max);
    assert.equal(await board.score('top'), max);
    assert.equal(await board.score('bottom'), -max);
    await rejects(board.add('x', max + 1), 'range', /2097151/);
    await rejects(board.add('x', 1.5), 'range', /integer/);
    await rejects(board.incr('top', 1), 'range');
    assert.equal(await board.score('top'), max, 'the refused incr wrote nothing');
    assert.equal(await board.score('x'), undefined);
    assert.equal(await board.count(), 2);

    const wide = driver().board({ ties: 'first-achiever', maxScore: 2 ** 40 });
    await wide.add('a', 2 ** 40);
    await wide.add('b', 2 ** 40);
    await wide.add('c', 2 ** 40 - 1);
    assert.deepEqual(pairs(await wide.top(3)), [
      ['a', 2 ** 40, 1],
      ['b', 2 ** 40, 2],
      ['c', 2 ** 40 - 1, 3],
    ]);
    assert.throws(
      () => driver().board({ ties: 'first-achiever', maxScore: 2 ** 50 }),
      ConfigError,
      'too few tie-breaks left',
    );
    assert.throws(() => driver().board({ maxScore: 10 }), ConfigError, 'maxScore without first-achiever');
  });

  it('maxDelta refuses updates that move a score too far, and writes nothing', async () => {
    const board = driver().board({ maxDelta: 50 });
    assert.equal(await board.incr('a', 50), 50);
    await rejects(board.incr('a', 51), 'max-delta', /maxDelta \(50\)/);
    await rejects(board.incr('a', -51), 'max-delta');
    assert.equal(await board.add('a', 100), 100, 'add within 50 of the old score');
    await rejects(board.add('a', 151), 'max-delta', /from 100 to 151/);
    await rejects(board.add('new', 60), 'max-delta', /from 0 to 60/); // a new member starts at 0
    assert.equal(await board.score('a'), 100);
    assert.equal(await board.score('new'), undefined);
    const windowed = driver().board({ maxDelta: 5, window: 'daily', ranking: 'dense' });
    await rejects(windowed.add('a', 6), 'max-delta');
    assert.equal(await windowed.count(), 0);
  });

  it('bad input is a typed error that says what to do, and writes nothing', async () => {
    const board = driver().board();
    for (const member of ['', 'x'.repeat(513), '\ud800', 42, null, undefined]) {
      await rejects(board.add(member as string, 1), 'member', /non-empty string/);
      await rejects(board.rank(member as string), 'member');
    }
    for (const score of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '5', null]) {
      await rejects(board.add('a', score as number), 'score', /finite number/);
      await rejects(board.incr('a', score as number), 'score');
    }
    for (const n of [-1, 1.5, 1001, Number.NaN]) await rejects(board.top(n), 'argument');
    await rejects(board.page(0), 'argument');
    await rejects(board.page(1, 0), 'argument');
    await rejects(board.around('a', -1), 'argument');
    await rejects(board.combine(2), 'window', /needs a board with a window/);
    assert.throws(() => board.at(Date.now()), LeaderboardError);
    assert.equal(await board.count(), 0);
    const at = (fn: () => unknown, path: RegExp) =>
      assert.throws(fn, (e: unknown) => e instanceof ConfigError && path.test(e.path));
    const fx = driver();
    at(() => fx.board({ window: 'hourly' as never }), /\.window$/);
    at(() => fx.board({ order: 'up' as never }), /\.order$/);
    at(() => fx.board({ ranking: 'olympic' as never }), /\.ranking$/);
    at(() => fx.board({ ties: 'random' as never }), /\.ties$/);
    at(() => fx.board({ maxDelta: -1 }), /\.maxDelta$/);
    at(() => fx.board({ retain: '1d' }), /\.retain$/);
    at(() => fx.board({ name: 'a{b}c' }), /leaderboard/);
    assert.throws(() => fx.board({ window: 'hourly' as never }), /one of 'daily', 'weekly', 'monthly'/);
  });

  it('around: clipped at the top and bottom; radius 0; absent member; radius wider than the board', async () => {
    const board = driver().board();
    for (let i = 1; i <= 10; i++) await board.add(`m${String(i).padStart(2, '0')}`, i * 10);
    // Best first: m10 (100) … m01 (10).
    const all = await board.top(10);
    assert.deepEqual(members(await board.around('m10', 2)), ['m10', 'm09', 'm08']);
    assert.deepEqual(
      (await board.around('m10', 2)).map((e) => e.rank),
      [1, 2, 3],
    );
    assert.deepEqual(members(await board.around('m09', 2)), ['m10', 'm09', 'm08', 'm07']);
    assert.deepEqual(members(await board.around('m01', 2)), ['m03', 'm02', 'm01']);
    assert.deepEqual(
      (await board.around('m01', 2)).map((e) => e.rank),
      [8, 9, 10],
    );
    assert.deepEqual(pairs(await board.around('m05', 2)), pairs(all.slice(3, 8)));
    assert.deepEqual(pairs(await board.around('m05', 0)), [['m05', 50, 6]]);
    assert.deepEqual(await board.around('nobody', 3), []);
    assert.deepEqual(pairs(await board.around('m05', 100)), pairs(all));
  });

  it('page bounds: page 1 is top, a partial last page, past the end is empty', async () => {
    const board = driver().board({ ranking: 'competition' });
    for (let i = 0; i < 7; i++) await board.add(`p${i}`, i % 3);
    assert.deepEqual(pairs(await board.page(1, 3)), pairs(await board.top(3)));
    assert.equal((await board.page(3, 3)).length, 1);
    assert.deepEqual(await board.page(4, 3), []);
    assert.deepEqual(await board.page(1_000_000, 1000), []);
    assert.deepEqual(await board.top(0), []);
    assert.deepEqual(await driver().board().top(10), [], 'an empty board');
    const all = await board.top(100);
    assert.equal(all.length, 7);
    assert.deepEqual(
      all.map((e) => e.rank),
      [1, 1, 3, 3, 5, 5, 5],
    );
    assert.deepEqual(
      (await board.page(2, 3)).map((e) => e.rank),
      [3, 5, 5],
      'a page that starts inside a tie group keeps the group rank',
    );
  });

  it('daily window: rolls over at midnight UTC, each bucket expiring on its own', async () => {
    const fx = driver();
    fx.set(START);
    const board = fx.board({ window: 'daily', retain: '2d' });
    assert.equal(board.bucket(), '2030-01-07');
    await board.incr('a', 5);
    fx.set(Date.UTC(2030, 0, 7, 23, 59, 59, 999));
    assert.equal(await board.incr('a'), 6, 'the last millisecond of the day is the same bucket');
    fx.set(Date.UTC(2030, 0, 8));
    assert.equal(board.bucket(), '2030-01-08');
    assert.equal(await board.score('a'), undefined, 'a new day, an empty board');
    assert.deepEqual(await board.top(), []);
    await board.incr('b', 2);
    const monday = board.at(START);
    assert.equal(monday.bucket(), '2030-01-07');
    assert.deepEqual(pairs(await monday.top()), [['a', 6, 1]]);

    const key = (id: string) => `lb:{${board.name}}:${id}`;
    const mondayEnd = Date.UTC(2030, 0, 8) + 2 * DAY;
    const tuesdayEnd = Date.UTC(2030, 0, 9) + 2 * DAY;
    const t1 = await fx.expireTime(key('2030-01-07'));
    if (t1 !== undefined) {
      assert.equal(t1, mondayEnd, 'PEXPIRETIME: end of the day + retain');
      assert.equal(await fx.expireTime(key('2030-01-08')), tuesdayEnd);
    }
    if (fx.exact) {
      fx.set(mondayEnd - 1);
      assert.equal(await monday.count(), 1);
      fx.set(mondayEnd);
      assert.equal(await monday.count(), 0, 'Monday expired');
      assert.equal(await board.at(Date.UTC(2030, 0, 8)).count(), 1, 'Tuesday did not');
    } else {
      fx.set(mondayEnd);
    }
    await rejects(monday.incr('a'), 'window', /retention/);
  });

  it('weekly (ISO weeks, Monday to Sunday) and monthly windows', async () => {
    const fx = driver();
    fx.set(Date.UTC(2030, 0, 13, 23, 59, 59, 999)); // Sunday
    const weekly = fx.board({ window: 'weekly' });
    assert.equal(weekly.bucket(), '2030-W02');
    await weekly.incr('sku-1', 3);
    fx.set(Date.UTC(2030, 0, 14)); // Monday
    assert.equal(weekly.bucket(), '2030-W03');
    assert.equal(await weekly.count(), 0);
    await weekly.incr('sku-2');
    assert.equal(await weekly.at(Date.UTC(2030, 0, 7)).score('sku-1'), 3);
    assert.equal(weekly.bucket(Date.UTC(2026, 0, 1)), '2026-W01', 'Thursday 2026-01-01 is in week 1 of 2026');
    assert.equal(
      weekly.bucket(Date.UTC(2027, 0, 1)),
      '2026-W53',
      'Friday 2027-01-01 is in the last week of 2026',
    );
    const t = await fx.expireTime(`lb:{${weekly.name}}:2030-W03`);
    if (t !== undefined) assert.equal(t, Date.UTC(2030, 0, 21) + 7 * DAY, 'end of the week + one week');

    fx.set(Date.UTC(2030, 0, 31, 12));
    const monthly = fx.board({ window: 'monthly' });
    assert.equal(monthly.bucket(), '2030-01');
    await monthly.incr('x', 1);
    fx.set(Date.UTC(2030, 1, 1));
    assert.equal(monthly.bucket(), '2030-02');
    assert.equal(await monthly.score('x'), undefined);
    const m = await fx.expireTime(`lb:{${monthly.name}}:2030-01`);
    if (m !== undefined) assert.equal(m, Date.UTC(2030, 1, 1) + 31 * DAY);
  });

  it('combine: the last n buckets or chosen ones, summed or max, read-only, kept for ttl', async () => {
    const fx = driver();
    fx.set(START);
    const board = fx.board({ window: 'daily', retain: '7d', ranking: 'dense' });
    await fill(board, { a: 5, b: 3 });
    fx.set(START + DAY);
    await fill(board, { a: 1, c: 7 });
    fx.set(START + 2 * DAY);
    await fill(board, { b: 2, d: 1 });

    const three = await board.combine(3, { ttl: 30 });
    assert.equal(three.bucket(), 'sum:2030-01-09,2030-01-08,2030-01-07');
    assert.deepEqual(pairs(await three.top(10)), [
      ['c', 7, 1],
      ['a', 6, 2],
      ['b', 5, 3],
      ['d', 1, 4],
    ]);
    assert.equal(await three.rank('b'), 3);
    assert.equal(await three.count(), 4);
    const chosen = await board.combine([START, new Date(START + 2 * DAY)], { aggregate: 'max' });
    assert.deepEqual(pairs(await chosen.top(10)), [
      ['a', 5, 1],
      ['b', 3, 2],
      ['d', 1, 3],
    ]);
    await rejects(three.incr('a'), 'read-only');
    await rejects(three.reset(), 'read-only');
    const key = `lb:{${board.name}}:combined:sum:2030-01-09,2030-01-08,2030-01-07`;
    const t = await fx.expireTime(key);
    if (t !== undefined) {
      assert.ok(t > Date.now() && t <= Date.now() + 30_000, `combined key expires within its ttl (${t})`);
    }
    if (fx.exact) {
      fx.set(START + 2 * DAY + 30_000);
      assert.equal(await three.count(), 0, 'the combined copy expired after its ttl');
    }
    assert.equal(await board.count(), 2, "the day's own bucket is untouched");

    const fa = fx.board({ window: 'daily', ties: 'first-achiever' });
    await rejects(fa.combine(2), 'argument', /'max'/);
    await fa.add('x', 4);
    await fa.add('y', 4);
    assert.deepEqual(members(await (await fa.combine(2, { aggregate: 'max' })).top(2)), ['x', 'y']);
  });

  it('friends: the members given that are on the board, ranked among themselves', async () => {
    const board = driver().board({ ranking: 'competition' });
    await fill(board, { me: 50, bob: 70, carol: 50, dave: 10, stranger: 99 });
    const friends = await board.friends(['me', 'bob', 'carol', 'dave', 'not-playing', 'bob']);
    assert.deepEqual(pairs(friends), [
      ['bob', 70, 1],
      ['me', 50, 2],
      ['carol', 50, 2],
      ['dave', 10, 4],
    ]);
    assert.deepEqual(members(await board.friends(['dave', 'me', 'carol'], { limit: 2 })), ['me', 'carol']);
    assert.deepEqual(await board.friends([]), []);
    assert.deepEqual(await board.friends(['nobody']), []);
    assert.equal(await board.count(), 5, 'the friends board leaves no keys or members behind');
    await rejects(board.friends(['ok', '']), 'member');
  });

  it('reset empties one board (one bucket of a windowed board) and nothing else', async () => {
    const fx = driver();
    fx.set(START);
    const a = fx.board({ ranking: 'dense', ties: 'first-achiever' });
    const b = fx.board();
    await a.add('x', 1);
    await b.add('x', 1);
    await a.reset();
    assert.equal(await a.count(), 0);
    assert.equal(await b.count(), 1);
    await a.add('y', 1);
    assert.equal(await a.rank('y'), 1, 'a reset board works as new');
    const daily = fx.board({ window: 'daily' });
    await daily.add('m', 1);
    fx.set(START + DAY);
    await daily.add('m', 2);
    await daily.reset();
    assert.equal(await daily.count(), 0);
    assert.equal(await daily.at(START).score('m'), 1, "yesterday's bucket survives today's reset");
  });

  it('two handles on one name share the board; members of any shape keep their own entries', async () => {
    const fx = driver();
    const one = fx.board();
    const two = fx.board({ name: one.name });
    await one.add('a{b}c', 1);
    await two.incr('a{b}c', 1);
    assert.equal(await one.score('a{b}c'), 2);
    // Equal scores order by member bytes (UTF-8 = code point order), as Redis does.
    const names = ['z', 'é', '\ufffd', '😀', 'a:b', ' ', 'Z'];
    const board = fx.board({ order: 'asc' });
    for (const name of names) await board.add(name, 1);
    const byBytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual(members(await board.top(10)), byBytes);
  });

  it(SLOT_CASE, async () => {
    const fx = driver();
    fx.set(START);
    const board = fx.board({ window: 'daily', ties: 'first-achiever', ranking: 'dense' });
    await board.add('a', 1);
    fx.set(START + DAY);
    await board.add('a', 2);
    await board.combine(2, { aggregate: 'max' });
    const base = `lb:{${board.name}}`;
    const keys = [
      `${base}:2030-01-07`,
      `${base}:2030-01-07:scores`,
      `${base}:2030-01-07:seq`,
      `${base}:2030-01-08`,
      `${base}:combined:max:2030-01-08,2030-01-07`,
      `${base}:combined:max:2030-01-08,2030-01-07:scores`,
    ];
    for (const key of keys) assert.equal(await fx.exists(key), true, `${key} exists`);
    assert.deepEqual(new Set(keys.map((k) => calculateSlot(k))).size, 1);
    await board.friends(['a']);
    assert.equal(await fx.exists(`${base}:2030-01-08:friends:set`), false, 'no scratch keys left');
  });
});
