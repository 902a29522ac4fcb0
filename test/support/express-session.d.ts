/**
 * Loose types for express-session (a devDependency of the tests and benches only).
 * `@types/express-session` is deliberately not installed: it re-types Express's
 * `Request.session`, which larder's Express adapter types as its own `Session`.
 */
declare module 'express-session' {
  import type { EventEmitter } from 'node:events';
  import type { RequestHandler } from 'express';

  function session(options?: session.SessionOptions): RequestHandler;

  namespace session {
    interface SessionOptions {
      secret: string | string[];
      store?: Store;
      name?: string;
      resave?: boolean;
      saveUninitialized?: boolean;
      rolling?: boolean;
      cookie?: Record<string, unknown>;
      [option: string]: unknown;
    }

    /** A session's data as a store holds it. */
    interface SessionData {
      cookie: any;
      [field: string]: any;
    }

    type Callback = (error?: any, value?: any) => void;

    class Store extends EventEmitter {
      regenerate(req: unknown, callback: (error?: any) => void): void;
      load(sid: string, callback: Callback): void;
      createSession(req: unknown, session: SessionData): any;
      get(sid: string, callback: Callback): void;
      set(sid: string, session: SessionData, callback?: Callback): void;
      destroy(sid: string, callback?: Callback): void;
      touch?(sid: string, session: SessionData, callback?: Callback): void;
      all?(callback: Callback): void;
      length?(callback: Callback): void;
      clear?(callback?: Callback): void;
    }

    class MemoryStore extends Store {
      get(sid: string, callback: Callback): void;
      set(sid: string, session: SessionData, callback?: Callback): void;
      destroy(sid: string, callback?: Callback): void;
    }
  }

  export = session;
}
