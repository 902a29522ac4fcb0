import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LOCATION_FORMS, parseLocation, redactUrl } from '../../src/config/location.js';
import type {
  ClusterLocation,
  ExternalRedisClient,
  LocationInput,
  ReplicatedLocation,
  SentinelLocation,
  StandaloneLocation,
} from '../../src/config/types.js';
import { ConfigError } from '../../src/errors.js';

const PATH = 'caches.default.location';
const parse = (input: unknown) => parseLocation(input as LocationInput, PATH);

function rejects(input: unknown, path: string, ...includes: string[]): ConfigError {
  let caught: unknown;
  try {
    parse(input);
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof ConfigError,
    `expected ConfigError for ${JSON.stringify(input)}, got ${String(caught)}`,
  );
  assert.equal(caught.path, path);
  assert.ok(caught.expected.includes(LOCATION_FORMS), 'expected lists the accepted forms');
  for (const text of includes)
    assert.ok(caught.message.includes(text), `${JSON.stringify(text)} not in: ${caught.message}`);
  return caught;
}

const timing = { connectTimeout: 5000, commandTimeout: 1000, poolSize: 1 };

describe('parseLocation: redis:// and rediss://', () => {
  it('host only: port 6379, db 0, no TLS, default timeouts', () => {
    assert.deepEqual(parse('redis://localhost'), {
      kind: 'standalone',
      host: 'localhost',
      port: 6379,
      db: 0,
      tls: false,
      ...timing,
    });
  });

  it('password, port and db', () => {
    const loc = parse('redis://:s3cret@127.0.0.1:6380/1') as StandaloneLocation;
    assert.equal(loc.password, 's3cret');
    assert.equal(loc.username, undefined);
    assert.equal(loc.port, 6380);
    assert.equal(loc.db, 1);
  });

  it('user and password are percent-decoded', () => {
    const loc = parse(
      'redis://app%40svc:p%40ss%3Aw%2Frd%23%3F%25@cache.internal:6379/2',
    ) as StandaloneLocation;
    assert.equal(loc.username, 'app@svc');
    assert.equal(loc.password, 'p@ss:w/rd#?%');
  });

  it('tolerates a raw @ in the password (the last @ ends the user info)', () => {
    const loc = parse('redis://user:p@ss@h:6379') as StandaloneLocation;
    assert.equal(loc.password, 'p@ss');
    assert.equal(loc.host, 'h');
  });

  it('user without password', () => {
    const loc = parse('redis://default@h') as StandaloneLocation;
    assert.equal(loc.username, 'default');
    assert.equal(loc.password, undefined);
  });

  it('IPv6 in brackets, with and without port, with a zone', () => {
    assert.equal((parse('redis://[::1]:6380/3') as StandaloneLocation).host, '::1');
    assert.equal((parse('redis://[::1]') as StandaloneLocation).port, 6379);
    assert.equal((parse('redis://[fe80::1%25eth0]:6379') as StandaloneLocation).host, 'fe80::1%eth0');
  });

  it('rediss:// turns TLS on; scheme is case-insensitive; whitespace around is trimmed', () => {
    assert.equal((parse('rediss://h') as StandaloneLocation).tls, true);
    assert.equal((parse('REDIS://h') as StandaloneLocation).host, 'h');
    assert.equal((parse('  redis://h:6379/4\n') as StandaloneLocation).db, 4);
  });

  it('trailing slash and db above 15 (databases raised in redis.conf)', () => {
    assert.equal((parse('redis://h/') as StandaloneLocation).db, 0);
    assert.equal((parse('redis://h/5/') as StandaloneLocation).db, 5);
    assert.equal((parse('redis://h/16') as StandaloneLocation).db, 16);
    assert.equal((parse(`redis://h/${2 ** 31 - 1}`) as StandaloneLocation).db, 2 ** 31 - 1);
  });

  it('query parameters: db, username, password, timeouts, poolSize', () => {
    const loc = parse(
      'redis://h?db=3&username=u&password=p%26w&connectTimeout=2s&commandTimeout=500ms&poolSize=4',
    ) as StandaloneLocation;
    assert.deepEqual(
      {
        db: loc.db,
        u: loc.username,
        p: loc.password,
        c: loc.connectTimeout,
        t: loc.commandTimeout,
        n: loc.poolSize,
      },
      { db: 3, u: 'u', p: 'p&w', c: 2000, t: 500, n: 4 },
    );
    assert.equal(
      (parse('redis://h?connectTimeout=3') as StandaloneLocation).connectTimeout,
      3000,
      'bare number = seconds',
    );
    assert.equal((parse('redis://h/2?db=2') as StandaloneLocation).db, 2, 'the same db twice is fine');
    assert.equal((parse('redis://h?') as StandaloneLocation).db, 0);
  });

  it('uses the given defaults for timeouts the URL does not set', () => {
    const loc = parseLocation('redis://h?commandTimeout=50ms', 'redis', {
      connectTimeout: 100,
      commandTimeout: 200,
    });
    assert.equal(loc.kind === 'standalone' && loc.connectTimeout, 100);
    assert.equal(loc.commandTimeout, 50);
  });
});

describe('parseLocation: unix sockets', () => {
  it('unix:///path?db=N&password=', () => {
    assert.deepEqual(parse('unix:///var/run/redis/redis.sock?db=2&password=pw'), {
      kind: 'standalone',
      host: 'localhost',
      port: 0,
      path: '/var/run/redis/redis.sock',
      db: 2,
      password: 'pw',
      tls: false,
      ...timing,
    });
  });

  it('credentials before the path, percent-decoded path, redis+unix:// alias', () => {
    const loc = parse('unix://user:pw@/tmp/my%20redis.sock') as StandaloneLocation;
    assert.equal(loc.username, 'user');
    assert.equal(loc.password, 'pw');
    assert.equal(loc.path, '/tmp/my redis.sock');
    assert.equal((parse('redis+unix:///tmp/r.sock') as StandaloneLocation).path, '/tmp/r.sock');
  });
});

describe('parseLocation: Sentinel', () => {
  it('hosts with default port 26379, master name and db', () => {
    const loc = parse('redis+sentinel://:pw@s1,s2:26380,[::1]/mymaster/2') as SentinelLocation;
    assert.equal(loc.kind, 'sentinel');
    assert.deepEqual(loc.sentinels, [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26380 },
      { host: '::1', port: 26379 },
    ]);
    assert.equal(loc.masterName, 'mymaster');
    assert.equal(loc.db, 2);
    assert.equal(loc.password, 'pw');
    assert.equal(loc.tls, false);
  });

  it('db defaults to 0; rediss+sentinel:// is TLS; master name is decoded', () => {
    const loc = parse('rediss+sentinel://s1/my%20master') as SentinelLocation;
    assert.equal(loc.db, 0);
    assert.equal(loc.tls, true);
    assert.equal(loc.masterName, 'my master');
  });
});

describe('parseLocation: Cluster', () => {
  it('seed nodes, default port 6379, credentials', () => {
    const loc = parse('redis+cluster://u:p@a:7000,b:7001,c') as ClusterLocation;
    assert.deepEqual(loc, {
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
        { host: 'c', port: 6379 },
      ],
      username: 'u',
      password: 'p',
      tls: false,
      ...timing,
    });
  });

  it('accepts /0 and ?db=0; rediss+cluster:// is TLS', () => {
    assert.equal(parse('redis+cluster://a:7000/0').kind, 'cluster');
    assert.equal(parse('redis+cluster://a:7000?db=0').kind, 'cluster');
    assert.equal((parse('rediss+cluster://a:7000') as ClusterLocation).tls, true);
  });
});

describe('parseLocation: replica lists', () => {
  it('primary first, replicas after, one db', () => {
    const loc = parse([
      'redis://:pw@primary:6379/1',
      'redis://replica1:6379/1',
      'rediss://replica2/1',
    ]) as ReplicatedLocation;
    assert.equal(loc.kind, 'replicas');
    assert.equal(loc.primary.host, 'primary');
    assert.deepEqual(
      loc.replicas.map((r) => [r.host, r.tls]),
      [
        ['replica1', false],
        ['replica2', true],
      ],
    );
    assert.equal(loc.db, 1);
    assert.equal(loc.password, 'pw', 'common fields come from the primary');
    assert.equal(loc.poolSize, 1);
  });

  it('a one-element list is just that server', () => {
    assert.equal(parse(['redis://only:6379/2']).kind, 'standalone');
  });
});

describe('parseLocation: options objects and clients', () => {
  it('explicit fields win over the URL', () => {
    const loc = parse({
      url: 'redis://user:urlpw@h:6379/1?commandTimeout=2s&poolSize=2',
      username: 'other',
      password: 'optpw',
      connectTimeout: '250ms',
      commandTimeout: 0.5,
      poolSize: 8,
    }) as StandaloneLocation;
    assert.deepEqual(
      [loc.username, loc.password, loc.connectTimeout, loc.commandTimeout, loc.poolSize, loc.db],
      ['other', 'optpw', 250, 500, 8, 1],
    );
  });

  it('tls: true or tls options turn TLS on', () => {
    assert.equal((parse({ url: 'redis://h', tls: true }) as StandaloneLocation).tls, true);
    const loc = parse({ url: 'redis://h', tls: { servername: 'cache.example' } }) as StandaloneLocation;
    assert.equal(loc.tls, true);
    assert.deepEqual(loc.tlsOptions, { servername: 'cache.example' });
    assert.equal((parse({ url: 'redis://h', tls: false }) as StandaloneLocation).tls, false);
  });

  it('options apply to every server of a replica list', () => {
    const loc = parse({
      url: ['redis://p', 'redis://r'],
      password: 'pw',
      commandTimeout: '200ms',
    }) as ReplicatedLocation;
    assert.equal(loc.password, 'pw');
    assert.equal(loc.primary.password, 'pw');
    assert.equal(loc.replicas[0].password, 'pw');
    assert.equal(loc.replicas[0].commandTimeout, 200);
  });

  it('options with a sentinel or cluster URL', () => {
    assert.equal(parse({ url: 'redis+sentinel://s/m', password: 'x' }).kind, 'sentinel');
    assert.equal((parse({ url: 'redis+cluster://a:7000', poolSize: 3 }) as ClusterLocation).poolSize, 3);
  });

  it('an existing client becomes an external location with the command timeout', () => {
    const client: ExternalRedisClient = { sendCommand: async () => 'PONG' };
    const loc = parseLocation(client, 'redis', { commandTimeout: 300 });
    assert.equal(loc.kind, 'external');
    assert.equal(loc.kind === 'external' && loc.client, client);
    assert.equal(loc.commandTimeout, 300);
  });
});

describe('parseLocation: rejected forms', () => {
  it('unknown schemes', () => {
    rejects('http://localhost:6379', PATH, "'http://' is not a Redis URL scheme", 'redis://');
    rejects('mongodb://localhost', PATH, "'mongodb://'");
    rejects('localhost:6379', PATH, 'starts with redis://');
    rejects('rediss+unix:///tmp/s', PATH, "'rediss+unix://'");
  });

  it('bad ports', () => {
    rejects('redis://h:0', PATH, "'0'", '1 to 65535');
    rejects('redis://h:65536', PATH, '1 to 65535');
    rejects('redis://h:abc', PATH, "'abc'");
    rejects('redis://h:', PATH, '1 to 65535');
    rejects('redis://h:-1', PATH, '1 to 65535');
    rejects('redis+cluster://a:7000,b:99999', PATH, '1 to 65535');
  });

  it('empty host lists and bad hosts', () => {
    rejects('redis://', PATH, 'no host');
    rejects('redis:///0', PATH, 'no host');
    rejects('redis://:6379', PATH, 'not a host name');
    rejects('redis+cluster://', PATH, 'no host');
    rejects('redis+cluster://a:1,,b:2', PATH, 'empty entry');
    rejects('redis+sentinel:///mymaster', PATH, 'no host');
    rejects('redis://ho st', PATH, 'not a host name');
    rejects('redis://::1:6379', PATH, 'wrap an IPv6 address in brackets');
    rejects('redis://[::1', PATH, 'IPv6');
    rejects('redis://[nothex]:1', PATH, 'IPv6');
    rejects('redis://[::1]6379', PATH, 'port after the bracket');
    rejects('', PATH, 'empty string');
  });

  it('db that is not a whole number from 0', () => {
    rejects('redis://h/x', PATH, "'x'", 'databases', 'redis.conf');
    rejects('redis://h/-1', PATH, 'whole number');
    rejects('redis://h/1.5', PATH, 'whole number');
    rejects(`redis://h/${2 ** 31}`, PATH, 'database number');
    rejects('redis://h/1/2', PATH, 'only the db number');
    rejects('redis://h?db=x', PATH, 'database number');
    rejects('redis://h/1?db=2', PATH, 'give it once');
  });

  it('cluster with a database number', () => {
    rejects('redis+cluster://a:7000/3', PATH, 'redis+cluster:// has no database number', 'keyPrefix');
    rejects('redis+cluster://a:7000?db=1', PATH, 'redis+cluster:// has no database number');
  });

  it('sentinel without master name, or with extra path', () => {
    rejects('redis+sentinel://s1:26379', PATH, 'name the master', '/mymaster');
    rejects('redis+sentinel://s1:26379/', PATH, 'name the master');
    rejects('redis+sentinel://s/m/1/2', PATH, '/mastername[/db]');
  });

  it('a redis:// URL with several hosts points to the right form', () => {
    rejects('redis://a,b', PATH, 'array of URLs', 'redis+sentinel://', 'redis+cluster://');
  });

  it('unix sockets without a path or with a host', () => {
    rejects('unix://', PATH, 'socket file');
    rejects('unix:///', PATH, 'socket file');
    rejects('unix://localhost/tmp/r.sock', PATH, 'no host', 'three slashes');
  });

  it('query parameters: unknown, repeated, bad values, twice-given credentials', () => {
    rejects('redis://h?timeout=5', PATH, "unknown query parameter 'timeout'", '?commandTimeout=');
    rejects('redis://h?db=1&db=1', PATH, 'given twice');
    rejects('redis://h?connectTimeout=soon', PATH, '?connectTimeout=', '2s');
    rejects('redis://h?commandTimeout=0', PATH, 'greater than zero');
    rejects('redis://h?poolSize=0', PATH, 'poolSize');
    rejects('redis://h?poolSize=two', PATH, 'poolSize');
    rejects('redis://:a@h?password=b', PATH, 'password once');
    rejects('redis://a@h?username=b', PATH, 'user name once');
  });

  it('fragments and broken percent-escapes', () => {
    rejects('redis://h#frag', PATH, '%23');
    rejects('redis://:pa%ZZ@h', PATH, 'broken %-escape', 'encodeURIComponent');
  });

  it('replica lists: empty, non-strings, non-standalone members, mixed dbs', () => {
    rejects([], PATH, 'empty list');
    rejects(['redis://p', 5], `${PATH}[1]`, 'URL string');
    rejects(['redis://p', 'redis+cluster://c:7000'], `${PATH}[1]`, 'standalone servers only', 'Cluster');
    rejects(['redis+sentinel://s/m'], `${PATH}[0]`, 'Sentinel');
    rejects(['redis://p/1', 'redis://r/2'], `${PATH}[1]`, 'same db', 'primary uses 1');
    rejects(['redis://p', 'http://r'], `${PATH}[1]`, "'http://'");
  });

  it('options objects: unknown keys, missing url, bad fields', () => {
    rejects(
      { url: 'redis://h', timeout: 5 },
      `${PATH}.timeout`,
      "'timeout' is not a location option",
      'commandTimeout',
    );
    rejects({ host: 'h' }, `${PATH}.host`, 'not a location option');
    rejects({ password: 'x' }, `${PATH}.url`, 'needs url');
    rejects({ url: 'redis://h:0' }, `${PATH}.url`, '1 to 65535');
    rejects({ url: ['redis://a/1', 'redis://b/2'] }, `${PATH}.url[1]`, 'same db');
    rejects({ url: 'redis://h', poolSize: 0 }, `${PATH}.poolSize`, '1 or more');
    rejects({ url: 'redis://h', poolSize: 1.5 }, `${PATH}.poolSize`, 'whole number');
    rejects({ url: 'redis://h', connectTimeout: 'soon' }, `${PATH}.connectTimeout`, '15m');
    rejects(
      { url: 'redis://h', commandTimeout: 0 },
      `${PATH}.commandTimeout`,
      'commandTimeout is a number of seconds',
    );
    rejects({ url: 'redis://h', username: 5 }, `${PATH}.username`, 'string');
    rejects({ url: 'redis://h', tls: 'yes' }, `${PATH}.tls`, 'tls.connect');
    rejects({ url: 'rediss://h', tls: false }, `${PATH}.tls`, 'use redis:// for plain TCP');
    rejects({ url: 'unix:///tmp/s', tls: true }, `${PATH}.tls`, 'unix sockets do not use TLS');
  });

  it('anything else', () => {
    for (const value of [undefined, null, 42, true, () => 'redis://h']) rejects(value, PATH, 'URL string');
  });

  it('never shows a password in the error', () => {
    const cases: Array<[unknown, string]> = [
      ['redis://:hunter2hunter2@h:0', PATH],
      ['redis://user:hunter2hunter2@h/x', PATH],
      ['redis://h:0?password=hunter2hunter2', PATH],
      [{ url: 'redis://:hunter2hunter2@h', bogus: 1 }, `${PATH}.bogus`],
      [{ url: 'redis://h', password: 'hunter2hunter2', poolSize: -1 }, `${PATH}.poolSize`],
      [{ url: 'redis://h:0', password: 'hunter2hunter2' }, `${PATH}.url`],
      [['redis://:hunter2hunter2@p', 'redis://:hunter2hunter2@r:0'], `${PATH}[1]`],
    ];
    for (const [input, path] of cases) {
      const error = rejects(input, path);
      assert.ok(!error.message.includes('hunter2'), error.message);
      assert.ok(!JSON.stringify(error.value).includes('hunter2'), JSON.stringify(error.value));
    }
    const error = rejects({ url: 'redis://h', password: 12345 }, `${PATH}.password`);
    assert.equal(error.value, '***');
  });

  it("a raw '?' in the password: says to encode it as %3F and prints no part of the password", () => {
    // The '?' used to start the query early: "unknown query parameter 'ter2hunter2@h:6379/0'".
    for (const url of [
      'redis://:hun?ter2hunter2@h:6379/0',
      'redis://u:hun?ter2=hunter2@h',
      'redis+sentinel://:hun?ter2@s/m',
    ]) {
      const error = rejects(url, PATH, '%3F');
      assert.ok(!error.message.includes('ter2'), error.message);
      assert.ok(!JSON.stringify(error.value).includes('ter2'), JSON.stringify(error.value));
    }
  });
});

describe('redactUrl', () => {
  it('renders every form without its password', () => {
    const cases: Array<[LocationInput, string]> = [
      ['redis://:s3cret@127.0.0.1:6379/1', 'redis://:***@127.0.0.1:6379/1'],
      ['redis://localhost', 'redis://localhost:6379/0'],
      ['rediss://app:s3cret@[::1]:6380/2', 'rediss://app:***@[::1]:6380/2'],
      [
        'redis+sentinel://:s3cret@h1:26379,h2:26380/mymaster',
        'redis+sentinel://:***@h1:26379,h2:26380/mymaster/0',
      ],
      ['redis+cluster://a:7000,b:7001', 'redis+cluster://a:7000,b:7001'],
      ['rediss+cluster://u:s3cret@a:7000', 'rediss+cluster://u:***@a:7000'],
      ['unix:///tmp/redis.sock?db=3&password=s3cret', 'unix://:***@/tmp/redis.sock?db=3'],
      [['redis://:s3cret@p/1', 'redis://r/1'], 'redis://:***@p:6379/1, redis://r:6379/1'],
      [{ url: 'redis://h', password: 's3cret' }, 'redis://:***@h:6379/0'],
      [{ sendCommand: async () => null }, '(external client)'],
    ];
    for (const [input, expected] of cases) {
      assert.equal(redactUrl(input), expected);
      assert.equal(redactUrl(parseLocation(input, 'x')), expected, 'same for the parsed location');
    }
  });

  it('encodes the user name and round-trips through parseLocation', () => {
    const redacted = redactUrl('redis://a%40b:pw@h:1/2');
    assert.equal(redacted, 'redis://a%40b:***@h:1/2');
    const back = parseLocation(redacted, 'x') as StandaloneLocation;
    assert.deepEqual(
      [back.username, back.password, back.host, back.port, back.db],
      ['a@b', '***', 'h', 1, 2],
    );
  });

  it('masks what it can of a URL that does not parse, and never throws', () => {
    assert.equal(redactUrl('redis://user:s3cret@h:0'), 'redis://user:***@h:0');
    assert.equal(redactUrl('redis://:pa/ss@h'), 'redis://:***@h');
    assert.equal(redactUrl('http://h?password=s3cret&x=1'), 'http://h?password=***&x=1');
    assert.equal(redactUrl(42 as unknown as string), '(invalid location)');
  });
});
