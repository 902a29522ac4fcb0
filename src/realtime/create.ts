/**
 * Builds `larder.pubsub` from the resolved config: Redis drivers on `pubsub.location` (the
 * default connection unless set), else the memory drivers.
 */
import type { Larder } from '../larder.js';
import { memoryBroker, memoryEventLog } from './memory.js';
import { PubSub } from './pubsub.js';
import { redisBroker, redisEventLog } from './redis.js';

/**
 * The PubSub of `larder` (called once, by `larder.pubsub`).
 *
 * @example const pubsub = createPubSub(larder);
 */
export function createPubSub(larder: Larder): PubSub {
  const { location, streamMaxLen } = larder.config.pubsub;
  const log = (level: 'info' | 'warn' | 'error', message: string) => larder.log(level, message);
  const metrics = larder.metrics.pubsub();
  if (!location) {
    const broker = memoryBroker();
    return new PubSub(broker, memoryEventLog(broker, { maxLen: streamMaxLen }), log, metrics);
  }
  const commands = larder.connection(location);
  const broker = redisBroker(commands, larder.connection(location, 'subscriber'));
  return new PubSub(broker, redisEventLog(commands, { maxLen: streamMaxLen }), log, metrics);
}
