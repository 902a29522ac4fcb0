/**
 * @module larder/realtime — pub/sub and durable event streams (DESIGN §4.6).
 *
 * `larder.pubsub.publish` / `subscribe` are Redis pub/sub with JSON messages (sharded on
 * Cluster), multiplexed over one subscriber connection per process. `sendEvent` appends to
 * a channel's bounded stream and reaches every `web.events()` response of every process;
 * browsers that reconnect with `Last-Event-ID` get what they missed, in order, once.
 *
 * @example
 * import { createLarder } from 'larder';
 * const larder = createLarder({ redis: 'redis://127.0.0.1:6379' });
 * await larder.pubsub.subscribe('orders', (order) => console.log('new order', order));
 * await larder.pubsub.publish('orders', { id: 7 });
 */

export {
  createEventStream,
  type EventChannels,
  type EventSink,
  type EventsOptions,
  parseLastEventId,
} from '../http/events.js';
export type {
  Broker,
  EventLog,
  RawListener,
  ReadResult,
  StoredEvent,
  SubscriptionKind,
} from './broker.js';
export { createPubSub } from './create.js';
export { Feeds, Follower, type FollowerSink, type GapReason } from './feeds.js';
export { compareIds, parseId } from './ids.js';
export { memoryBroker, memoryEventLog } from './memory.js';
export {
  type ChannelEvent,
  type ChannelOptions,
  checkChannel,
  MAX_MESSAGE_BYTES,
  type MessageHandler,
  PubSub,
  type Unsubscribe,
} from './pubsub.js';
export { redisBroker, redisEventLog, streamKey } from './redis.js';
