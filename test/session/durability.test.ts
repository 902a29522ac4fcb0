/**
 * `sessions.durability: 'replicated'`: a session write (create, update, incr, destroy) is
 * acknowledged only once a replica has it (`WAIT 1 <commandTimeout>` on the write's
 * socket); with no replica answering it fails with a 503 BackendUnavailableError that says
 * the write may not survive a failover. The config check and the default ('async').
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resolveConfig } from '../../src/config/schema.js';
import { BackendUnavailableError, ConfigError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { type ReplicatedRedis, startReplicated } from '../support/redis-server.js';

const notDurable = (error: unknown) => {
  assert.ok(error instanceof BackendUnavailableError, String(error));
  assert.equal(error.status, 503);
  assert.match(error.message, /no replica acknowledged the session write within 1000 ms/);
  assert.match(error.message, /sessions\.durability 'replicated'/);
  return true;
};

describe('sessions.durability config', () => {
  test("defaults to 'async'; 'replicated' needs engine 'redis'; anything else is refused by name", () => {
    assert.equal(resolveConfig({}, {}).sessions.durability, 'async');
    const redis = resolveConfig({ redis: 'redis://h', sessions: { durability: 'replicated' } }, {});
    assert.equal(redis.sessions.durability, 'replicated');
    assert.throws(
      () => resolveConfig({ sessions: { engine: 'memory', durability: 'replicated' } }, {}),
      (error: unknown) =>
        error instanceof ConfigError &&
        /sessions\.durability/.test(error.message) &&
        /only engine 'redis'/.test(error.message),
    );
    assert.throws(
      () => resolveConfig({ sessions: { durability: 'sync' as never } }, {}),
      (error: unknown) => error instanceof ConfigError && /sessions\.durability/.test(error.message),
    );
  });
});

describe("durability 'replicated' on a primary with one replica", () => {
  let redis: ReplicatedRedis;
  let larder: Larder;
  const prefix = uniquePrefix('durable');
  const onReplica = async (id: string) => redis.replicas[0]!.command('HGETALL', `${prefix}:${id}`);

  before(async () => {
    redis = await startReplicated({ replicas: 1 });
    larder = createLarder(
      {
        logger: false,
        sessions: {
          location: { url: redis.primary.url, commandTimeout: '1s' },
          prefix,
          durability: 'replicated',
        },
      },
      {},
    );
  });
  after(async () => {
    redis?.replicas[0]?.resume();
    await larder?.close();
    await redis?.stop();
  });

  test('an acknowledged save, incr and destroy are already on the replica', async () => {
    const session = larder.sessions.open();
    await session.set('cart', ['kettle']);
    await session.save();
    const id = session.key as string;
    // No polling: the acknowledgement itself means the replica has it.
    assert.ok(
      ((await onReplica(id)) as string[]).includes('d:cart'),
      'the created session is on the replica',
    );
    assert.equal(await session.incr('qty', 2), 2);
    const fields = (await onReplica(id)) as string[];
    assert.equal(fields[fields.indexOf('d:qty') + 1], '2', 'the incremented counter is on the replica');
    await session.set('note', 'x');
    await session.save();
    assert.ok(((await onReplica(id)) as string[]).includes('d:note'), 'the update is on the replica');
    await session.flush();
    assert.deepEqual(await onReplica(id), [], 'the destroyed session is gone from the replica');
  });

  test('a stopped replica (SIGSTOP): the write fails with 503 instead of being acknowledged', async () => {
    const session = larder.sessions.open();
    await session.set('a', 1);
    await session.save();
    redis.replicas[0]!.pause();
    try {
      await session.set('a', 2);
      await assert.rejects(session.save(), notDurable);
      const fresh = larder.sessions.open();
      await fresh.set('b', 1);
      await assert.rejects(fresh.save(), notDurable, 'a new session is not acknowledged either');
    } finally {
      redis.replicas[0]!.resume();
    }
    // Once the replica answers again, writes are acknowledged again.
    const again = larder.sessions.open({ cookie: session.key as string });
    await again.set('a', 3);
    await again.save();
    assert.equal(await again.incr('n'), 1);
  });
});

test("durability 'replicated' on a server without replicas: every write is refused (503), reads work", async () => {
  const larder = createLarder(
    {
      logger: false,
      sessions: {
        location: { url: redisUrlFor('standalone') as string, commandTimeout: '1s' },
        prefix: uniquePrefix('durable-none'),
        durability: 'replicated',
      },
    },
    {},
  );
  try {
    const session = larder.sessions.open();
    await session.set('a', 1);
    await assert.rejects(session.save(), notDurable);
    assert.equal(await larder.sessions.open({ cookie: 'x'.repeat(43) }).get('a'), undefined);
  } finally {
    await larder.close();
  }
});

test("durability 'replicated' on Cluster (a replica per primary): writes are acknowledged", async () => {
  const larder = createLarder(
    {
      logger: false,
      sessions: {
        location: { url: redisUrlFor('cluster') as string, commandTimeout: '1s' },
        prefix: uniquePrefix('durable-cluster'),
        durability: 'replicated',
      },
    },
    {},
  );
  try {
    for (let i = 0; i < 5; i++) {
      const session = larder.sessions.open();
      await session.set('i', i);
      await session.save();
      assert.equal(await session.incr('n', i), i);
      const reopened = larder.sessions.open({ cookie: session.key as string });
      assert.equal(await reopened.get('i'), i);
    }
  } finally {
    await larder.close();
  }
});
