/**
 * An indexable skip list (Redis' own `zskiplist` idea: each forward link records how many
 * elements it spans): O(log n) insert, delete, rank and access by rank. Hand-written
 * because the memory driver must order exactly as a Redis sorted set does — by score, then
 * by member bytes — and no small maintained package offers rank-by-element in O(log n).
 */

const MAX_LEVEL = 32;
const P = 0.25;

/** A node: a stored score, a member, and per level a forward link and the span it covers. */
export interface SkipNode {
  stored: number;
  member: string;
  /** The previous node on level 0 (undefined for the first). */
  backward: SkipNode | undefined;
  forward: Array<SkipNode | undefined>;
  span: number[];
}

/**
 * Compares two strings as Redis compares members: by UTF-8 bytes, which is code point
 * order. JavaScript's `<` compares UTF-16 units, which differs only when one side has a
 * surrogate (U+10000 and up) and the other a unit in U+E000–U+FFFF.
 */
export function compareMembers(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (D800–DFFF) encode code points above FFFF: move them past E000–FFFF.
      x += x >= 0xe000 ? -0x800 : 0x2000;
      y += y >= 0xe000 ? -0x800 : 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

function compare(stored: number, member: string, node: SkipNode): number {
  if (stored !== node.stored) return stored < node.stored ? -1 : 1;
  return compareMembers(member, node.member);
}

function makeNode(level: number, stored: number, member: string): SkipNode {
  return {
    stored,
    member,
    backward: undefined,
    forward: new Array(level).fill(undefined),
    span: new Array(level).fill(0),
  };
}

/**
 * Elements ordered by (stored ascending, member ascending); ranks are 0-based.
 *
 * @example
 * const list = new SkipList();
 * list.insert(10, 'alice');
 * list.rankOf(10, 'alice'); // 0
 */
export class SkipList {
  #head = makeNode(MAX_LEVEL, Number.NEGATIVE_INFINITY, '');
  #tail: SkipNode | undefined;
  #level = 1;
  size = 0;

  #randomLevel(): number {
    let level = 1;
    while (level < MAX_LEVEL && Math.random() < P) level++;
    return level;
  }

  /** Inserts an element; the caller guarantees it is not there yet. */
  insert(stored: number, member: string): void {
    const update: SkipNode[] = new Array(MAX_LEVEL);
    const rank: number[] = new Array(MAX_LEVEL);
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      rank[i] = i === this.#level - 1 ? 0 : rank[i + 1];
      for (let next = x.forward[i]; next && compare(stored, member, next) > 0; next = x.forward[i]) {
        rank[i] += x.span[i];
        x = next;
      }
      update[i] = x;
    }
    const level = this.#randomLevel();
    if (level > this.#level) {
      for (let i = this.#level; i < level; i++) {
        rank[i] = 0;
        update[i] = this.#head;
        update[i].span[i] = this.size;
      }
      this.#level = level;
    }
    const node = makeNode(level, stored, member);
    for (let i = 0; i < level; i++) {
      node.forward[i] = update[i].forward[i];
      update[i].forward[i] = node;
      node.span[i] = update[i].span[i] - (rank[0] - rank[i]);
      update[i].span[i] = rank[0] - rank[i] + 1;
    }
    for (let i = level; i < this.#level; i++) update[i].span[i]++;
    node.backward = update[0] === this.#head ? undefined : update[0];
    const after = node.forward[0];
    if (after) after.backward = node;
    else this.#tail = node;
    this.size++;
  }

  /** Deletes an element; true if it was there. */
  delete(stored: number, member: string): boolean {
    const update: SkipNode[] = new Array(MAX_LEVEL);
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      for (let next = x.forward[i]; next && compare(stored, member, next) > 0; next = x.forward[i]) x = next;
      update[i] = x;
    }
    const node = x.forward[0];
    if (!node || compare(stored, member, node) !== 0) return false;
    for (let i = 0; i < this.#level; i++) {
      if (update[i].forward[i] === node) {
        update[i].span[i] += node.span[i] - 1;
        update[i].forward[i] = node.forward[i];
      } else {
        update[i].span[i] -= 1;
      }
    }
    const after = node.forward[0];
    if (after) after.backward = node.backward;
    else this.#tail = node.backward;
    while (this.#level > 1 && this.#head.forward[this.#level - 1] === undefined) this.#level--;
    this.size--;
    return true;
  }

  /** The 0-based rank of an element, or -1. */
  rankOf(stored: number, member: string): number {
    let rank = 0;
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      for (let next = x.forward[i]; next && compare(stored, member, next) >= 0; next = x.forward[i]) {
        rank += x.span[i];
        x = next;
      }
      if (x !== this.#head && x.stored === stored && x.member === member) return rank - 1;
    }
    return -1;
  }

  /** How many elements have `stored < bound` (or `<=` when `inclusive`). */
  countBelow(bound: number, inclusive: boolean): number {
    let rank = 0;
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      for (
        let next = x.forward[i];
        next && (inclusive ? next.stored <= bound : next.stored < bound);
        next = x.forward[i]
      ) {
        rank += x.span[i];
        x = next;
      }
    }
    return rank;
  }

  /** The element at 0-based `rank`, or undefined. */
  at(rank: number): SkipNode | undefined {
    if (rank < 0 || rank >= this.size) return undefined;
    const target = rank + 1;
    let traversed = 0;
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      while (x.forward[i] && traversed + x.span[i] <= target) {
        traversed += x.span[i];
        x = x.forward[i]!;
      }
      if (traversed === target) return x;
    }
    return undefined;
  }

  /** The last element (highest). */
  get last(): SkipNode | undefined {
    return this.#tail;
  }
}
