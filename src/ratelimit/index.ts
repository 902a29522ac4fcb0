/**
 * @module larder/ratelimit — rate limiting: fixed window, sliding window and GCRA, several
 * limits on one subject checked in one atomic call, memory and Redis stores.
 */
export { createRateLimiter, type RateLimiterSpec } from './create.js';
export {
  normalizeRule,
  type OutageOptions,
  RateLimiter,
  type RateLimiterOptions,
  type RateLimitResult,
  type RateLimitRuleOptions,
  type RuleResult,
} from './limiter.js';
export {
  createLoginGuard,
  type LoginCheck,
  type LoginGuard,
  type LoginGuardOptions,
  type LoginLimit,
} from './login-guard.js';
export { type MemoryRateLimitStoreOptions, memoryRateLimitStore } from './memory.js';
export { type RedisRateLimitStoreOptions, redisRateLimitStore } from './redis.js';
export type { Algorithm, RateLimitStore, Rule, RuleOutcome } from './store.js';
