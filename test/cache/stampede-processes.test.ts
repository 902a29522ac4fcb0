/**
 * Stampede protection across processes (issue 7): 100 concurrent `getOrSet` calls on one cold
 * key, spread over 4 child processes with a Larder each, run the loader exactly once — the
 * loader INCRs a counter in Redis, so the count covers every process. On the Redis and tiered
 * backends, on standalone and Cluster.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ChildLarder, startChildLarders, stopChildLarders } from '../support/child-larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';

for (const target of ['standalone', 'cluster'] as const) {
  for (const backend of ['redis', 'tiered'] as const) {
    describe(`getOrSet stampede across 4 processes [${backend}, ${target}]`, () => {
      let children: ChildLarder[] = [];
      const prefix = uniquePrefix('stampede');

      before(async () => {
        children = await startChildLarders(4, {
          url: redisUrlFor(target)!,
          cache: { backend, keyPrefix: prefix },
        });
        if (backend === 'tiered') await Promise.all(children.map((c) => c.tracking()));
      });
      after(async () => {
        await stopChildLarders(children);
      });

      it('100 concurrent calls on a cold key run the loader once; every caller gets its value', async (t) => {
        const counterKey = `${prefix}:loads`;
        const started = performance.now();
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            children[i % 4]!.getOrSet('cold', { value: { sku: 'p-1' }, counterKey, delayMs: 200 }),
          ),
        );
        t.diagnostic(`100 callers served in ${(performance.now() - started).toFixed(0)} ms (loader: 200 ms)`);
        assert.equal(Number(await children[0]!.command(['GET', counterKey])), 1);
        for (const r of results) assert.deepEqual(r, { sku: 'p-1' });
      });
    });
  }
}
