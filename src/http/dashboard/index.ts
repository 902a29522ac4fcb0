/**
 * The ops dashboard, framework-neutral: what `web.dashboard({ authorize })` serves in every
 * adapter (the adapters only mount it, hand in the request and send what comes back).
 *
 * Routes, relative to where it is mounted (all GET, all behind `authorize`):
 * - `/` — the page, server-rendered with the figures of the moment;
 * - `/stream` — Server-Sent Events: one JSON {@link DashboardFrame} per `interval`;
 * - `/info` — Redis `INFO` figures per connection (every node of a Cluster), JSON;
 * - `/keys?cache=<name>&sample=<n>` — the 20 biggest of up to `n` keys of a cache, JSON;
 * - `/assets/<file>` — uPlot, the page's script and stylesheet (hashed names, cached a year).
 *
 * Rates come from the difference of two `larder.metrics.snapshot()`s: one timer per
 * dashboard takes a snapshot each interval while at least one browser follows `/stream`,
 * and every follower gets the same frame.
 */
import { parseDuration } from '../../config/duration.js';
import { ConfigError, describeValue } from '../../errors.js';
import type { Larder } from '../../larder.js';
import type { MetricsSnapshot, QueueDepth } from '../../metrics/types.js';
import { within } from '../../within.js';
import { EVENT_STREAM_HEADERS, type EventOpening, type EventSink } from '../events.js';
import type { NeutralResponse } from '../health.js';
import { problemResponse } from '../problem.js';
import { dashboardAssets } from './assets.js';
import { biggestKeys, DEFAULT_SAMPLE, MAX_SAMPLE } from './keys.js';
import { PAGE_CSP, renderPage } from './page.js';
import { type DashboardFrame, frameBetween } from './rates.js';
import { redisInfo } from './redis-info.js';

export type { DashboardFrame } from './rates.js';

/** Options of `web.dashboard()`. */
export interface DashboardOptions<Req> {
  /**
   * Decides whether this request may see the dashboard; anything but `true` answers 403 with
   * no figure. Required: the dashboard shows key names and server details. It receives the
   * framework's request: Express `req`, Fastify `request`, Hono `Context`.
   */
  authorize: (request: Req) => boolean | Promise<boolean>;
  /** How often `/stream` sends a frame (seconds, or `'500ms'`); at least 100 ms. @default 1 */
  interval?: number | string;
  /** The page's heading and title. @default 'larder dashboard' */
  title?: string;
}

/** What the adapters ask the core: the request, its path below the mount point, its query, the mount path. */
export interface DashboardRequest<Req> {
  raw: Req;
  /** `/`, `/stream`, `/info`, `/keys`, `/assets/<file>`. */
  path: string;
  query: URLSearchParams;
  /** Where the dashboard is mounted (`/ops`), for the page's links. */
  base: string;
  /** A HEAD request: `/stream` answers its headers and opens no stream. */
  head?: boolean;
}

/** What the core answers: a response, or the `/stream` event stream to start (as `web.events()`). */
export type DashboardAnswer = EventOpening;

/** Session count is asked at most this often (it may SCAN). */
const SESSION_COUNT_EVERY_MS = 10_000;
/** How long the page and a stream's first frame wait for queue depths and the session count. */
const FIRST_ANSWERS_WAIT_MS = 1000;

/** Resolves when `promise` settles or after `ms`, whichever comes first; never rejects. */
const settledWithin = (promise: Promise<unknown>, ms: number): Promise<void> =>
  within(promise.then(noop, noop), ms, noop);
const noop = () => {};
/** A follower whose unsent bytes pass this is dropped (it reconnects when it can keep up). */
const MAX_BUFFERED = 256 * 1024;

const NO_STORE = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

/**
 * Checks the options once and returns the dashboard's request handler.
 *
 * @example
 * const dashboard = createDashboard(larder, { authorize: (req) => req.user?.staff === true });
 * const answer = await dashboard.handle({ raw: req, path: '/info', query, base: '/ops' });
 */
export function createDashboard<Req>(larder: Larder, options: DashboardOptions<Req>): Dashboard<Req> {
  return new Dashboard(larder, options);
}

export class Dashboard<Req> {
  readonly intervalMs: number;
  readonly title: string;
  readonly #larder: Larder;
  readonly #authorize: (request: Req) => boolean | Promise<boolean>;
  readonly #followers = new Set<EventSink>();
  #timer: NodeJS.Timeout | undefined;
  #previous: MetricsSnapshot | undefined;
  #last: DashboardFrame | undefined;
  #ticking = false;
  #sessionCount: { value: number | null; at: number } = { value: null, at: 0 };
  #countAsked: Promise<void> | undefined;
  #queues: Record<string, QueueDepth> = {};
  #queuesAsked: Promise<void> | undefined;

  constructor(larder: Larder, options: DashboardOptions<Req>) {
    if (typeof options !== 'object' || options === null || typeof options.authorize !== 'function') {
      throw new ConfigError(
        'dashboard.authorize',
        (options as { authorize?: unknown } | undefined)?.authorize,
        'a function (request) => boolean | Promise<boolean> that allows your operators only: the dashboard is denied unless it returns true',
      );
    }
    const ms = parseDuration(options.interval ?? 1, 'dashboard.interval') as number;
    if (ms < 100) throw new ConfigError('dashboard.interval', options.interval, 'at least 100 ms');
    if (options.title !== undefined && typeof options.title !== 'string')
      throw new ConfigError('dashboard.title', options.title, 'a string');
    this.#larder = larder;
    this.#authorize = options.authorize;
    this.intervalMs = ms;
    this.title = options.title ?? 'larder dashboard';
  }

  /**
   * Answers one request, or `undefined` when `path` is not one of the dashboard's (the
   * adapter passes it on). Authorization comes first: a denied request learns nothing.
   */
  async handle(request: DashboardRequest<Req>): Promise<DashboardAnswer | undefined> {
    const { path } = request;
    const asset = path.startsWith('/assets/') ? path.slice('/assets/'.length) : undefined;
    if (!(path === '/' || path === '' || path === '/stream' || path === '/info' || path === '/keys' || asset))
      return undefined;
    if ((await this.#authorize(request.raw)) !== true) {
      return respond(
        problemResponse({
          type: 'about:blank',
          title: 'Forbidden',
          status: 403,
          detail: 'This dashboard is for authorized operators only.',
        }),
      );
    }
    if (asset !== undefined) return respond(this.#asset(asset));
    switch (path) {
      case '/stream':
        // A HEAD has no body to stream into; opening one would leave a follower nobody reads.
        if (request.head) return respond({ status: 200, headers: { ...EVENT_STREAM_HEADERS }, body: '' });
        return this.#stream();
      case '/info':
        return respond(json(await redisInfo(this.#larder)));
      case '/keys':
        return respond(await this.#keys(request.query));
      default:
        return respond(await this.#page(request.base.replace(/\/+$/, '')));
    }
  }

  /** Browsers following `/stream` now. */
  get followers(): number {
    return this.#followers.size;
  }

  async #page(base: string): Promise<NeutralResponse> {
    const live = this.#timer !== undefined && this.#last !== undefined;
    const frame = live ? (this.#last as DashboardFrame) : await this.#frame(undefined, undefined, true);
    const info = await redisInfo(this.#larder);
    const body = renderPage({
      title: this.title,
      base,
      frame,
      over: live ? 'interval' : 'since start',
      info,
      cacheNames: Object.keys(this.#larder.config.caches),
      assets: dashboardAssets(),
    });
    return {
      status: 200,
      headers: {
        ...NO_STORE,
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': PAGE_CSP,
        'referrer-policy': 'no-referrer',
      },
      body,
    };
  }

  #asset(file: string): NeutralResponse {
    const found = dashboardAssets().byFile.get(file);
    if (!found) {
      return problemResponse({
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: `No dashboard asset named ${describeValue(file)}.`,
      });
    }
    return {
      status: 200,
      headers: {
        'content-type': found.type,
        // The name carries a hash of the content: a new version is a new URL.
        'cache-control': 'public, max-age=31536000, immutable',
        'x-content-type-options': 'nosniff',
      },
      body: found.body,
    };
  }

  async #keys(query: URLSearchParams): Promise<NeutralResponse> {
    const cache = query.get('cache') ?? 'default';
    const caches = Object.keys(this.#larder.config.caches);
    if (!caches.includes(cache)) {
      return problemResponse({
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: `No cache named ${describeValue(cache)}; configured: ${caches.join(', ')}.`,
      });
    }
    const raw = query.get('sample');
    const sample = raw === null || raw === '' ? DEFAULT_SAMPLE : Number(raw);
    if (!Number.isInteger(sample) || sample < 1 || sample > MAX_SAMPLE) {
      return problemResponse({
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        detail: `sample must be a whole number from 1 to ${MAX_SAMPLE}; got ${describeValue(raw)}.`,
      });
    }
    return json(await biggestKeys(this.#larder, cache, sample));
  }

  #stream(): DashboardAnswer {
    return {
      kind: 'stream',
      headers: { ...EVENT_STREAM_HEADERS },
      start: (sink) => {
        this.#followers.add(sink);
        sink.write(`retry: ${Math.max(1000, this.intervalMs)}\n\n`);
        const first = this.#last;
        if (first && this.#timer) sink.write(frameMessage({ ...first, dashboardClients: this.followers }));
        else void this.#tick();
        this.#timer ??= setInterval(() => void this.#tick(), this.intervalMs).unref();
        return {
          close: () => {
            if (!this.#followers.delete(sink)) return;
            sink.end();
            if (this.#followers.size === 0) this.#stop();
          },
        };
      },
    };
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#previous = undefined;
    this.#last = undefined;
  }

  /** One interval: a new snapshot, the frame against the previous one, sent to every follower. */
  async #tick(): Promise<void> {
    // The app closed its Larder (a graceful shutdown): end the streams, or server.close() would wait on them.
    if (this.#larder.closed) {
      for (const sink of this.#followers) sink.end();
      this.#followers.clear();
      this.#stop();
      return;
    }
    // A slow broker (queue depths) must not pile ticks up: skip while one is running.
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      const first = this.#previous === undefined;
      const frame = await this.#frame(
        this.#previous,
        (snapshot) => {
          this.#previous = snapshot;
        },
        first,
      );
      if (this.#followers.size === 0) return;
      this.#last = frame;
      const message = frameMessage(frame);
      for (const sink of this.#followers) {
        if (sink.buffered() > MAX_BUFFERED) {
          this.#followers.delete(sink);
          sink.destroy();
          continue;
        }
        sink.write(message);
      }
      if (this.#followers.size === 0) this.#stop();
    } catch (error) {
      this.#larder.log('warn', `larder dashboard: a frame could not be made: ${String(error)}`);
    } finally {
      this.#ticking = false;
    }
  }

  /**
   * The frame from `previous` (or since start) to now. Queue depths and the session count
   * are asked in the background and the frame carries the last answers: a broker that is
   * down, or a session count that SCANs a big keyspace, must not hold up the live frames.
   * The page waits for the first answers (bounded by `metrics.gauges()`'s own 2 s).
   */
  async #frame(
    previous: MetricsSnapshot | undefined,
    taken?: (snapshot: MetricsSnapshot) => void,
    wait = false,
  ): Promise<DashboardFrame> {
    const now = Date.now();
    const snapshot = this.#larder.metrics.snapshot();
    taken?.(snapshot);
    const frame = frameBetween(previous, snapshot);
    const refreshing = this.#refresh(now);
    if (wait) await settledWithin(refreshing, FIRST_ANSWERS_WAIT_MS);
    frame.queues = this.#queues;
    frame.sessions.count = this.#sessionCount.value;
    frame.dashboardClients = this.#followers.size;
    return frame;
  }

  /**
   * Asks for queue depths (every frame) and the session count (at most every ~10 s; a SCAN
   * of the session keys on Redis, while a dashboard is open), one request of each kind at a time.
   */
  #refresh(now: number): Promise<unknown> {
    this.#queuesAsked ??= this.#larder.metrics
      .gauges()
      .then((g) => {
        this.#queues = g.queues;
      })
      .finally(() => {
        this.#queuesAsked = undefined;
      });
    if (!this.#countAsked && now - this.#sessionCount.at >= SESSION_COUNT_EVERY_MS) {
      this.#sessionCount.at = now;
      this.#countAsked = this.#countSessions().finally(() => {
        this.#countAsked = undefined;
      });
    }
    return Promise.all([this.#queuesAsked, this.#countAsked]);
  }

  /** `larder.sessions.count()` when the session store has it; null when it cannot count. */
  async #countSessions(): Promise<void> {
    try {
      const sessions = this.#larder.sessions as unknown as { count?: () => Promise<number> };
      this.#sessionCount.value = typeof sessions.count === 'function' ? await sessions.count() : null;
    } catch {
      this.#sessionCount.value = null;
    }
  }
}

function frameMessage(frame: DashboardFrame): string {
  return `data: ${JSON.stringify(frame)}\n\n`;
}

function json(value: unknown): NeutralResponse {
  return {
    status: 200,
    headers: { ...NO_STORE, 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(value),
  };
}

function respond(response: NeutralResponse): DashboardAnswer {
  return { kind: 'response', response };
}
