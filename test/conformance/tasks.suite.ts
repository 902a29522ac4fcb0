/**
 * @module The task conformance suite (DESIGN §4.5): Celery's behaviour through
 * `larder.tasks` as an application uses it — retries, failures through `AsyncResult`,
 * countdown/eta, expiry, time limits, revocation, the canvas, schedules, idempotent job
 * ids and the typed errors for bad input. `test/tasks/tasks-conformance.test.ts` runs it on
 * the eager driver (target `memory`) and on BullMQ (Redis standalone, a worker in this
 * process). Each case defines tasks of its own (`fixture.name()`), so cases share nothing.
 * Waits are real (a few hundred ms); time bounds are lower bounds or generous upper ones.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { TaskFailedError, TaskRevokedError, TaskTimeoutError, TaskUsageError } from '../../src/errors.js';
import type { Larder } from '../../src/larder.js';
import { chain, chord, group } from '../../src/tasks/index.js';
import { defineSuite, it, type Target } from '../support/conformance.js';

/** What a target hands the suite. */
export interface TasksFixture {
  target: Target;
  larder: Larder;
  /** A task name no other case uses. */
  name(label: string): string;
}

/** The case the eager driver cannot meet: it has no backlog to order. */
export const PRIORITY_CASE = 'a backlog runs in priority order (1 first)';

/** Generous bound for a `get()`: the job itself takes well under a second. */
const GET = { timeout: '15s' } as const;

/** Resolves once `check()` holds (polled every 20 ms), failing after `ms`. */
async function eventually(
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = 'condition',
): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`${what} did not hold within ${ms} ms`);
    await sleep(20);
  }
}

defineSuite<TasksFixture>('tasks', ({ driver }) => {
  const tasks = () => driver().larder.tasks;
  const name = (label: string) => driver().name(label);

  it('delay runs the handler and get() returns its result', async () => {
    const add = tasks().define(name('add'), ({ a, b }: { a: number; b: number }) => a + b);
    const result = add.delay({ a: 2, b: 3 });
    assert.equal(typeof result.id, 'string');
    assert.equal(await result.get(GET), 5);
    assert.equal(await result.status(), 'success');
    assert.equal(await result.ready(), true);
  });

  it('the handler gets its context: id, task, attempt, retries, an AbortSignal', async () => {
    const seen: unknown[] = [];
    const t = tasks().define(
      name('ctx'),
      (_args: null, ctx) => {
        seen.push({
          id: ctx.id,
          task: ctx.task,
          attempt: ctx.attempt,
          retries: ctx.retries,
          aborted: ctx.signal.aborted,
        });
        return 'ok';
      },
      { retries: 2 },
    );
    const result = t.delay(null);
    await result.get(GET);
    assert.deepEqual(seen, [{ id: result.id, task: t.name, attempt: 1, retries: 2, aborted: false }]);
  });

  it('retries then success', async () => {
    let calls = 0;
    const flaky = tasks().define(
      name('flaky'),
      (n: number) => {
        calls++;
        if (calls < 3) throw new Error(`not yet (${calls})`);
        return n * 10;
      },
      { retries: 3, backoff: { type: 'exponential', delay: '30ms' } },
    );
    const result = flaky.delay(4);
    assert.equal(await result.get(GET), 40);
    assert.equal(calls, 3);
    const info = await result.info();
    assert.equal(info.status, 'success');
    assert.equal(info.attempts, 3);
  });

  it('retries exhausted → failure visible through AsyncResult', async () => {
    let calls = 0;
    const broken = tasks().define(
      name('broken'),
      () => {
        calls++;
        throw new TypeError('the printer is on fire');
      },
      { retries: 2, backoff: '20ms' },
    );
    const result = broken.delay();
    await assert.rejects(result.get(GET), (error: unknown) => {
      assert.ok(error instanceof TaskFailedError, String(error));
      assert.equal(error.code, 'E_TASK_FAILED');
      assert.equal(error.remoteName, 'TypeError');
      assert.equal(error.task, broken.name);
      assert.equal(error.id, result.id);
      assert.equal(error.attempts, 3);
      assert.match(error.message, /the printer is on fire/);
      return true;
    });
    assert.equal(calls, 3);
    assert.equal(await result.status(), 'failure');
  });

  it('status is started while the handler runs', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let running = false;
    const slow = tasks().define(name('slow'), async () => {
      running = true;
      await gate;
      return 'done';
    });
    const result = slow.delay();
    await eventually(() => running, 10_000, 'the handler started');
    assert.equal(await result.status(), 'started');
    assert.equal(await result.ready(), false);
    release();
    assert.equal(await result.get(GET), 'done');
  });

  it('countdown holds the job back; it is pending meanwhile', async () => {
    let ranAt = 0;
    const later = tasks().define(name('countdown'), () => {
      ranAt = Date.now();
      return 'ran';
    });
    const applied = Date.now();
    const result = later.applyAsync(undefined, { countdown: '400ms' });
    await result.enqueued();
    assert.equal(await result.status(), 'pending');
    assert.equal(await result.get(GET), 'ran');
    assert.ok(ranAt - applied >= 390, `ran ${ranAt - applied} ms after apply; expected at least 400`);
  });

  it('eta holds the job back until the moment given', async () => {
    let ranAt = 0;
    const later = tasks().define(name('eta'), () => {
      ranAt = Date.now();
      return 'ran';
    });
    const eta = new Date(Date.now() + 400);
    assert.equal(await later.applyAsync(undefined, { eta }).get(GET), 'ran');
    assert.ok(ranAt >= eta.getTime() - 10, `ran ${eta.getTime() - ranAt} ms before its eta`);
  });

  it('expires drops a job still waiting past its deadline', async () => {
    let calls = 0;
    const t = tasks().define(name('expires'), () => {
      calls++;
      return 'ran';
    });
    const result = t.applyAsync(undefined, { countdown: '300ms', expires: '100ms' });
    await result.enqueued();
    await sleep(150);
    assert.equal(await result.status(), 'revoked');
    await assert.rejects(result.get(GET), TaskRevokedError);
    assert.equal(calls, 0);
  });

  it('expires also stops retries that would start past it', async () => {
    let calls = 0;
    const t = tasks().define(
      name('expires-retry'),
      () => {
        calls++;
        throw new Error('fails once');
      },
      { retries: 3, backoff: '400ms' },
    );
    const result = t.applyAsync(undefined, { expires: '200ms' });
    await assert.rejects(result.get(GET), (error: unknown) => {
      assert.ok(error instanceof TaskRevokedError, String(error));
      assert.match(error.message, /expired/);
      return true;
    });
    assert.equal(calls, 1);
  });

  it('timeLimit fails a run that takes too long with TaskTimeoutError and aborts its signal', async () => {
    let aborted: unknown;
    const t = tasks().define(
      name('time-limit'),
      async (_: undefined, ctx) => {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 5_000);
          ctx.signal.addEventListener('abort', () => {
            aborted = ctx.signal.reason;
            clearTimeout(timer);
            resolve();
          });
        });
        return 'too late';
      },
      { timeLimit: '200ms' },
    );
    const started = Date.now();
    await assert.rejects(t.delay().get(GET), (error: unknown) => {
      assert.ok(error instanceof TaskTimeoutError, String(error));
      assert.match(error.message, /timeLimit/);
      return true;
    });
    assert.ok(
      Date.now() - started < 4_000,
      'the time limit stopped the run long before the handler would end',
    );
    assert.ok(aborted instanceof TaskTimeoutError);
  });

  it('revoke drops a job that has not started', async () => {
    let calls = 0;
    const t = tasks().define(name('revoke'), () => {
      calls++;
      return 'ran';
    });
    const result = t.applyAsync(undefined, { countdown: '400ms' });
    assert.equal(await result.revoke(), true);
    assert.equal(await result.status(), 'revoked');
    await assert.rejects(result.get(GET), TaskRevokedError);
    await sleep(600);
    assert.equal(calls, 0);
    assert.equal(await result.revoke(), false, 'a second revoke has nothing left to drop');
  });

  it('revoke of a running job lets the run finish but never retries it', async () => {
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const t = tasks().define(
      name('revoke-running'),
      async () => {
        calls++;
        await gate;
        throw new Error('would be retried');
      },
      { retries: 3, backoff: '20ms' },
    );
    const result = t.delay();
    await eventually(() => calls === 1, 10_000, 'the handler started');
    assert.equal(await result.revoke(), false);
    release();
    await assert.rejects(
      result.get(GET),
      (error: unknown) => error instanceof TaskRevokedError || error instanceof TaskFailedError,
    );
    await sleep(200);
    assert.equal(calls, 1);
  });

  it('chain passes each result to the next step', async () => {
    const add = tasks().define(name('c-add'), ({ a, b }: { a: number; b: number }) => a + b);
    const double = tasks().define(name('c-double'), (n: number) => n * 2);
    const describe = tasks().define(name('c-describe'), (n: number) => `total ${n}`);
    const result = chain(add.s({ a: 1, b: 2 }), double.s(), describe.s()).applyAsync();
    assert.equal(await result.get(GET), 'total 6');
    assert.equal(result.task, describe.name);
  });

  it('a step with args of its own ignores the result before it', async () => {
    const one = tasks().define(name('c-one'), (n: number) => n);
    const echo = tasks().define(name('c-echo'), (s: string) => s);
    assert.equal(await chain(one.s(1), echo.s('fixed')).applyAsync().get(GET), 'fixed');
  });

  it('a chain stops at a step that fails; get() shows that step’s error', async () => {
    let thirdRan = false;
    const first = tasks().define(name('cf-first'), (n: number) => n + 1);
    const second = tasks().define(name('cf-second'), (): number => {
      throw new RangeError('second step broke');
    });
    const third = tasks().define(name('cf-third'), (n: number) => {
      thirdRan = true;
      return n;
    });
    const result = chain(first.s(1), second.s(), third.s()).applyAsync();
    await assert.rejects(result.get(GET), (error: unknown) => {
      assert.ok(error instanceof TaskFailedError, String(error));
      assert.equal(error.remoteName, 'RangeError');
      assert.equal(error.task, second.name);
      assert.match(error.message, /second step broke/);
      return true;
    });
    assert.equal(await result.status(), 'failure');
    assert.equal(thirdRan, false);
  });

  it('group runs members in parallel and gives results in order', async () => {
    const square = tasks().define(name('g-square'), async (n: number) => {
      await sleep(n % 2 === 0 ? 30 : 0); // finish out of order
      return n * n;
    });
    const result = group([1, 2, 3, 4].map((n) => square.s(n))).applyAsync();
    assert.deepEqual(await result.get(GET), [1, 4, 9, 16]);
    assert.deepEqual(await result.status(), ['success', 'success', 'success', 'success']);
    assert.equal(await result.ready(), true);
  });

  it('chord calls back with the list of the group’s results', async () => {
    const square = tasks().define(name('ch-square'), async (n: number) => {
      await sleep(n === 1 ? 40 : 0);
      return n * n;
    });
    const list = tasks().define(name('ch-list'), (values: number[]) => values.join(','));
    const result = chord(group([1, 2, 3].map((n) => square.s(n))), list.s()).applyAsync();
    assert.equal(await result.get(GET), '1,4,9');
  });

  it('schedule fires repeatedly; unschedule stops it', async () => {
    let runs = 0;
    const tick = tasks().define(name('tick'), ({ by }: { by: number }) => {
      runs += by;
    });
    const schedule = name('every');
    await tasks().schedule(schedule, { every: '250ms' }, tick, { by: 1 });
    try {
      await eventually(() => runs >= 2, 10_000, 'two scheduled runs');
    } finally {
      assert.equal(await tasks().unschedule(schedule, tick), true);
    }
    await sleep(100);
    const after = runs;
    await sleep(700);
    assert.ok(runs <= after + 1, `the schedule kept firing after unschedule (${after} → ${runs})`);
  });

  it('a cron schedule is accepted, and a bad pattern is refused', async () => {
    const t = tasks().define(name('cron'), () => 'x');
    const schedule = name('nightly');
    await tasks().schedule(schedule, '0 3 * * *', t, undefined);
    assert.equal(await tasks().unschedule(schedule, t), true);
    await assert.rejects(
      tasks().schedule(name('bad-cron'), 'not a cron pattern', t, undefined),
      TaskUsageError,
    );
  });

  it('the same jobId runs once: the second apply returns the first job', async () => {
    let calls = 0;
    const t = tasks().define(name('idempotent'), (n: number) => {
      calls++;
      return n;
    });
    const jobId = `order-${name('job')}`;
    const first = t.applyAsync(1, { jobId });
    assert.equal(first.id, jobId);
    assert.equal(await first.get(GET), 1);
    const second = t.applyAsync(2, { jobId });
    assert.equal(second.id, jobId);
    assert.equal(await second.get(GET), 1, 'the kept job stands; its payload was 1');
    assert.equal(calls, 1);
  });

  it(PRIORITY_CASE, async () => {
    const order: number[] = [];
    const queue = name('prio');
    const t = tasks().define(
      name('prio-task'),
      (p: number) => {
        order.push(p);
      },
      { queue },
    );
    // No worker on this queue yet: the jobs wait, then one worker takes them one at a time.
    const results = [3, 1, 2].map((p) => t.applyAsync(p, { priority: p }));
    await Promise.all(results.map((r) => r.enqueued()));
    const worker = await tasks().startWorker({ queues: [queue], concurrency: 1 });
    try {
      await Promise.all(results.map((r) => r.get(GET)));
    } finally {
      await worker.close();
    }
    assert.deepEqual(order, [1, 2, 3]);
  });

  it('larder.tasks.result(id) reads a job applied elsewhere', async () => {
    const t = tasks().define(name('by-id'), () => 'found');
    const { id } = t.delay();
    assert.equal(await tasks().result(id, { task: t.name }).get(GET), 'found');
  });

  it('a handler returning nothing gives null', async () => {
    const t = tasks().define(name('void'), () => {});
    assert.equal(await t.delay().get(GET), null);
  });

  it('get({ timeout }) throws TaskTimeoutError while the job goes on', async () => {
    const t = tasks().define(name('wait'), async () => {
      await sleep(400);
      return 'late';
    });
    const result = t.delay();
    await assert.rejects(result.get({ timeout: '50ms' }), TaskTimeoutError);
    assert.equal(await result.get(GET), 'late');
  });

  it('bad input is refused with TaskUsageError before anything is enqueued', () => {
    const t = tasks().define(name('strict'), (x: unknown) => x);
    const refuses = (fn: () => unknown, pattern: RegExp) =>
      assert.throws(fn, (error: unknown) => {
        assert.ok(error instanceof TaskUsageError, String(error));
        assert.equal(error.code, 'E_TASK_USAGE');
        assert.match(error.message, pattern);
        return true;
      });
    refuses(() => tasks().get(name('never-defined')), /not defined.*define\(\)/);
    refuses(() => tasks().define(t.name, () => 1), /already defined/);
    refuses(() => tasks().define(name('bad-retries'), () => 1, { retries: -1 }), /retries/);
    refuses(() => tasks().define(name('bad-opt'), () => 1, { retry: 3 } as never), /no option "retry"/);
    refuses(() => tasks().define('has:colon', () => 1), /without ':'/);
    refuses(() => t.applyAsync(1, { countdown: '-1s' }), /countdown/);
    refuses(() => t.applyAsync(1, { countdown: 'soon' as never }), /countdown/);
    refuses(() => t.applyAsync(1, { countdown: 1, eta: new Date() }), /not both/);
    refuses(() => t.applyAsync(1, { eta: new Date('nope') }), /eta/);
    refuses(() => t.applyAsync(1, { expires: new Date(Date.now() - 1000) }), /expires/);
    refuses(() => t.applyAsync(1, { expires: 0 }), /expires/);
    refuses(() => t.applyAsync(1, { jobId: '42' }), /whole number/);
    refuses(() => t.applyAsync(1, { priority: 0 }), /priority/);
    refuses(() => t.delay(() => 1), /function/);
    refuses(() => t.delay(new Map()), /Map/);
    refuses(() => t.delay({ n: 10n }), /bigint/);
    refuses(() => t.delay({ n: Number.NaN }), /NaN/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    refuses(() => t.delay(cycle), /cycle/);
    refuses(() => chain(t.s()), /first step/);
  });
});
