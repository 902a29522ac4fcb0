/**
 * The memory driver's indexable skip list against a sorted array, on thousands of elements
 * (so many levels are in play): insert, delete, rankOf, at, countBelow, backward links; and
 * the member order is Redis' (UTF-8 bytes).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compareMembers, SkipList } from '../../src/leaderboard/skiplist.js';

test('compareMembers orders as UTF-8 bytes do', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
      assert.equal(Math.sign(compareMembers(a, b)), Buffer.compare(Buffer.from(a), Buffer.from(b)));
    }),
    { numRuns: 2000 },
  );
  assert.ok(compareMembers('\ufffd', '😀') < 0, 'U+FFFD sorts before U+1F600, unlike UTF-16 order');
});

test('skip list matches a sorted array through thousands of inserts and deletes', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 50 }), fc.boolean()), {
        minLength: 500,
        maxLength: 4000,
      }),
      (ops) => {
        const list = new SkipList();
        const model = new Map<string, number>();
        for (const [score, id, del] of ops) {
          const member = `m${id}`;
          const had = model.get(member);
          if (had !== undefined) {
            assert.equal(list.delete(had, member), true);
            model.delete(member);
          }
          if (!del) {
            list.insert(score, member);
            model.set(member, score);
          }
        }
        const sorted = [...model].sort(([ma, a], [mb, b]) => a - b || compareMembers(ma, mb));
        assert.equal(list.size, sorted.length);
        sorted.forEach(([member, score], i) => {
          assert.equal(list.rankOf(score, member), i);
          const node = list.at(i)!;
          assert.deepEqual([node.member, node.stored], [member, score]);
        });
        for (const bound of [-1, 0, 17, 150, 300, 301]) {
          assert.equal(list.countBelow(bound, false), sorted.filter(([, s]) => s < bound).length);
          assert.equal(list.countBelow(bound, true), sorted.filter(([, s]) => s <= bound).length);
        }
        const back: string[] = [];
        for (let node = list.last; node; node = node.backward) back.push(node.member);
        assert.deepEqual(back, sorted.map(([m]) => m).reverse());
        assert.equal(list.rankOf(9999, 'm1'), -1);
        assert.equal(list.delete(9999, 'm1'), false);
      },
    ),
    { numRuns: 20 },
  );
});
