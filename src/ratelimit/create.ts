/**
 * `larder.rateLimiter(spec)`: a limiter from a configured name (`rateLimits.api`), several
 * names checked together (`['burst', 'hourly']`), or options in code.
 */
import { parseLocation } from '../config/location.js';
import type { LocationInput, RedisLocation } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { Larder } from '../larder.js';
import { normalizeRule, type OutageOptions, RateLimiter, type RateLimitRuleOptions } from './limiter.js';
import { memoryRateLimitStore } from './memory.js';
import { redisRateLimitStore } from './redis.js';
import type { Rule } from './store.js';

/**
 * A limiter given in code: one rule (`limit`, `window`, …) or several (`rules`).
 *
 * @example
 * larder.rateLimiter({ name: 'login', limit: 5, window: '15m' });
 * larder.rateLimiter({ name: 'api', rules: [{ name: 'burst', limit: 10, window: 1 }, { name: 'hourly', limit: 1000, window: '1h' }] });
 */
export interface RateLimiterSpec extends Partial<RateLimitRuleOptions>, OutageOptions {
  /** Namespaces the keys; required for a limiter given in code. */
  name: string;
  rules?: RateLimitRuleOptions[];
  /** @default the default connection, else memory */
  location?: LocationInput;
  /** Key prefix. @default 'rl' */
  prefix?: string;
  /** Memory store only: the clock (tests). @default Date.now */
  now?: () => number;
}

/** Builds the limiter for `spec` on `larder`. */
export function createRateLimiter(
  larder: Larder,
  input: string | readonly string[] | RateLimiterSpec,
): RateLimiter {
  const log = (message: string) => larder.log('warn', message);
  if (typeof input === 'string' || Array.isArray(input)) {
    const names: string[] = typeof input === 'string' ? [input] : [...(input as readonly string[])];
    if (names.length === 0)
      throw new ConfigError('rateLimiter', [], 'a configured limit name, or a list of them');
    // A name twice would be one key consumed twice per call on Redis, and once in memory.
    const twice = names.find((name, i) => names.indexOf(name) !== i);
    if (twice !== undefined) {
      throw new ConfigError(
        'rateLimiter',
        names,
        `each configured limit named once ('${twice}' is named twice): a limit is checked once per call`,
      );
    }
    const configured = larder.config.rateLimits;
    const known = Object.keys(configured);
    const rules: Rule[] = [];
    let location: RedisLocation | undefined;
    names.forEach((name, i) => {
      const config = Object.hasOwn(configured, name) ? configured[name] : undefined;
      if (!config) {
        throw new ConfigError(
          `rateLimits.${name}`,
          name,
          known.length
            ? `one of the configured limits: ${known.map((n) => `'${n}'`).join(', ')}`
            : 'a limit in config.rateLimits',
        );
      }
      if (i > 0 && !sameLocation(config.location, location)) {
        throw new ConfigError(
          `rateLimits.${name}.location`,
          '(a location)',
          `the same location as rateLimits.${names[0]}: limits checked together live together`,
        );
      }
      location = config.location;
      rules.push({ ...config, burst: config.burst ?? config.limit });
    });
    const name = names.join('+');
    return new RateLimiter({
      name,
      rules,
      store: storeFor(larder, location),
      log,
      metrics: larder.metrics.rateLimiter(name),
    });
  }
  const spec = input as RateLimiterSpec;
  if (spec === null || typeof spec !== 'object') {
    throw new ConfigError(
      'rateLimiter',
      spec,
      'a configured limit name, a list of them, or { name, limit, window }',
    );
  }
  const path = `rateLimiter(${JSON.stringify(spec.name)})`;
  if (typeof spec.name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(spec.name)) {
    throw new ConfigError(
      `${path}.name`,
      spec.name,
      'a name of letters, digits, _ . - (it namespaces the keys)',
    );
  }
  return fromSpec(larder, spec, spec.name, spec.name, path);
}

/**
 * A limiter larder makes for a feature of its own on top of the app's limiter `owner` (the
 * login guard's two, a ladder's strikes and ban): named `<owner>/<part>`. A configured or
 * code name cannot hold `/`, so no limit the app names can share its keys or its metrics.
 * Its single rule is named `part` unless `spec.rules` names them.
 *
 * @example createDerivedRateLimiter(larder, 'login', 'ip', { limit: 100, window: '1d' }) // named 'login/ip'
 */
export function createDerivedRateLimiter(
  larder: Larder,
  owner: string,
  part: string,
  spec: Omit<RateLimiterSpec, 'name'>,
): RateLimiter {
  const name = `${owner}/${part}`;
  return fromSpec(larder, { ...spec, name }, name, part, `rateLimiter(${JSON.stringify(name)})`);
}

/** A limiter given in code, its name already checked; `ruleName` names a single rule. */
function fromSpec(
  larder: Larder,
  spec: RateLimiterSpec,
  name: string,
  ruleName: string,
  path: string,
): RateLimiter {
  const log = (message: string) => larder.log('warn', message);
  const inputs = spec.rules ?? [spec as RateLimitRuleOptions];
  if (!Array.isArray(inputs) || inputs.length === 0) {
    throw new ConfigError(`${path}.rules`, spec.rules, 'a non-empty list of { limit, window }');
  }
  const rules = inputs.map((rule, i) =>
    normalizeRule(
      spec.rules ? rule : { ...rule, name: ruleName },
      spec.rules ? `r${i}` : ruleName,
      spec.rules ? `${path}.rules[${i}]` : path,
    ),
  );
  const seen = new Set<string>();
  for (const rule of rules) {
    if (seen.has(rule.name)) throw new ConfigError(`${path}.rules`, rule.name, 'rules with distinct names');
    seen.add(rule.name);
  }
  const location =
    spec.location !== undefined ? parseLocation(spec.location, `${path}.location`) : larder.config.redis;
  const store = spec.now ? memoryRateLimitStore({ now: spec.now }) : storeFor(larder, location);
  return new RateLimiter({
    name,
    rules,
    store,
    ...(spec.prefix !== undefined ? { prefix: spec.prefix } : {}),
    ...(spec.insurance !== undefined ? { insurance: spec.insurance } : {}),
    ...(spec.failOpen !== undefined ? { failOpen: spec.failOpen } : {}),
    log,
    metrics: larder.metrics.rateLimiter(name),
  });
}

const memoryStores = new WeakMap<Larder, ReturnType<typeof memoryRateLimitStore>>();

function storeFor(larder: Larder, location: RedisLocation | undefined) {
  if (location) return redisRateLimitStore({ connection: larder.connection(location) });
  let store = memoryStores.get(larder);
  if (!store) {
    store = memoryRateLimitStore();
    memoryStores.set(larder, store);
  }
  return store;
}

function sameLocation(a: RedisLocation | undefined, b: RedisLocation | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a === b) return true;
  return a.kind !== 'external' && b.kind !== 'external' && JSON.stringify(a) === JSON.stringify(b);
}
