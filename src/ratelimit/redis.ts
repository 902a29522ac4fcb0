/**
 * The Redis rate-limit store: every rule of one subject checked and consumed in one Lua
 * call — one round trip, atomic, on the server's clock (`TIME`, or the key's own TTL), so
 * app servers with skewed clocks agree. The subject's keys share a `{hash tag}`, so the call
 * runs unchanged on Cluster. Same algorithms and rounding as `memory.ts`.
 *
 * Two scripts: `FIXED_WINDOW` for the most common call — one fixed-window rule, consumed —
 * and `CONSUME` for everything else (sliding window, GCRA, several rules, peeks). Both keep
 * the same key with the same value and TTL, so a subject can move between them.
 */
import type { RedisConnection } from '../redis/connection.js';
import { defineScript } from '../redis/script.js';
import { ALGORITHM_CODES, type RateLimitStore, type Rule, type RuleOutcome } from './store.js';

/**
 * Options of {@link redisRateLimitStore}.
 *
 * @example
 * redisRateLimitStore({ connection: larder.connection() });
 */
export interface RedisRateLimitStoreOptions {
  connection: RedisConnection;
}

// KEYS: one per rule. ARGV: cost, peek ('1'/'0'), then per rule: algorithm (f/s/g), limit,
// window ms, burst. Returns per rule: allowed (1/0), remaining, resetAfter ms, retryAfter ms.
// Every rule is planned first; only when all allow (and not peeking) is anything written.
// Kept cheap for Redis (bench/ratelimit.ts): TIME only when a rule needs the clock, plans
// as values rather than a closure per rule, and one rule written as soon as it is planned.
/** The general script: any rules, any algorithm, consume or peek. */
export const CONSUME = defineScript(
  -1,
  `local cost = tonumber(ARGV[1])
local peek = ARGV[2] == '1'
local n = #KEYS
-- One rule (the usual case) writes as soon as it is planned; several are planned first and
-- written only when all allow. Plans are values, not closures (a closure per call costs more
-- than the rule). The reply is sized for one rule up front (no rehash while it fills).
local single = n == 1
local write = single and not peek
local now
local out, plan, all = {0, 0, 0, 0}, nil, true
if not single then plan = {} end

for i = 1, n do
  local a = 2 + (i - 1) * 4
  local algo, limit, window = ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local key = KEYS[i]
  local allowed, remaining, reset, retry

  if algo == 'f' then
    -- Fixed window: the TTL set by the first hit is the window; later hits never extend it.
    -- PTTL 0 is a key expiring this very ms: memory.ts counts that window as over (expiresAt <= now).
    local ttl = redis.call('PTTL', key)
    local fresh = ttl <= 0
    local count = 0
    if fresh then ttl = window else count = tonumber(redis.call('GET', key) or '0') end
    allowed = count + cost <= limit
    remaining = limit - count - (allowed and cost or 0)
    reset = ttl
    retry = allowed and 0 or ttl
    if single then
      if write and allowed then
        -- ARGV strings as received: a Lua number handed to redis.call is formatted back (~3,700 instructions).
        if fresh then redis.call('SET', key, ARGV[1], 'PX', ARGV[a + 3]) else redis.call('INCRBY', key, ARGV[1]) end
      end
    else
      plan[2 * i - 1] = fresh
    end

  else
    -- Sliding window and GCRA read the server's clock, once per call (fixed windows need none).
    if not now then
      local time = redis.call('TIME')
      now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
    end

    if algo == 's' then
      -- Sliding window: the previous bucket weighs by how much of it still overlaps.
      local index = math.floor(now / window)
      local state = redis.call('HMGET', key, 'i', 'c', 'p')
      local current, previous = 0, 0
      if tonumber(state[1]) == index then
        current = tonumber(state[2]); previous = tonumber(state[3])
      elseif tonumber(state[1]) == index - 1 then
        previous = tonumber(state[2])
      end
      local elapsed = now - index * window
      local estimate = previous * (window - elapsed) / window + current
      allowed = estimate + cost <= limit
      remaining = math.max(0, math.floor(limit - estimate - (allowed and cost or 0)))
      local counted = current + (allowed and cost or 0)
      if counted > 0 then reset = 2 * window - elapsed elseif previous > 0 then reset = window - elapsed else reset = 0 end
      retry = 0
      if not allowed then
        local room = limit - cost - current
        local at = nil
        if room >= 0 and previous > 0 then
          local t = window - room * window / previous
          if t < window then at = math.max(1, math.ceil(t - elapsed)) end
        end
        if at == nil then
          local next_at = 0
          if current > 0 then next_at = math.max(0, window - (limit - cost) * window / current) end
          at = math.max(1, math.ceil(window - elapsed + next_at))
        end
        retry = at
      end
      if single then
        if write and allowed then
          redis.call('HSET', key, 'i', index, 'c', current + cost, 'p', previous)
          redis.call('PEXPIREAT', key, (index + 2) * window)
        end
      else
        plan[2 * i - 1] = current
        plan[2 * i] = previous
      end

    else
      -- GCRA: the theoretical arrival time moves cost x interval per call; a call passes when
      -- it leaves that time at most burst x interval ahead of now.
      -- The interval truncated to a 2^-10 ms grid (as memory.ts), so TAT arithmetic stays exact.
      local burst = tonumber(ARGV[a + 4])
      local interval = math.max(1, math.floor(window / limit * 1024)) / 1024
      local tolerance = burst * interval
      local tat = math.max(tonumber(redis.call('GET', key) or now), now)
      local next_tat = tat + cost * interval
      allowed = next_tat - now <= tolerance
      local ahead = allowed and (next_tat - now) or (tat - now)
      remaining = math.max(0, math.floor((tolerance - ahead) / interval))
      reset = math.ceil(ahead)
      retry = allowed and 0 or math.max(1, math.ceil(next_tat - tolerance - now))
      if single then
        if write and allowed then
          redis.call('SET', key, string.format('%.17g', next_tat), 'PX', math.max(1, math.ceil(next_tat - now)))
        end
      else
        plan[2 * i - 1] = next_tat
      end
    end
  end

  if not allowed then all = false end
  local o = 4 * (i - 1)
  out[o + 1] = allowed and 1 or 0
  out[o + 2] = remaining
  out[o + 3] = math.floor(reset)
  out[o + 4] = math.floor(retry)
end

-- Several rules: written only when every one allows (and not peeking).
if not single and all and not peek then
  for i = 1, n do
    local a = 2 + (i - 1) * 4
    local algo, window, key = ARGV[a + 1], tonumber(ARGV[a + 3]), KEYS[i]
    if algo == 'f' then
      if plan[2 * i - 1] then redis.call('SET', key, ARGV[1], 'PX', ARGV[a + 3])
      else redis.call('INCRBY', key, ARGV[1]) end
    elseif algo == 's' then
      local index = math.floor(now / window)
      redis.call('HSET', key, 'i', index, 'c', plan[2 * i - 1] + cost, 'p', plan[2 * i])
      redis.call('PEXPIREAT', key, (index + 2) * window)
    else
      local next_tat = plan[2 * i - 1]
      redis.call('SET', key, string.format('%.17g', next_tat), 'PX', math.max(1, math.ceil(next_tat - now)))
    end
  end
end
return out`,
);

// The common case on its own: one fixed-window rule, consumed (bench/ratelimit.ts: under load
// Redis's time per call is a large part of a check). KEYS[1]: the rule's counter. ARGV: cost,
// window ms, limit. Called only with a cost within the limit, never to peek, so a call that
// opens a window is always allowed. No TIME: the window is the key's TTL. Same key, value and
// TTL as CONSUME keeps, so one subject can go through either script.
//
// Written for Redis's instruction count (callgrind, docs/performance.md): GET first, so a
// refused call writes nothing (no INCRBY + DECRBY pair replicated under a flood of refusals);
// every argument handed to redis.call is an ARGV string as received (a Lua number is formatted
// back to a string by Redis, ~3,700 instructions each); `+ 0` rather than tonumber().
//
// Returns `used * 2^32 + ttl` — the count before this call (0 when no window was open) and
// the ms left in the window — as one integer: a table reply costs Redis ~5,600 instructions
// more. Lua numbers are doubles, exact to 2^53, so that form is used only for a whole count
// below 2^20 and a TTL below 2^32 ms (49 days); otherwise the reply is what CONSUME returns
// for this rule: {allowed, remaining, resetAfter, retryAfter}, computed the same way.
/** The dedicated script: one fixed-window rule, consumed. */
export const FIXED_WINDOW = defineScript(
  1,
  `local key = KEYS[1]
local used = redis.call('GET', key)
if used then
  local ttl = redis.call('PTTL', key)
  if ttl > 0 then
    -- A window is open: add the cost when it fits; the TTL is left alone (never extended).
    used = used + 0
    local allowed = used + ARGV[1] <= ARGV[3] + 0
    if allowed then redis.call('INCRBY', key, ARGV[1]) end
    if used >= 0 and used < 1048576 and used % 1 == 0 and ttl < 4294967296 then
      return used * 4294967296 + ttl
    end
    if allowed then return {1, ARGV[3] - used - ARGV[1], ttl, 0} end
    return {0, ARGV[3] - used, ttl, ttl}
  end
end
-- No window open (no key, or PTTL 0: ending this very ms, or -1: a counter without a TTL,
-- written by someone else): this call opens one, count and TTL set in one command.
redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
local window = ARGV[2] + 0
if window < 4294967296 then return window end
return {1, ARGV[3] - ARGV[1], window, 0}`,
);

/** 2^32: `FIXED_WINDOW` answers `used * WORD + ttl`. */
const WORD = 4294967296;

/**
 * Rate limits in Redis.
 *
 * @example
 * const store = redisRateLimitStore({ connection: larder.connection() });
 */
export function redisRateLimitStore(options: RedisRateLimitStoreOptions): RateLimitStore {
  const conn = options.connection;
  return {
    name: `redis ${conn.name}`,
    consume(keys, rules, cost, peek) {
      // The dedicated script when it answers alone: one fixed-window rule, consumed, a cost
      // the rule can allow (a larger one is refused before anything is read: CONSUME says so).
      if (rules.length === 1 && !peek) {
        const rule = rules[0];
        if (rule.algorithm === 'fixed-window' && cost <= rule.limit)
          return consumeFixedWindow(conn, keys, rule, cost);
      }
      return consumeRules(conn, keys, rules, cost, peek);
    },
    async reset(keys) {
      // All keys of a subject share a slot: one DEL.
      await conn.send(['DEL', ...keys], { key: keys[0] });
    },
  };
}

/**
 * Any rules, any call, through the general script. Exported for the tests that hold the
 * dedicated fixed-window script to it.
 *
 * @example const [outcome] = await consumeRules(conn, [key], [rule], 1, false);
 */
export async function consumeRules(
  conn: RedisConnection,
  keys: readonly string[],
  rules: readonly Rule[],
  cost: number,
  peek: boolean,
): Promise<RuleOutcome[]> {
  const args: string[] = [String(cost), peek ? '1' : '0'];
  for (const rule of rules)
    args.push(ALGORITHM_CODES[rule.algorithm], String(rule.limit), String(rule.window), String(rule.burst));
  const reply = await CONSUME.run<number[]>(conn, keys, args);
  const out: RuleOutcome[] = new Array(rules.length);
  for (let i = 0; i < rules.length; i++) out[i] = outcomeAt(reply, 4 * i);
  return out;
}

/**
 * One fixed-window rule consumed (`cost <= rule.limit`) through the dedicated script, answered
 * exactly as `consumeRules` answers the same call.
 *
 * @example const [outcome] = await consumeFixedWindow(conn, [key], rule, 1);
 */
export function consumeFixedWindow(
  conn: RedisConnection,
  keys: readonly string[],
  rule: Rule,
  cost: number,
): Promise<RuleOutcome[]> {
  const args = [cost === 1 ? '1' : String(cost), String(rule.window), String(rule.limit)];
  return FIXED_WINDOW.run<number | number[]>(conn, keys, args).then((reply): RuleOutcome[] => {
    if (Array.isArray(reply)) return [outcomeAt(reply, 0)];
    // `used * WORD + ttl` with 0 < ttl < WORD: the floor of the quotient is `used`.
    const packed = Number(reply);
    const used = Math.floor(packed / WORD);
    const ttl = packed - used * WORD;
    const allowed = used + cost <= rule.limit;
    return [
      {
        allowed,
        remaining: rule.limit - used - (allowed ? cost : 0),
        resetAfter: ttl,
        retryAfter: allowed ? 0 : ttl,
      },
    ];
  });
}

/** One rule's outcome from a CONSUME-shaped reply: four values per rule from `o`. */
function outcomeAt(reply: readonly unknown[], o: number): RuleOutcome {
  return {
    allowed: Number(reply[o]) === 1,
    remaining: Number(reply[o + 1]),
    resetAfter: Number(reply[o + 2]),
    retryAfter: Number(reply[o + 3]),
  };
}

export type { Rule };
