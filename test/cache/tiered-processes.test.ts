/**
 * The tiered cache across processes: three child processes, each with its own Larder on the
 * same Redis, hold a key in their in-process tiers; a write in one evicts the others' copies
 * (Redis client tracking), on standalone and Cluster. The eviction delay is printed; only a
 * generous bound is asserted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ChildLarder, startChildLarders, stopChildLarders } from '../support/child-larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

// Generous: on a loaded 2-core machine a child may not run for a while; the delay is printed.
const BOUND_MS = 10_000;

for (const target of ['standalone', 'cluster'] as const) {
  describe(`tiered cache across processes [${target}]`, () => {
    let children: ChildLarder[] = [];
    const prefix = uniquePrefix('procs');

    before(async () => {
      children = await startChildLarders(3, {
        url: redisUrlFor(target)!,
        cache: { backend: 'tiered', keyPrefix: prefix },
      });
      await Promise.all(children.map((c) => c.tracking()));
    });
    after(async () => {
      await stopChildLarders(children);
    });

    /** Reads `key` in every child until each holds it in its tier. */
    async function holdEverywhere(key: string): Promise<void> {
      for (const child of children) {
        const started = Date.now();
        for (;;) {
          await child.get(key);
          if (await child.holds(key)) break;
          if (Date.now() - started > BOUND_MS) assert.fail(`child ${child.pid} never held ${key} locally`);
        }
        assert.equal((await child.getEntry(key)).status, 'hit-local');
      }
    }

    it('a write in one process evicts the copies in the others', async (t) => {
      const [writer, ...readers] = children as [ChildLarder, ...ChildLarder[]];
      await writer.set('k', { v: 1 });
      await holdEverywhere('k');
      const evicted = readers.map((r) => r.waitEvicted('k', BOUND_MS));
      const sentAt = await writer.set('k', { v: 2 });
      const seenAt = await Promise.all(evicted);
      const delays = seenAt.map((at) => at - sentAt);
      t.diagnostic(`eviction delay per reader: ${delays.map((d) => `${d.toFixed(2)} ms`).join(', ')}`);
      for (const reader of readers) assert.deepEqual(await reader.get('k'), { v: 2 });
    });

    it('getOrSet in every process, one after another: the loader ran once', async () => {
      const counterKey = `${prefix}:loads`;
      const results = [];
      for (const child of children) results.push(await child.getOrSet('loaded', { value: 'L', counterKey }));
      assert.deepEqual(results, ['L', 'L', 'L']);
      assert.equal(Number(await children[0]!.command(['GET', counterKey])), 1);
    });
  });
}
