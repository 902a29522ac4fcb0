/**
 * Scores as stored, and ranks from slices — shared by the facade and both drivers.
 *
 * First-achiever encoding: a board with `ties: 'first-achiever'` stores one double per
 * member, `score × radix + tie`, where `tie` comes from a per-bucket sequence that grows on
 * every write: on a `desc` board `tie = radix − 1 − seq` (earlier = larger = ranks higher),
 * on an `asc` board `tie = seq` (earlier = smaller = ranks higher). With integer scores,
 * |score| ≤ maxScore and radix = ⌊2^53 / (maxScore + 1)⌋, every stored value is an integer
 * below 2^53, so doubles (JavaScript's and Redis') hold it exactly and sort it correctly.
 */
import type { BoardShape, RawEntry, Slice } from './store.js';

/** 2^53: the first integer a double cannot tell from its neighbour. */
export const TWO_53 = 2 ** 53;

/** The default `maxScore` of first-achiever boards: 2^21 − 1, leaving 2^32 tie-breaks. */
export const DEFAULT_MAX_SCORE = 2 ** 21 - 1;

/** The radix for `maxScore`: how many tie-breaks (writes) one bucket can take. */
export function radixFor(maxScore: number): number {
  return Math.floor(TWO_53 / (maxScore + 1));
}

/** Packs `score` (an integer, |score| ≤ maxScore) and write number `seq` (< radix). */
export function encode(score: number, seq: number, shape: BoardShape): number {
  if (shape.radix === 0) return score;
  return score * shape.radix + (shape.desc ? shape.radix - 1 - seq : seq);
}

/** The score of a stored value (exact: integer arithmetic below 2^53, then corrected). */
export function decode(stored: number, shape: BoardShape): number {
  const radix = shape.radix;
  if (radix === 0) return stored;
  let score = Math.floor(stored / radix);
  const rest = stored - score * radix;
  if (rest < 0) score -= 1;
  else if (rest >= radix) score += 1;
  return score;
}

/** The stored values one score spans: `[lo, hi]`. */
export function span(score: number, shape: BoardShape): [number, number] {
  if (shape.radix === 0) return [score, score];
  return [score * shape.radix, score * shape.radix + shape.radix - 1];
}

/** A listed entry: a member, its score and its rank. */
export interface LeaderboardEntry {
  member: string;
  score: number;
  /** 1-based, under the board's ranking. */
  rank: number;
}

/**
 * Ranks a slice: the first entry has `base`; then `ordinal` counts up by one, `dense` by one
 * per new score, and `competition` gives a new score its 1-based position.
 */
export function rankSlice(slice: Slice, shape: BoardShape): LeaderboardEntry[] {
  const out: LeaderboardEntry[] = new Array(slice.entries.length);
  let rank = slice.base;
  let previous = Number.NaN;
  for (let i = 0; i < slice.entries.length; i++) {
    const entry = slice.entries[i];
    const score = decode(entry.stored, shape);
    if (i > 0) {
      if (shape.ranking === 'ordinal') rank++;
      else if (score !== previous) rank = shape.ranking === 'dense' ? rank + 1 : slice.start + i + 1;
    }
    previous = score;
    out[i] = { member: entry.member, score, rank };
  }
  return out;
}

/** Ranks a complete list (a friends board: the list is the whole board). */
export function rankAll(entries: RawEntry[], shape: BoardShape): LeaderboardEntry[] {
  return rankSlice({ start: 0, base: 1, entries }, shape);
}

/** A Redis/Lua-exact rendering of a double (`%.17g` round-trips). -0 becomes 0. */
export function formatScore(value: number): string {
  return value === 0 ? '0' : String(value);
}
