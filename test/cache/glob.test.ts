import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createClient } from 'redis';
import { escapeGlob, globMatcher, globToRegExp } from '../../src/cache/glob.js';

/**
 * Redis' `stringmatchlen` rules restated as a plain recursive matcher over UTF-8 bytes — a
 * second, independent reading of the same rules to check the compiled one against.
 */
function referenceMatch(pattern: string, key: string): boolean {
  if (pattern === '*') return true; // KEYS / SCAN skip matching for a lone '*'
  const p = Buffer.from(pattern);
  const s = Buffer.from(key);
  const at = (pi: number, si: number): boolean => {
    while (pi < p.length && si < s.length) {
      const c = p[pi];
      if (c === 0x2a) {
        while (p[pi + 1] === 0x2a) pi++;
        if (pi + 1 === p.length) return true;
        for (let k = si; k < s.length; k++) if (at(pi + 1, k)) return true;
        return false;
      }
      if (c === 0x3f) {
        pi++;
      } else if (c === 0x5b) {
        pi++;
        const negated = p[pi] === 0x5e && pi < p.length;
        if (negated) pi++;
        let hit = false;
        for (;;) {
          if (pi >= p.length) break;
          if (p[pi] === 0x5c && pi + 1 < p.length) {
            if (p[pi + 1] === s[si]) hit = true;
            pi += 2;
          } else if (p[pi] === 0x5d) {
            pi++;
            break;
          } else if (pi + 2 < p.length && p[pi + 1] === 0x2d) {
            const lo = Math.min(p[pi], p[pi + 2]);
            const hi = Math.max(p[pi], p[pi + 2]);
            if (s[si] >= lo && s[si] <= hi) hit = true;
            pi += 3;
          } else {
            if (p[pi] === s[si]) hit = true;
            pi++;
          }
        }
        if (hit === negated) return false;
      } else if (c === 0x5c && pi + 1 < p.length) {
        if (p[pi + 1] !== s[si]) return false;
        pi += 2;
      } else {
        if (c !== s[si]) return false;
        pi++;
      }
      si++;
      if (si === s.length) while (p[pi] === 0x2a) pi++;
    }
    return pi === p.length && si === s.length;
  };
  return at(0, 0);
}

const TRICKY_KEYS = [
  '',
  'a',
  'b',
  'ab',
  'ba',
  'abc',
  'aXc',
  'a*b',
  'a?b',
  'a[b',
  'a]b',
  'a\\b',
  'a-b',
  'a^b',
  'a!b',
  'a.b',
  'hello',
  'hallo',
  'hxllo',
  'hllo',
  'heeeello',
  'héllo',
  'é',
  'ü',
  '日本',
  'emoji 😀',
  'user:1',
  'user:10',
  'user:x',
  ':1:shop',
  'shop:1:cart',
  'x\ny',
  'tab\tkey',
  'sp ace',
  '-',
  ']',
  '[',
  '\\',
  '*',
  '?',
  '^',
  '!',
  '[]',
  'a-',
  'a]',
  'A',
  'Z',
  '_',
  '`',
  'b-a',
  '$(x)',
];

const PATTERNS = [
  '*',
  '',
  '**',
  'h?llo',
  'h??llo',
  'h*llo',
  'h[ae]llo',
  'h[^e]llo',
  'h[!e]llo',
  'h[a-b]llo',
  'h[b-a]llo',
  '[a-]',
  '[a-]b]',
  'a[]b',
  'a[^]b',
  '[]]',
  '[',
  '[^',
  'a[b',
  '[a-c',
  String.raw`a\*b`,
  String.raw`a\?b`,
  String.raw`a\[b`,
  String.raw`a\]b`,
  String.raw`a\\b`,
  String.raw`a\b`,
  String.raw`a\\`,
  '\\',
  String.raw`a[\]]b`,
  String.raw`[\-]`,
  String.raw`a[\^]b`,
  '?',
  '??',
  'é',
  'user:[0-9]*',
  'user:[0-9]',
  '*:*',
  ':1:*',
  '[*]',
  '[?]',
  '*[',
  String.raw`*\\`,
  '*\t*',
  '[^a-c]',
  '*a*b*',
  '[--0]',
  '日*',
  '*😀',
  '[A-Z_`]',
  '$(*)',
];

describe('globMatcher', () => {
  const cases: Array<[pattern: string, key: string, expected: boolean]> = [
    ['user:*', 'user:42', true],
    ['user:*', 'user', false],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['h*llo', 'hllo', true],
    ['h*llo', 'heeeello', true],
    ['h[ae]llo', 'hallo', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[!e]llo', 'h!llo', true], // only '^' negates in Redis
    ['h[!e]llo', 'hallo', false],
    ['h[a-b]llo', 'hbllo', true],
    ['h[b-a]llo', 'hallo', true], // reversed range
    [String.raw`a\*b`, 'a*b', true],
    [String.raw`a\*b`, 'aXb', false],
    ['a\\', 'a\\', true], // trailing lone backslash is literal
    ['a[]b', 'ab', false],
    ['a[^]b', 'aXb', true],
    ['[abc', 'b', true], // unterminated set runs to the end
    ['?', 'é', false], // per byte: é is two bytes
    ['??', 'é', true],
    ['*', '', true],
    ['**', '', false],
    ['', '', true],
    ['*a*a*a*a*a*a*a*a*b', 'a'.repeat(50), false],
  ];
  for (const [pattern, key, expected] of cases) {
    it(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(key)}`, () => {
      assert.equal(globMatcher(pattern)(key), expected);
    });
  }

  it('agrees with the reference rules on every tricky key and pattern', () => {
    for (const pattern of PATTERNS) {
      for (const key of TRICKY_KEYS) {
        assert.equal(globMatcher(pattern)(key), referenceMatch(pattern, key), `${pattern} vs ${key}`);
      }
    }
  });

  it('agrees with the reference rules on random patterns (property)', () => {
    const glyphs = fc.constantFrom('a', 'b', 'c', '-', '^', '!', '[', ']', '\\', '*', '?', 'é');
    fc.assert(
      fc.property(
        fc.string({ unit: glyphs, maxLength: 10 }),
        fc.string({ unit: fc.constantFrom('a', 'b', 'c', '-', '^', '[', ']', '\\', '*', 'é'), maxLength: 8 }),
        (pattern, key) => globMatcher(pattern)(key) === referenceMatch(pattern, key),
      ),
      { numRuns: 20_000 },
    );
  });

  it('never backtracks catastrophically: many stars on a long key stay fast', () => {
    const started = performance.now();
    const match = globMatcher('*a*a*a*a*a*a*a*a*a*a*a*a*b');
    assert.equal(match('a'.repeat(5_000)), false);
    assert.equal(match(`${'a'.repeat(5_000)}b`), true);
    assert.ok(performance.now() - started < 500, 'matching took longer than 500 ms');
  });

  it('stays correct after the compiled-pattern cache overflows', () => {
    for (let i = 0; i < 1_000; i++) assert.equal(globMatcher(`k${i}:*`)(`k${i}:x`), true);
    assert.equal(globMatcher('k0:*')('k1:x'), false);
  });
});

describe('globToRegExp', () => {
  it('compiles to a stateless RegExp over the key bytes', () => {
    const re = globToRegExp('user:[0-9]*');
    assert.equal(re.flags, '');
    assert.equal(re.test('user:7'), true);
    assert.equal(re.test('user:7'), true);
    assert.equal(re.test('user:x'), false);
    assert.equal(globToRegExp('?').test(Buffer.from('é').toString('latin1')), false);
  });

  it('returns the cached RegExp for the same pattern', () => {
    assert.equal(globToRegExp('a*b*c'), globToRegExp('a*b*c'));
  });
});

describe('escapeGlob', () => {
  it('escapes * ? [ ] and \\ only', () => {
    assert.equal(escapeGlob('a*b?c[d]e\\f^g!h-i'), String.raw`a\*b\?c\[d\]e\\f^g!h-i`);
  });

  it('makes a*b literal', () => {
    const match = globMatcher(escapeGlob('a*b'));
    assert.equal(match('a*b'), true);
    assert.equal(match('aXb'), false);
    assert.equal(match('ab'), false);
  });

  it('an escaped string matches itself and nothing else (property)', () => {
    const text = fc.string({
      unit: fc.oneof(
        fc.constantFrom('*', '?', '[', ']', '\\', '^', '-'),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      ),
    });
    const other = (s: string) =>
      fc.oneof(
        text,
        fc.constant(`${s}x`),
        fc.constant(s.slice(0, -1)),
        fc.constant(s.slice(1)),
        fc.nat({ max: Math.max(0, s.length - 1) }).map((i) => `${s.slice(0, i)}?${s.slice(i + 1)}`),
      );
    fc.assert(
      fc.property(
        text.chain((s) => fc.tuple(fc.constant(s), other(s))),
        ([s, t]) => {
          const match = globMatcher(escapeGlob(s));
          return match(s) && (t === s || !match(t));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

/** Asks the OS for a free loopback port. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('globMatcher agrees with a real redis-server KEYS', () => {
  let server: ChildProcess | undefined;
  let dir: string | undefined;
  let client: ReturnType<typeof createClient> | undefined;
  // If the test process dies before `after` runs, still take the server down.
  const killOnExit = () => server?.kill('SIGKILL');

  before(async () => {
    const port = await freePort();
    dir = mkdtempSync(path.join(os.tmpdir(), 'larder-glob-'));
    process.once('exit', killOnExit);
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    server = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('redis-server did not start within 10 s')), 10_000);
      let log = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(
          new Error(`Cannot start redis-server (${error.message}); install it: apt-get install redis-server`),
        );
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code} before it was ready:\n${log}`));
      });
    });
    client = createClient({ url: `redis://127.0.0.1:${port}` });
    await client.connect();
    await Promise.all(TRICKY_KEYS.map((key) => client!.set(key, '1')));
  });

  after(async () => {
    await client?.close().catch(() => client?.destroy());
    const child = server;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    }
    process.off('exit', killOnExit);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const expected = (pattern: string) => TRICKY_KEYS.filter(globMatcher(pattern)).sort();
  const actual = async (pattern: string) => (await client!.keys(pattern)).sort();

  it(`on ${PATTERNS.length} hand-picked patterns`, async () => {
    assert.equal((await client!.dbSize()) as number, TRICKY_KEYS.length);
    for (const pattern of PATTERNS) {
      assert.deepEqual(expected(pattern), await actual(pattern), `pattern ${JSON.stringify(pattern)}`);
    }
  });

  it('on 300 random patterns', async () => {
    const glyphs = fc.constantFrom(
      'a',
      'b',
      'h',
      'l',
      'o',
      '-',
      '^',
      '!',
      '[',
      ']',
      '\\',
      '*',
      '?',
      'é',
      ':',
    );
    const patterns = fc.sample(fc.string({ unit: glyphs, maxLength: 8 }), { numRuns: 300, seed: 42 });
    const replies = await Promise.all(patterns.map(actual));
    patterns.forEach((pattern, i) => {
      assert.deepEqual(expected(pattern), replies[i], `pattern ${JSON.stringify(pattern)}`);
    });
  });
});
