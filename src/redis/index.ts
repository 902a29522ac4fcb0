/** @module larder/redis — connections on every topology, deadlines, breaker, Lua scripts. */
export { type BreakerState, CircuitBreaker } from './breaker.js';
export {
  BINARY,
  type ConnectionHealth,
  type ConnectionOptions,
  isAvailabilityError,
  type RedisCommands,
  RedisConnection,
  type SendOptions,
  type Topology,
} from './connection.js';
export { DeadlineTracker } from './deadline.js';
export { ConnectionManager, type ConnectionRole } from './manager.js';
export { defineScript, type LuaScript } from './script.js';
