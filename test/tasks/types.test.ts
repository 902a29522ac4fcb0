/**
 * Type tests for the public generics of larder/tasks: a task's payload and result types
 * flow into `delay`, `applyAsync`, `AsyncResult.get` and the canvas. Checked by `tsc`
 * (`npm run typecheck`); the runtime assertions keep node:test honest.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLarder } from '../../src/larder.js';
import { type AsyncResult, chain, type GroupResult, group } from '../../src/tasks/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectType = <T extends true>(_: T) => {};

test('payload and result types flow through the task API', async () => {
  const larder = createLarder({ redis: false, logger: false }, {});
  try {
    const add = larder.tasks.define('add', ({ a, b }: { a: number; b: number }) => a + b);
    const shout = larder.tasks.define('shout', async (s: string) => s.toUpperCase());
    const ping = larder.tasks.define('ping', () => 'pong');

    const sum = add.delay({ a: 1, b: 2 });
    expectType<Equal<typeof sum, AsyncResult<number>>>(true);
    expectType<Equal<Awaited<ReturnType<typeof sum.get>>, number>>(true);
    // Never called: only the type checker looks at these two.
    // @ts-expect-error the payload is { a, b }
    const missingB = () => add.delay({ a: 1 });
    // @ts-expect-error a payload is required
    const none = () => add.delay();
    assert.equal(typeof missingB + typeof none, 'functionfunction');
    ping.delay(); // a task without a payload takes none

    const shouted = shout.applyAsync('hi', { countdown: 0 });
    expectType<Equal<typeof shouted, AsyncResult<string>>>(true);

    const piped = chain(add.s({ a: 1, b: 2 }), shout.s('x'));
    expectType<Equal<ReturnType<typeof piped.applyAsync>, AsyncResult<string>>>(true);
    const many = group([add.s({ a: 1, b: 1 }), add.s({ a: 2, b: 2 })]).applyAsync();
    expectType<Equal<typeof many, GroupResult<number>>>(true);

    assert.equal(await sum.get({ timeout: '5s' }), 3);
    assert.equal(await shouted.get({ timeout: '5s' }), 'HI');
    assert.deepEqual(await many.get({ timeout: '5s' }), [2, 4]);
  } finally {
    await larder.close();
  }
});
