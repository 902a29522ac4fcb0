/**
 * @module A small Server-Sent Events client for tests, over node:http: parses the stream as
 * the WHATWG algorithm does (fields, comments, `id` kept across events, empty-data events
 * not dispatched but still moving `lastEventId`), and lets a test wait for events.
 *
 * @example
 * const client = await openSse(`${base}/events`, { lastEventId: '1700000000000-0' });
 * await client.waitFor(3);
 * client.close();
 */
import http from 'node:http';

/** One dispatched event. */
export interface SseEvent {
  id: string;
  event: string;
  data: string;
}

export interface SseClient {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Dispatched events, in arrival order. */
  events: SseEvent[];
  /** Comment lines seen (heartbeats). */
  comments: number;
  /** The last event ID as a browser would hold it. */
  lastEventId: string;
  /** The body, for non-200 answers. */
  body(): string;
  /** Resolves once `count` events arrived (or `predicate` holds); rejects after `timeoutMs`. */
  waitFor(count: number | ((client: SseClient) => boolean), timeoutMs?: number): Promise<void>;
  /** Resolves when the server ends or drops the connection. */
  ended: Promise<void>;
  /** Pauses/resumes reading the socket (a slow client). */
  pause(): void;
  resume(): void;
  close(): void;
}

/** Opens `url`; resolves once the response head arrived. */
export function openSse(
  url: string,
  options: { lastEventId?: string; headers?: Record<string, string> } = {},
): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
    const request = http.get(url, { headers, agent: false }, (response) => {
      response.setEncoding('utf8');
      let buffer = '';
      let raw = '';
      let data: string[] = [];
      let type = '';
      let idBuffer = options.lastEventId ?? '';
      const waiters = new Set<() => void>();
      let endResolve!: () => void;
      const ended = new Promise<void>((r) => {
        endResolve = r;
      });
      const client: SseClient = {
        status: response.statusCode ?? 0,
        headers: response.headers,
        events: [],
        comments: 0,
        lastEventId: idBuffer,
        body: () => raw,
        waitFor(count, timeoutMs = 10_000) {
          const done = typeof count === 'number' ? () => client.events.length >= count : () => count(client);
          if (done()) return Promise.resolve();
          return new Promise((ok, fail) => {
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(
                new Error(
                  `SSE: condition not met within ${timeoutMs} ms; ${client.events.length} events: ${JSON.stringify(client.events.slice(-5))}`,
                ),
              );
            }, timeoutMs);
            const check = () => {
              if (!done()) return;
              clearTimeout(timer);
              waiters.delete(check);
              ok();
            };
            waiters.add(check);
          });
        },
        ended,
        pause: () => response.pause(),
        resume: () => response.resume(),
        close: () => {
          request.destroy();
        },
      };
      const line = (text: string) => {
        if (text === '') {
          client.lastEventId = idBuffer;
          if (data.length)
            client.events.push({ id: idBuffer, event: type || 'message', data: data.join('\n') });
          data = [];
          type = '';
          return;
        }
        if (text.startsWith(':')) {
          client.comments++;
          return;
        }
        const colon = text.indexOf(':');
        const field = colon === -1 ? text : text.slice(0, colon);
        let value = colon === -1 ? '' : text.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'event') type = value;
        else if (field === 'id' && !value.includes('\u0000')) idBuffer = value;
      };
      response.on('data', (chunk: string) => {
        if (client.status !== 200) {
          raw += chunk;
          return;
        }
        buffer += chunk;
        for (;;) {
          const match = /\r\n|\r|\n/.exec(buffer);
          if (!match) break;
          line(buffer.slice(0, match.index));
          buffer = buffer.slice(match.index + match[0].length);
        }
        for (const waiter of [...waiters]) waiter();
      });
      const finish = () => {
        endResolve();
        for (const waiter of [...waiters]) waiter();
      };
      response.on('end', finish);
      response.on('close', finish);
      response.on('error', finish);
      resolve(client);
    });
    request.on('error', reject);
  });
}
