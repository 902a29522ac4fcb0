/**
 * Bad input to sessions (issue 12), over real HTTP on Express, on the redis (standalone),
 * memory and signed-cookie engines:
 *
 * - any `Cookie` header (garbage, truncated and forged signatures, huge, raw UTF-8 bytes,
 *   several `sessionid`s) answers with a fresh session or the real one it names — never
 *   a 500, never a session id the client made up, never another session's data;
 * - any payload a handler writes (un-serializable values, names UTF-8 cannot hold, oversized
 *   data) is saved whole or refused with a typed 4xx (413 for SessionTooLargeError), and the
 *   store, read back, holds the session as it was before the refused request.
 *
 * test/http/session.suite.ts fuzzes the Cookie header 100 times per adapter; this runs
 * thousands, adds forged signed cookies and payloads, and reads the store back.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import fc from 'fast-check';
import { adapt } from '../../src/adapters/express.js';
import { LarderError } from '../../src/errors.js';
import { createLarder, type Larder } from '../../src/larder.js';
import { isSessionId } from '../../src/session/ids.js';
import { redisUrlFor, uniquePrefix } from '../support/conformance.js';
import { codeUnit, hostileString } from './support.js';

const SECRET = 'bad-input-secret-0123456789abcdefghijklmnop';
const MAX_BYTES = 4096;
const ENGINES = ['redis', 'memory', 'signed-cookie'] as const;
const RUNS = { cookies: 600, payloads: 350 };

/** One raw HTTP/1.1 exchange over a socket, so any bytes can go in the Cookie header. */
interface RawAnswer {
  status: number;
  setCookies: Array<{ name: string; value: string }>;
  body: string;
}

function rawRequest(
  port: number,
  method: string,
  path: string,
  cookie: Buffer | null,
  body?: string,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = text.slice(0, split).split('\r\n');
      const status = Number(head[0]?.split(' ')[1]);
      const setCookies = head
        .filter((line) => /^set-cookie:/i.test(line))
        .map((line) => {
          const pair = line
            .slice(line.indexOf(':') + 1)
            .trim()
            .split(';')[0]!;
          const eq = pair.indexOf('=');
          return { name: pair.slice(0, eq), value: decodeURIComponent(pair.slice(eq + 1)) };
        });
      resolve({ status, setCookies, body: Buffer.from(text.slice(split + 4), 'latin1').toString('utf8') });
    });
    const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
    if (body !== undefined)
      lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
    const parts = [Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1')];
    if (cookie) parts.push(Buffer.from('Cookie: '), Buffer.from(cookie), Buffer.from('\r\n'));
    parts.push(Buffer.from('\r\n'), Buffer.from(body ?? '', 'utf8'));
    // Not end(): a half-closed socket may be dropped before the answer; Connection: close ends it.
    socket.write(Buffer.concat(parts));
  });
}

/** `length` pseudo-random bytes from `seed` (xorshift32), as base64: reproducible, and incompressible. */
function noise(length: number, seed: number): string {
  const bytes = Buffer.alloc(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes.toString('base64');
}

/** Server-side values a JSON body cannot carry, chosen by name. */
const POISONS: Record<string, () => unknown> = {
  function: () => () => 1,
  symbol: () => Symbol('s'),
  undefined: () => undefined,
  cycle: () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    return cycle;
  },
  int16: () => new Int16Array(2),
  huge: () => 'x'.repeat(MAX_BYTES + 10),
  bigint: () => 10n ** 30n,
  date: () => new Date(0),
};

function serve(larder: Larder) {
  const web = adapt(larder);
  const app = express();
  app.use(web.session());
  app.use(express.json({ limit: '1mb' }));
  app.get('/get', async (req, res) => {
    res.json({ key: req.session.key, data: Object.fromEntries(await req.session.entries()) });
  });
  app.post('/set', async (req, res) => {
    await req.session.set('fuzz', '1');
    res.type('text').send('ok');
  });
  app.get('/untouched', (_req, res) => {
    res.type('text').send('untouched');
  });
  // Sets every field of the body, then the named poison under `poisonName` (if any).
  app.post('/write', async (req, res) => {
    const { fields, poison, poisonName } = req.body as {
      fields: Record<string, unknown>;
      poison?: string;
      poisonName?: string;
    };
    for (const [name, value] of Object.entries(fields)) await req.session.set(name, value);
    if (poison) await req.session.set(poisonName ?? 'poison', POISONS[poison]!());
    res.type('text').send('written');
  });
  // A typed error is the client's doing: its status (400 unless it says otherwise); anything else is a 500.
  app.use(((error, _req, res, _next) => {
    if (error instanceof LarderError) res.status(error.status ?? 400).json({ code: error.code });
    else
      res
        .status(500)
        .type('text')
        .send(String(error?.stack ?? error));
  }) as express.ErrorRequestHandler);
  const server = app.listen(0, '127.0.0.1');
  return {
    ready: new Promise((resolve) => server.once('listening', resolve)),
    port: () => (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

for (const engine of ENGINES) {
  describe(`bad input: session cookies and payloads [${engine}]`, () => {
    let larder: Larder;
    let server: ReturnType<typeof serve>;
    /** The cookie value of a real session holding `KNOWN`. */
    let known: string;
    const KNOWN = { user: 'alice', fuzz: '1', cart: ['sku-1', 'é'] };

    /** The cookie value a saved session is sent back as. */
    const cookieOf = (session: ReturnType<Larder['sessions']['open']>) =>
      larder.sessions.store.kind === 'cookie' ? session.cookieValue() : session.key!;

    /** The session's data as the store has it, read through a fresh Session. */
    const readBack = async (cookie: string) =>
      Object.fromEntries(await larder.sessions.open({ cookie }).entries());

    before(async () => {
      const prefix = uniquePrefix('bad-session');
      const sessions =
        engine === 'redis'
          ? { engine, location: redisUrlFor('standalone'), prefix, maxBytes: MAX_BYTES }
          : engine === 'memory'
            ? { engine, maxBytes: MAX_BYTES }
            : { engine, secret: SECRET };
      larder = createLarder({ logger: false, redis: false, sessions } as never, {});
      server = serve(larder);
      await server.ready;
      const session = larder.sessions.open();
      for (const [name, value] of Object.entries(KNOWN)) await session.set(name, value);
      await session.save();
      known = cookieOf(session);
    });
    after(async () => {
      await server.close();
      await larder.close();
    });

    it('any Cookie header: a fresh session or the real one, never a 500 nor an id the client made up', async () => {
      const mutated = fc.oneof(
        fc.nat().map((n) => known.slice(0, n % known.length)),
        fc.tuple(fc.nat(), fc.constantFrom('A', '_', '-', '.', '0', '%', '~')).map(([n, c]) => {
          const at = n % known.length;
          return known.slice(0, at) + (known[at] === c ? 'B' : c) + known.slice(at + 1);
        }),
        fc.constant(`${known}x`),
        fc.constant(`${known}.${known}`),
        // A signed-cookie shape: payload.signature with a forged signature.
        fc
          .stringMatching(/^[A-Za-z0-9_-]{43}$/)
          .map((sig) => `${known.split('.').slice(0, -1).join('.') || known}.${sig}`),
      );
      const value = fc.oneof(
        { weight: 3, arbitrary: mutated },
        { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{43}$/) },
        { weight: 2, arbitrary: hostileString(60) },
        { weight: 1, arbitrary: fc.string({ unit: codeUnit, maxLength: 30 }) },
        { weight: 1, arbitrary: fc.integer({ min: 3_000, max: 20_000 }).map((n) => 'A'.repeat(n)) },
        { weight: 1, arbitrary: fc.constant(known) },
      );
      const pair = fc
        .tuple(
          fc.constantFrom('sessionid', 'sessionid', 'sessionid', 'SESSIONID', ' sessionid', 'x'),
          value,
          fc.constantFrom('; ', ';', ', ', ' '),
        )
        .map(([n, v, s]) => `${n}=${v}${s}`);
      const header = fc.oneof(
        { weight: 5, arbitrary: fc.array(pair, { minLength: 1, maxLength: 3 }).map((p) => p.join('')) },
        { weight: 1, arbitrary: hostileString(200) },
        { weight: 1, arbitrary: fc.constantFrom(`sessionid=${known}`, `x=1; sessionid=${known}; y=2`) },
      );
      const route = fc.constantFrom(['GET', '/get'], ['POST', '/set'], ['GET', '/untouched']);
      const seen = { fresh: 0, real: 0, refused: 0 };
      await fc.assert(
        fc.asyncProperty(header, route, async (text, [method, path]) => {
          // CR and LF would end the header: what arrives is the rest, which other cases cover.
          const wire = Buffer.from(text.replace(/[\r\n]/g, ''), 'utf8');
          const res = await rawRequest(server.port(), method!, path!, wire);
          assert.ok(res.status < 500, `status ${res.status}: ${res.body.slice(0, 300)}`);
          if (res.status === 431 || res.status === 400) {
            // Node refuses a header over its size limit, or bytes it cannot parse, before larder sees it.
            seen.refused++;
            return;
          }
          assert.equal(res.status, 200, res.body.slice(0, 300));
          const sent = wire.toString('latin1');
          const sentUtf8 = wire.toString('utf8');
          for (const cookie of res.setCookies.filter((c) => c.name === 'sessionid')) {
            if (cookie.value === '') continue;
            if (engine !== 'signed-cookie') {
              assert.ok(isSessionId(cookie.value), `a well-formed id: ${cookie.value.slice(0, 80)}`);
              if (cookie.value !== known)
                assert.ok(!sent.includes(cookie.value), 'never an id the client sent');
            } else if (cookie.value !== known) {
              assert.ok(!sentUtf8.includes(cookie.value), 'never a signed value the client sent');
            }
          }
          if (path === '/get') {
            const { data } = JSON.parse(res.body);
            if (Object.keys(data).length === 0) seen.fresh++;
            else {
              assert.deepStrictEqual(data, KNOWN, 'only the real session has data');
              assert.ok(sentUtf8.includes(known), 'the real session only for its real cookie');
              seen.real++;
            }
          }
          if (path === '/set')
            assert.ok(
              res.setCookies.some((c) => c.name === 'sessionid' && c.value !== ''),
              'a session was set',
            );
        }),
        { numRuns: RUNS.cookies },
      );
      assert.ok(seen.fresh > 20 && seen.real > 5, JSON.stringify(seen));
      // Healthy: the real session still reads back whole, over HTTP and from the store.
      const res = await rawRequest(
        server.port(),
        'GET',
        '/get',
        Buffer.from(`sessionid=${encodeURIComponent(known)}`),
      );
      assert.deepStrictEqual(JSON.parse(res.body).data, KNOWN);
      assert.deepStrictEqual(await readBack(known), KNOWN);
    });

    it('any payload: saved whole, or a typed 4xx and the stored session as it was', async () => {
      const fieldName = fc.oneof(
        hostileString(30).filter((n) => n.isWellFormed()),
        fc.constantFrom('__proto__', 'constructor'),
      );
      const payload = fc.record({
        fields: fc.dictionary(fieldName, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
        poison: fc.oneof(
          { weight: 3, arbitrary: fc.constant(undefined) },
          { weight: 2, arbitrary: fc.constantFrom(...Object.keys(POISONS)) },
        ),
        poisonName: fc.option(fc.oneof(fieldName, fc.constantFrom('\ud800', 'a\udfffb')), { nil: undefined }),
        // Random bytes as base64: data no compressor shrinks (the signed cookie compresses).
        bulk: fc.tuple(fc.nat(4_500), fc.integer()).map(([length, seed]) => noise(length, seed)),
      });
      const seen = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(payload, async ({ fields, poison, poisonName, bulk }) => {
          // A session with data of its own, stored before the request.
          const previous = { prev: `p-${bulk.length}`, list: [1, 2, 3] };
          const session = larder.sessions.open();
          for (const [name, value] of Object.entries(previous)) await session.set(name, value);
          await session.save();
          const cookie = cookieOf(session);
          const body = JSON.stringify({ fields: { ...fields, bulk }, poison, poisonName });
          const res = await rawRequest(
            server.port(),
            'POST',
            '/write',
            Buffer.from(`sessionid=${encodeURIComponent(cookie)}`),
            body,
          );
          seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
          assert.ok(
            res.status === 200 || res.status === 400 || res.status === 413,
            `status ${res.status}: ${res.body.slice(0, 300)}`,
          );
          const after = res.setCookies.find((c) => c.name === 'sessionid' && c.value !== '')?.value;
          const stored = await readBack(after ?? cookie);
          // Everything the handler set before any refusal, as the store gives it back.
          const whole: Record<string, unknown> = { ...previous, ...JSON.parse(body).fields };
          if (res.status === 200) {
            if (poison) {
              const value = POISONS[poison]!();
              Object.defineProperty(whole, poisonName ?? 'poison', {
                value,
                enumerable: true,
                writable: true,
                configurable: true,
              });
            }
            assert.deepStrictEqual(stored, whole, 'saved whole');
            return;
          }
          const problem = JSON.parse(res.body);
          assert.match(problem.code, /^E_[A-Z_]+$/);
          if (res.status === 413) {
            assert.equal(problem.code, 'E_SESSION_TOO_LARGE');
            assert.equal(after, undefined, 'a refused save sends no new session cookie');
            assert.deepStrictEqual(stored, previous, 'the refused save changed the stored session');
            return;
          }
          // 400: the refused value was never stored. As in Django, a 4xx still saves what the
          // handler set before it — whole, or not at all.
          if (Object.keys(stored).length === Object.keys(previous).length)
            assert.deepStrictEqual(stored, previous);
          else assert.deepStrictEqual(stored, whole, 'a 4xx saves what was set before the refusal, whole');
        }),
        { numRuns: RUNS.payloads },
      );
      for (const status of [200, 400, 413])
        assert.ok((seen.get(status) ?? 0) > 10, `few ${status}s: ${JSON.stringify([...seen])}`);
      assert.deepStrictEqual(await readBack(known), KNOWN, 'the real session is untouched');
    });
  });
}
