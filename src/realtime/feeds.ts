/**
 * Durable event streams, fanned out inside one process: what `web.events()` serves.
 *
 * ## One feed per channel per process
 * A feed subscribes once to the channel's live announcements (pub/sub) and hands each
 * event to every local follower (browser). Each announcement carries its log id; the log
 * appends and announces in one atomic step (`EventLog.append`), so announcements arrive in
 * id order and a feed passes on only ids above the last one it passed on.
 *
 * ## Replay, then live, with no loss and no duplicate
 * A follower that resumes after id `A` (a browser's `Last-Event-ID`):
 * 1. joins the feed in *pending* mode — from this moment every live event is kept for it;
 * 2. the feed's subscription is live before step 3 starts (`Feed.ready`), so any event
 *    appended from now on is in the pending list;
 * 3. reads the log after `A`, page by page, and sends each event, moving its cursor;
 * 4. sends the pending events whose id is above its cursor (those appended during step 3
 *    are in both the log and the pending list: the id comparison drops the second copy),
 *    and switches to live mode, where it sends every event above its cursor.
 * Every event appended after step 2 is pending, every event before step 3's last read is
 * in the log: nothing falls between; ids are compared, so nothing is sent twice, and both
 * sources are in id order, so nothing is sent out of order.
 *
 * ## Gaps
 * The log keeps about `streamMaxLen` events per channel. If `A` is older than the newest
 * trimmed id, events after `A` are gone: the follower gets a `gap` and continues live from
 * the log's newest id (a client that sees a gap reloads its state rather than replaying
 * what is left). An id the log never reached (another database, a reset) is a gap too.
 *
 * ## Reconnects of the subscriber connection
 * Pub/sub loses what is published while the subscriber is reconnecting. As soon as the
 * broker says the connection dropped (`onReconnect().lost`), each feed holds live events
 * instead of passing them on (an event announced on the new socket must not overtake one
 * lost with the old). When the subscriptions are back (`restored`, or after
 * `CATCH_UP_AFTER_MS` without news), it reads the log after its last id, passes those
 * events on, then the held ones above them — the same switch as above. If that read
 * fails, the feed's followers are ended: browsers reconnect with their `Last-Event-ID` and
 * replay from the log.
 */
import type { Broker, EventLog, StoredEvent } from './broker.js';
import { decodeLive } from './broker.js';
import { compareIds, ZERO_ID } from './ids.js';

/** Why a follower missed events: they were trimmed, or its id is unknown to the log. */
export type GapReason = 'trimmed' | 'unknown-id';

/** What a follower's owner (an SSE response) receives. */
export interface FollowerSink {
  /** The next event, in id order, each once. */
  event(event: StoredEvent): void;
  /** Events after the follower's position are lost; it continues after `cursor`. */
  gap(reason: GapReason, cursor: string): void;
  /** The follower fell too far behind, or the feed cannot go on: end the response. */
  end(reason: string): void;
}

/** Events read per log read. */
const PAGE = 500;
/** How long feeds hold live events after the subscriber dropped before reading the log anyway. */
const CATCH_UP_AFTER_MS = 1000;
/** Live events a feed holds while catching up, before it gives up and ends its followers. */
const MAX_HELD = 100_000;

class Feed {
  readonly followers = new Set<Follower>();
  cursor = ZERO_ID;
  ready: Promise<void>;
  #live = false;
  #held: StoredEvent[] = [];
  #unsubscribe: (() => Promise<void>) | undefined;
  #closed = false;

  constructor(
    readonly channel: string,
    readonly log: EventLog,
    broker: Broker,
    readonly onIdle: (feed: Feed) => void,
  ) {
    const live = log.liveChannel(channel);
    this.ready = (async () => {
      this.#unsubscribe = await broker.subscribe(live.kind, live.name, (payload) => this.#announce(payload));
      if (this.#closed) return void this.#unsubscribe();
      const { last } = await log.read(channel, '', 0);
      this.cursor = last;
      this.#release();
    })();
  }

  #announce(payload: string): void {
    const event = decodeLive(payload);
    if (!event) return;
    if (!this.#live) {
      this.#held.push(event);
      if (this.#held.length > MAX_HELD) this.#fail('the live feed fell behind while catching up');
      return;
    }
    this.#pass(event);
  }

  #pass(event: StoredEvent): void {
    if (compareIds(event.id, this.cursor) <= 0) return;
    this.cursor = event.id;
    for (const follower of this.followers) follower.offer(event);
  }

  /** Sends the held events above the cursor and goes live. */
  #release(): void {
    const held = this.#held;
    this.#held = [];
    for (const event of held) this.#pass(event);
    this.#live = true;
  }

  /** The subscriber connection dropped: hold live events until `catchUp`. */
  hold(): void {
    if (!this.#closed) this.#live = false;
  }

  #catching = false;
  #again = false;

  /** Reads what the outage hid from the log, passes it on, then the held events; goes live. */
  async catchUp(): Promise<void> {
    if (this.#closed) return;
    if (this.#catching) {
      this.#again = true;
      return;
    }
    this.#catching = true;
    this.#live = false;
    try {
      do {
        this.#again = false;
        for (let first = true; ; first = false) {
          const page = await this.log.read(this.channel, this.cursor, PAGE);
          if (first && compareIds(this.cursor, page.trimmed) < 0) {
            this.cursor = page.last;
            for (const follower of this.followers) follower.lost('trimmed', page.last);
            break;
          }
          for (const event of page.events) this.#pass(event);
          if (page.events.length < PAGE) break;
        }
      } while (this.#again);
      this.#release();
    } catch {
      this.#fail('the event log could not be read after a reconnect');
      this.#release();
    } finally {
      this.#catching = false;
    }
  }

  #fail(reason: string): void {
    this.#held = [];
    for (const follower of [...this.followers]) follower.sink.end(reason);
  }

  leave(follower: Follower): void {
    this.followers.delete(follower);
    if (this.followers.size === 0) this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onIdle(this);
    void this.#unsubscribe?.();
  }
}

/** One browser's (or any consumer's) place in one channel's feed. */
export class Follower {
  /** The id of the last event this follower has (or was placed after). */
  cursor: string;
  #pending: StoredEvent[] | undefined = [];
  #pendingBytes = 0;
  #stopped = false;

  constructor(
    readonly feed: Feed,
    readonly sink: FollowerSink,
    readonly maxPendingBytes: number,
  ) {
    this.cursor = feed.cursor;
  }

  offer(event: StoredEvent): void {
    if (this.#stopped) return;
    const pending = this.#pending;
    if (pending) {
      pending.push(event);
      this.#pendingBytes += event.data.length + event.id.length + event.type.length;
      if (this.#pendingBytes > this.maxPendingBytes) this.sink.end('too many events arrived during replay');
      return;
    }
    if (compareIds(event.id, this.cursor) <= 0) return;
    this.cursor = event.id;
    this.sink.event(event);
  }

  lost(reason: GapReason, cursor: string): void {
    if (this.#stopped || this.#pending) return;
    this.cursor = cursor;
    this.sink.gap(reason, cursor);
  }

  /**
   * Replays the log after `after` (when given) and goes live. A `gap` is reported instead
   * of the replay when events after `after` were trimmed or `after` is unknown to the log.
   */
  async start(after: string | undefined): Promise<void> {
    if (after !== undefined) {
      this.cursor = after;
      for (let first = true; !this.#stopped; first = false) {
        const page = await this.feed.log.read(this.feed.channel, this.cursor, PAGE);
        if (first) {
          const unknown = compareIds(after, page.last) > 0;
          if (unknown || compareIds(after, page.trimmed) < 0) {
            this.cursor = page.last;
            this.sink.gap(unknown ? 'unknown-id' : 'trimmed', page.last);
            break;
          }
        }
        for (const event of page.events) {
          if (this.#stopped) return;
          if (compareIds(event.id, this.cursor) <= 0) continue;
          this.cursor = event.id;
          this.sink.event(event);
        }
        if (page.events.length < PAGE) break;
      }
    }
    const pending = this.#pending ?? [];
    this.#pending = undefined;
    this.#pendingBytes = 0;
    for (const event of pending) {
      if (this.#stopped) return;
      if (compareIds(event.id, this.cursor) <= 0) continue;
      this.cursor = event.id;
      this.sink.event(event);
    }
  }

  /** Leaves the feed (idempotent). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#pending = undefined;
    this.feed.leave(this);
  }
}

/**
 * Every feed of one `larder.pubsub`: one per channel with followers, closed with its last
 * follower.
 */
export class Feeds {
  #feeds = new Map<string, Feed>();
  #stopListening: () => void;

  constructor(
    readonly log: EventLog,
    readonly broker: Broker,
  ) {
    let timer: NodeJS.Timeout | undefined;
    const restored = () => {
      clearTimeout(timer);
      timer = undefined;
      for (const feed of this.#feeds.values()) void feed.catchUp();
    };
    const stop = broker.onReconnect({
      lost: () => {
        for (const feed of this.#feeds.values()) feed.hold();
        // A server that stays away must not hold events for ever: read the log anyway.
        if (!timer) {
          timer = setTimeout(restored, CATCH_UP_AFTER_MS);
          timer.unref();
        }
      },
      restored,
    });
    this.#stopListening = () => {
      clearTimeout(timer);
      stop();
    };
  }

  /**
   * Joins `channel`'s feed; resolves once the feed is live, with a follower whose cursor is
   * the feed's position (events after it reach `sink` once `start` is called).
   */
  async follow(channel: string, sink: FollowerSink, maxPendingBytes: number): Promise<Follower> {
    let feed = this.#feeds.get(channel);
    if (!feed) {
      const created = new Feed(channel, this.log, this.broker, (idle) => {
        if (this.#feeds.get(channel) === idle) this.#feeds.delete(channel);
      });
      feed = created;
      this.#feeds.set(channel, created);
      created.ready.catch(() => created.close());
    }
    await feed.ready;
    const follower = new Follower(feed, sink, maxPendingBytes);
    feed.followers.add(follower);
    return follower;
  }

  /** Ends every follower and drops every feed. */
  close(): void {
    this.#stopListening();
    for (const feed of [...this.#feeds.values()]) {
      for (const follower of [...feed.followers]) follower.sink.end('larder is closing');
      feed.close();
    }
    this.#feeds.clear();
  }
}
