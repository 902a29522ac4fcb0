/**
 * The Lua scripts of the Redis leaderboard store: every call that needs more than one
 * command is one of these, so it stays one round trip and atomic. All keys of a call share
 * the board's `{hash tag}`, so they run unchanged on Cluster.
 *
 * Every script takes the board's shape first — ARGV[1] radix (0 = plain scores), ARGV[2]
 * desc ('1'/'0'), ARGV[3] ranking ('o', 'c', 'd') — and the same helpers (PRELUDE).
 * Scores leave a script as strings: Lua would truncate a number reply to an integer, and
 * `%.17g` prints a double so that it parses back to the same double.
 */
import { defineScript } from '../redis/script.js';

const PRELUDE = `local radix = tonumber(ARGV[1])
local desc = ARGV[2] == '1'
local ranking = ARGV[3]
-- %.17g round-trips a double; -0 prints as 0 so one score has one spelling.
local function fmt(x)
  if x == 0 then return '0' end
  return string.format('%.17g', x)
end
-- A first-achiever stored value is score * radix + tie, all integers below 2^53 (exact).
local function decode(stored)
  if radix == 0 then return stored end
  local s = math.floor(stored / radix)
  local rest = stored - s * radix
  if rest < 0 then s = s - 1 elseif rest >= radix then s = s + 1 end
  return s
end
-- The stored values one score spans.
local function span(s)
  if radix == 0 then return s, s end
  return s * radix, s * radix + radix - 1
end
-- The rank of a member with this stored value at 0-based position pos.
local function rank_at(key, aux, stored, pos)
  if ranking == 'o' then return pos + 1 end
  local s = decode(stored)
  if ranking == 'c' then
    -- Competition: one more than the members with a strictly better score.
    local lo, hi = span(s)
    if desc then return redis.call('ZCOUNT', key, '(' .. fmt(hi), '+inf') + 1 end
    return redis.call('ZCOUNT', key, '-inf', '(' .. fmt(lo)) + 1
  end
  -- Dense: one more than the distinct better scores (the aux set holds each score once).
  if desc then return redis.call('ZCOUNT', aux, '(' .. fmt(s), '+inf') + 1 end
  return redis.call('ZCOUNT', aux, '-inf', '(' .. fmt(s)) + 1
end
`;

/**
 * KEYS: board, distinct scores, sequence. ARGV[4..]: mode ('set'/'incr'), member, value,
 * maxDelta ('' = none), expireAt ms ('' = never), maxScore.
 * Returns {status, score, previous}; status 'ok' or why nothing was written.
 */
export const WRITE = defineScript(
  3,
  `${PRELUDE}
local key, aux, seqkey = KEYS[1], KEYS[2], KEYS[3]
local mode, member, value = ARGV[4], ARGV[5], tonumber(ARGV[6])
local max_delta, expire_at, max_score = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])

-- 1. Plan: the old score, the new one, the guards. Nothing is written before they pass.
local old_stored = redis.call('ZSCORE', key, member)
local old = nil
if old_stored then old = decode(tonumber(old_stored)) end
local previous = old or 0
local score = value
if mode == 'incr' then score = previous + value end
if score == 0 then score = 0 end
if max_delta and math.abs(score - previous) > max_delta then
  return {'max-delta', fmt(score), fmt(previous)}
end
if score ~= score or score == math.huge or score == -math.huge
  or (radix > 0 and math.abs(score) > max_score) then
  return {'range', fmt(score), fmt(previous)}
end
local stored = score
if radix > 0 then
  -- First achiever: the next tie-break number of this bucket.
  local seq = tonumber(redis.call('GET', seqkey) or '0') + 1
  if seq >= radix then return {'sequence', fmt(score), fmt(previous)} end
  redis.call('SET', seqkey, fmt(seq))
  if desc then stored = score * radix + (radix - 1 - seq) else stored = score * radix + seq end
end

-- 2. Write the member, then keep the distinct scores of a dense board in step.
redis.call('ZADD', key, fmt(stored), member)
if ranking == 'd' and old ~= score then
  if old ~= nil then
    local lo, hi = span(old)
    if redis.call('ZCOUNT', key, fmt(lo), fmt(hi)) == 0 then
      redis.call('ZREMRANGEBYSCORE', aux, fmt(old), fmt(old))
    end
  end
  redis.call('ZADD', aux, fmt(score), fmt(score))
end

-- 3. A window's bucket expires on its own (an absolute time, so every write agrees).
if expire_at then
  redis.call('PEXPIREAT', key, expire_at)
  if ranking == 'd' then redis.call('PEXPIREAT', aux, expire_at) end
  if radix > 0 then redis.call('PEXPIREAT', seqkey, expire_at) end
end
return {'ok', fmt(score), fmt(previous)}`,
);

/** KEYS: board, distinct scores. ARGV[4]: member. Returns the rank, or nil when absent. */
export const RANK = defineScript(
  2,
  `${PRELUDE}
local stored = redis.call('ZSCORE', KEYS[1], ARGV[4])
if not stored then return false end
return rank_at(KEYS[1], KEYS[2], tonumber(stored), 0)`,
);

/**
 * KEYS: board, distinct scores. ARGV[4..]: 'range', start, stop — or 'around', member, radius.
 * Returns {start, base rank, member, score, member, score, …} best first ({} when the member
 * of 'around' is absent).
 */
export const RANGE = defineScript(
  2,
  `${PRELUDE}
local key, aux = KEYS[1], KEYS[2]
local start, stop
if ARGV[4] == 'around' then
  local pos
  if desc then pos = redis.call('ZREVRANK', key, ARGV[5]) else pos = redis.call('ZRANK', key, ARGV[5]) end
  if not pos then return {} end
  local radius = tonumber(ARGV[6])
  start = pos - radius
  if start < 0 then start = 0 end
  stop = pos + radius
else
  start, stop = tonumber(ARGV[5]), tonumber(ARGV[6])
end
local rows
if desc then
  rows = redis.call('ZRANGE', key, start, stop, 'REV', 'WITHSCORES')
else
  rows = redis.call('ZRANGE', key, start, stop, 'WITHSCORES')
end
if #rows == 0 then return {fmt(start), fmt(start + 1)} end
local out = {fmt(start), fmt(rank_at(key, aux, tonumber(rows[2]), start))}
for i = 1, #rows do out[i + 2] = rows[i] end
return out`,
);

/** KEYS: board, distinct scores. ARGV[4]: member. Removes it from a dense board; 1 or 0. */
export const REMOVE_DENSE = defineScript(
  2,
  `${PRELUDE}
local stored = redis.call('ZSCORE', KEYS[1], ARGV[4])
if not stored then return 0 end
redis.call('ZREM', KEYS[1], ARGV[4])
local s = decode(tonumber(stored))
local lo, hi = span(s)
if redis.call('ZCOUNT', KEYS[1], fmt(lo), fmt(hi)) == 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], fmt(s), fmt(s))
end
return 1`,
);

/**
 * KEYS: destination, its distinct scores, then the source buckets. ARGV[4..]: aggregate
 * ('SUM'/'MAX'/'MIN'), ttl ms. ZUNIONSTORE, an expiry, and for a dense board the distinct
 * scores of the result (one pass, O(n) as the union itself). Returns the member count.
 */
export const COMBINE = defineScript(
  -1,
  `${PRELUDE}
local dest, aux, ttl = KEYS[1], KEYS[2], ARGV[5]
local args = {'ZUNIONSTORE', dest, #KEYS - 2}
for i = 3, #KEYS do args[#args + 1] = KEYS[i] end
args[#args + 1] = 'AGGREGATE'
args[#args + 1] = ARGV[4]
local count = redis.call(unpack(args))
redis.call('DEL', aux)
if count == 0 then return 0 end
redis.call('PEXPIRE', dest, ttl)
if ranking == 'd' then
  for i = 0, count - 1, 1000 do
    local rows = redis.call('ZRANGE', dest, i, i + 999, 'WITHSCORES')
    local batch, last = {}, nil
    for j = 2, #rows, 2 do
      local s = decode(tonumber(rows[j]))
      if s ~= last then
        batch[#batch + 1] = fmt(s)
        batch[#batch + 1] = fmt(s)
        last = s
      end
    end
    redis.call('ZADD', aux, unpack(batch))
  end
  redis.call('PEXPIRE', aux, ttl)
end
return count`,
);

/**
 * KEYS: board, a scratch set, a scratch sorted set. ARGV[4..]: limit, then the members.
 * ZINTERSTORE of the board with the members (weight 0, so scores stay the board's), the
 * best `limit`, and the scratch keys deleted before the script returns.
 */
export const AMONG = defineScript(
  3,
  `${PRELUDE}
local key, set, inter = KEYS[1], KEYS[2], KEYS[3]
local limit = tonumber(ARGV[4])
redis.call('DEL', set, inter)
for i = 5, #ARGV, 1000 do
  redis.call('SADD', set, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('ZINTERSTORE', inter, 2, key, set, 'WEIGHTS', 1, 0)
local rows
if desc then
  rows = redis.call('ZRANGE', inter, 0, limit - 1, 'REV', 'WITHSCORES')
else
  rows = redis.call('ZRANGE', inter, 0, limit - 1, 'WITHSCORES')
end
redis.call('DEL', set, inter)
return rows`,
);
