/**
 * Property-based tests (fast-check): random sequences of add / incr / remove on a board of
 * random shape (order, ties, ranking), then every query — top, each member's rank, pages,
 * around, friends — compared with a naive model (an array sorted from scratch, ranks
 * counted by hand). Run on the memory store (many runs) and on Redis standalone (fewer),
 * so both drivers answer what the model answers.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { createLarder, type Larder } from '../../src/larder.js';
import type { LeaderboardEntry, LeaderboardOptions } from '../../src/leaderboard/index.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

type Op =
  | { kind: 'add'; member: string; value: number }
  | { kind: 'incr'; member: string; value: number }
  | { kind: 'remove'; member: string };

/** The naive model: a map, and a full sort per query. */
class Model {
  #entries = new Map<string, { score: number; seq: number }>();
  #seq = 0;
  constructor(readonly options: Required<Pick<LeaderboardOptions, 'order' | 'ties' | 'ranking'>>) {}

  apply(op: Op): void {
    if (op.kind === 'remove') {
      this.#entries.delete(op.member);
      return;
    }
    const previous = this.#entries.get(op.member)?.score ?? 0;
    const score = op.kind === 'add' ? op.value : previous + op.value;
    this.#entries.set(op.member, { score, seq: ++this.#seq });
  }

  sorted(): LeaderboardEntry[] {
    const desc = this.options.order === 'desc';
    const bytes = (m: string) => Buffer.from(m);
    const list = [...this.#entries].sort(([ma, a], [mb, b]) => {
      if (a.score !== b.score) return desc ? b.score - a.score : a.score - b.score;
      if (this.options.ties === 'first-achiever') return a.seq - b.seq;
      const c = Buffer.compare(bytes(ma), bytes(mb));
      return desc ? -c : c;
    });
    const scores = list.map(([, e]) => e.score);
    return list.map(([member, { score }], i) => {
      const better = scores.filter((s) => (desc ? s > score : s < score));
      const rank =
        this.options.ranking === 'ordinal'
          ? i + 1
          : this.options.ranking === 'competition'
            ? better.length + 1
            : new Set(better).size + 1;
      return { member, score, rank };
    });
  }
}

const MEMBERS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'é', '😀'];
const member = fc.constantFrom(...MEMBERS);
// Small integers, so ties are common.
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), member, value: fc.integer({ min: -5, max: 5 }) }),
  fc.record({ kind: fc.constant('incr' as const), member, value: fc.integer({ min: -3, max: 3 }) }),
  fc.record({ kind: fc.constant('remove' as const), member }),
);
const shape = fc.record({
  order: fc.constantFrom('desc' as const, 'asc' as const),
  ties: fc.constantFrom('lexical' as const, 'first-achiever' as const),
  ranking: fc.constantFrom('ordinal' as const, 'dense' as const, 'competition' as const),
});

async function check(larder: Larder, runs: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      shape,
      fc.array(op, { maxLength: 40 }),
      fc.nat({ max: 4 }),
      async (options, ops, radius) => {
        const board = larder.leaderboard(uniquePrefix('prop'), options);
        const model = new Model(options);
        for (const o of ops) {
          model.apply(o);
          if (o.kind === 'remove') await board.remove(o.member);
          else if (o.kind === 'add') await board.add(o.member, o.value);
          else await board.incr(o.member, o.value);
        }
        const expected = model.sorted();
        assert.deepEqual(await board.top(20), expected, 'top');
        assert.equal(await board.count(), expected.length);
        for (const m of MEMBERS) {
          const at = expected.findIndex((e) => e.member === m);
          assert.equal(await board.rank(m), at < 0 ? undefined : expected[at].rank, `rank(${m})`);
          assert.equal(await board.score(m), at < 0 ? undefined : expected[at].score, `score(${m})`);
          assert.deepEqual(
            await board.around(m, radius),
            at < 0 ? [] : expected.slice(Math.max(0, at - radius), at + radius + 1),
            `around(${m}, ${radius})`,
          );
        }
        for (let n = 1; n <= 4; n++) {
          assert.deepEqual(await board.page(n, 3), expected.slice((n - 1) * 3, n * 3), `page(${n}, 3)`);
        }
        const friends = ['a', 'c', 'é', 'zz'];
        // Ranks among friends: the model's order, re-ranked within the subset.
        const subset = expected.filter((e) => friends.includes(e.member));
        const ranked = subset.map((e, i) => {
          const better = subset.filter((s) =>
            options.order === 'desc' ? s.score > e.score : s.score < e.score,
          );
          const rank =
            options.ranking === 'ordinal'
              ? i + 1
              : options.ranking === 'competition'
                ? better.length + 1
                : new Set(better.map((s) => s.score)).size + 1;
          return { ...e, rank };
        });
        assert.deepEqual(await board.friends(friends), ranked, 'friends');
        await board.reset();
      },
    ),
    { numRuns: runs },
  );
}

describe('leaderboard drivers against a naive model', () => {
  const memory = createLarder({ redis: false, logger: false }, {});
  const redis = createLarder({ redis: redisUrlFor('standalone'), logger: false }, {});
  after(() => Promise.all([memory.close(), redis.close()]));

  it('memory store', () => check(memory, 300));
  it('redis store (standalone)', () => check(redis, 40));
});
