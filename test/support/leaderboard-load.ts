/**
 * @module Loads a large leaderboard straight into Redis with a Lua loop (ZADDs of 1,000 pairs),
 * for the 1M-member test and benchmark. Member `m<i>` gets score `i % distinct` (so `n / distinct`
 * members share each score); the board's distinct-score set (what dense ranks read) is filled too.
 */

/** How many members, and how many distinct scores among them. */
export const MILLION = 1_000_000;
export const DISTINCT_SCORES = 100_000;

const LOAD = `local from, to, distinct = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = from, to, 1000 do
  local batch = {}
  for j = i, math.min(i + 999, to) do
    batch[#batch + 1] = j % distinct
    batch[#batch + 1] = 'm' .. j
  end
  redis.call('ZADD', KEYS[1], unpack(batch))
end
if from == 0 then
  for i = 0, distinct - 1, 1000 do
    local batch = {}
    for j = i, math.min(i + 999, distinct - 1) do
      batch[#batch + 1] = j
      batch[#batch + 1] = tostring(j)
    end
    redis.call('ZADD', KEYS[2], unpack(batch))
  end
end
return redis.call('ZCARD', KEYS[1])`;

/**
 * Loads `n` members into the board stored at `key` (its all-time sorted set, e.g.
 * `lb:{name}:all`), in EVALs of 250,000 members sent through `send`; resolves the board's size.
 *
 * @example await loadBoard((args) => conn.send(args, { timeout: 30_000 }), 'lb:{million}:all');
 */
export async function loadBoard(
  send: (args: string[]) => Promise<unknown>,
  key: string,
  n = MILLION,
  distinct = DISTINCT_SCORES,
): Promise<number> {
  let size: unknown = 0;
  for (let from = 0; from < n; from += 250_000) {
    const to = Math.min(from + 249_999, n - 1);
    size = await send(['EVAL', LOAD, '2', key, `${key}:scores`, String(from), String(to), String(distinct)]);
  }
  return Number(size);
}
