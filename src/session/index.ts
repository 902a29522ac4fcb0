/**
 * @module larder/session — Django's session framework: `Session`, the store contract and
 * the engines (redis, cache, signed-cookie, memory), and `ExpressSessionStore`.
 */
export {
  type ExpressSessionCallback,
  type ExpressSessionData,
  ExpressSessionStore,
  type ExpressSessionStoreOptions,
} from './express-store.js';
export { isSessionId, newSessionId } from './ids.js';
export {
  createSessionStore,
  SessionManager,
  type SessionManagerOptions,
  type UserSessions,
} from './manager.js';
export { Session, type SessionData, type SessionSource } from './session.js';
export type {
  CookieSessionStore,
  ServerSessionStore,
  SessionMeta,
  SessionStore,
  SessionWrite,
  StoredSession,
  UserSessionInfo,
} from './store.js';
export { type CacheSessionStoreOptions, cacheSessionStore } from './stores/cache.js';
export { type MemorySessionStoreOptions, memorySessionStore } from './stores/memory.js';
export { type RedisSessionStoreOptions, redisSessionStore } from './stores/redis.js';
export { type SignedCookieStoreOptions, signedCookieStore } from './stores/signed-cookie.js';
