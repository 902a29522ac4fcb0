/**
 * `larder info` against real servers: text and --json, INFO from every Cluster node
 * (replicas too), cache figures read from a Prometheus endpoint, config from a module
 * (a config or a Larder), and the fast, clear failures: no Redis, an unreachable server.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createLarder, type Larder } from '../../src/larder.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { freePort } from '../support/redis-server.js';
import { configFor } from './fixtures/config.mjs';
import { CONFIG_MODULE, LARDER_MODULE, larder, parsed } from './support.js';

const METRICS = `# HELP larder_cache_hits_total Lookups that found a value.
# TYPE larder_cache_hits_total counter
larder_cache_hits_total{cache="pages"} 30
larder_cache_misses_total{cache="pages"} 10
larder_cache_operations_total{cache="pages",op="get"} 40
larder_cache_operations_total{cache="pages",op="set"} 10
larder_cache_operation_errors_total{cache="pages",op="get"} 1
larder_cache_hits_total{cache="odd \\"name\\""} 1
larder_cache_misses_total{cache="odd \\"name\\""} 0
larder_session_loads_total 5
`;

describe('larder info (standalone, config module)', () => {
  const url = redisUrlFor('standalone')!;
  const prefix = uniquePrefix('cli-info');
  const env = { CLI_TEST_REDIS: url, CLI_TEST_PREFIX: prefix };
  let metrics: Server;
  let metricsUrl: string;
  let app: Larder;

  before(async () => {
    // At least one key, so the server's keyspace has a db0 line.
    app = createLarder(configFor(url, prefix));
    await app.cache('pages').set('home', 'h', { timeout: 60 });
    metrics = createServer((req, res) => {
      // /secure wants Basic auth as user:s3cret.
      const basic = `Basic ${Buffer.from('user:s3cret').toString('base64')}`;
      if (req.url === '/secure' && req.headers.authorization !== basic) {
        res.statusCode = 401;
        res.end();
        return;
      }
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end(METRICS);
    });
    await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve));
    metricsUrl = `http://127.0.0.1:${(metrics.address() as AddressInfo).port}/metrics`;
  });
  after(async () => {
    await new Promise<void>((resolve) => metrics.close(() => resolve()));
    await app.cache('pages').clear();
    await app.close();
  });

  test('text: health, every server, and each cache from the metrics endpoint', async () => {
    const run = await larder(['--config', CONFIG_MODULE, 'info', '--metrics-url', metricsUrl], env);
    assert.equal(run.code, 0, run.stderr);
    const out = run.stdout;
    assert.match(out, /^status: ok$/m);
    assert.match(
      out,
      /^ {2}up {3}standalone commands redis:\/\/127\.0\.0\.1:\d+\/0 {2}[\d.]+ ms {2}required/m,
    );
    assert.match(out, /^ {2}127\.0\.0\.1:\d+ {2}primary {2}redis \d+\.\d+\.\d+ \(standalone\)$/m);
    assert.match(out, /^ {4}memory {4}\S+ used, \S+ peak, maxmemory none \(\S+\)$/m);
    assert.match(out, /^ {4}keyspace {2}db0 keys=\d+ expires=\d+/m);
    assert.match(out, /^ {4}hits {6}(\d+\.\d%|n\/a) \(\d+ hits, \d+ misses\), \d+ evicted$/m);
    assert.match(
      out,
      /^ {2}pages +hit ratio 75\.0% {2}hits 30 {2}misses 10 {2}errors 1 {2}ops get=40 set=10$/m,
    );
  });

  test('--metrics-url with credentials: sent as Basic auth, never printed', async () => {
    const secure = metricsUrl.replace('http://', 'http://user:s3cret@').replace('/metrics', '/secure');
    const ok = await larder(['--config', CONFIG_MODULE, '--json', 'info', '--metrics-url', secure], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(JSON.parse(ok.stdout).metrics.caches, 'the figures were read');
    assert.doesNotMatch(ok.stdout + ok.stderr, /s3cret/);
    const wrong = secure.replace('s3cret', 'wr0ng');
    const refused = await larder(['--config', CONFIG_MODULE, 'info', '--metrics-url', wrong], env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /HTTP 401/);
    assert.match(refused.stderr, /user:\*\*\*@/);
    assert.doesNotMatch(refused.stdout + refused.stderr, /wr0ng/);
  });

  test('--json: the same report, machine-readable', async () => {
    const run = await larder(['--config', CONFIG_MODULE, '--json', 'info', '--metrics-url', metricsUrl], env);
    assert.equal(run.code, 0, run.stderr);
    const report = parsed(run);
    assert.equal(report.status, 'ok');
    const conn = report.connections.find((c: any) => c.role === 'commands');
    assert.equal(conn.status, 'up');
    assert.equal(conn.required, true);
    assert.ok(conn.usedBy.includes('sessions') && conn.usedBy.includes('cache:pages'));
    assert.equal(report.servers.length, 1);
    const [server] = report.servers;
    assert.equal(server.role, 'primary');
    assert.match(server.version, /^\d+\.\d+\.\d+$/);
    assert.equal(typeof server.usedMemory, 'number');
    assert.equal(typeof server.connectedClients, 'number');
    assert.equal(typeof server.keyspace.db0.keys, 'number');
    assert.equal(server.maxmemory, 0);
    assert.deepEqual(report.metrics.caches.pages, {
      hits: 30,
      misses: 10,
      hitRatio: 0.75,
      ops: { get: 40, set: 10 },
      errors: 1,
    });
    assert.equal(report.metrics.caches['odd "name"'].hitRatio, 1);
  });

  test('--config may export a Larder instead of a config', async () => {
    const run = await larder(['--config', LARDER_MODULE, '--json', 'info'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(parsed(run).status, 'ok');
  });
});

test('larder info on Cluster: every node, replicas too, each PINGed', async () => {
  const run = await larder(['info', '--json'], { REDIS_URL: redisUrlFor('cluster')! });
  assert.equal(run.code, 0, run.stderr);
  const report = parsed(run);
  const conn = report.connections.find((c: any) => c.role === 'commands');
  assert.equal(conn.topology, 'cluster');
  assert.equal(conn.servers.filter((s: any) => s.role === 'primary' && s.status === 'up').length, 3);
  assert.equal(conn.servers.filter((s: any) => s.role === 'replica' && s.status === 'up').length, 3);
  const roles = report.servers.map((s: any) => s.role).sort();
  assert.deepEqual(roles, ['primary', 'primary', 'primary', 'replica', 'replica', 'replica']);
  for (const server of report.servers) assert.equal(server.mode, 'cluster', JSON.stringify(server));
});

describe('larder info: failing fast and clearly', () => {
  test('an unreachable server: exit 2, the URL with its password masked, what to do', async () => {
    const port = await freePort();
    const run = await larder(['info'], { REDIS_URL: `redis://:s3cret@127.0.0.1:${port}` });
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.equal(
      run.stderr,
      `larder: cannot reach redis://:***@127.0.0.1:${port}/0 (ECONNREFUSED) — is redis-server running? Set REDIS_URL or --config.\n`,
    );
  });

  test('no Redis configured: exit 2 and how to configure one', async () => {
    const run = await larder(['info']);
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /^larder: larder info needs Redis, and none is configured .*Set REDIS_URL or --config\./,
    );
  });

  test('a malformed REDIS_URL / LARDER_REDIS_URL: exit 2, blamed on that variable, not on a config key', async () => {
    // It used to say "Invalid config at redis.url", a key the user never wrote.
    const generic = await larder(['info'], { REDIS_URL: 'localhost:6379' });
    assert.equal(generic.code, 2);
    assert.match(generic.stderr, /^larder: E_CONFIG: Invalid config at env\.REDIS_URL: got "localhost:6379"/);
    const own = await larder(['keys'], { LARDER_REDIS_URL: 'redis://h:0', REDIS_URL: 'redis://127.0.0.1:1' });
    assert.equal(own.code, 2);
    assert.match(own.stderr, /^larder: E_CONFIG: Invalid config at env\.LARDER_REDIS_URL: .*1 to 65535/);
  });

  test('a --config module that does not exist: exit 2', async () => {
    const run = await larder(['--config', 'test/cli/fixtures/missing.mjs', 'info']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^larder: --config test\/cli\/fixtures\/missing\.mjs: no such file/);
  });
});
