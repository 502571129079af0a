/**
 * stats: the figures of one shard.
 *
 * KEYS[1]  backlog (routing).
 * ARGV     (`Keys.stats`) base, pub, topRooms, stalledRooms.
 * Returns  { rooms with a backlog, the top `topRooms` rooms by backlog (flat, WITHSCORES),
 *          registered clients, the `stalledRooms` rooms whose in-flight message is oldest (each
 *          { room, release ms, in-flight id, holders }), now ms }.
 * Enforces S15, S26 (read-only).
 */
import { define } from "./define.js"

export const stats = define("stats", { prelude: true }, () => `
local top = {}
if tonumber(topRooms) > 0 then
  top = redis.call("ZREVRANGE", k_backlog(), 0, tonumber(topRooms) - 1, "WITHSCORES")
end
local stalled = {}
if tonumber(stalledRooms) > 0 then
  local oldest = redis.call("ZRANGE", k_inflight(), 0, tonumber(stalledRooms) - 1, "WITHSCORES")
  for i = 1, #oldest, 2 do
    local room = oldest[i]
    stalled[#stalled + 1] = { room, oldest[i + 1], redis.call("HGET", k_meta(room), "fid") or "",
      redis.call("SMEMBERS", k_holders(room)) }
  end
end
return { redis.call("ZCARD", k_backlog()), top, redis.call("ZCARD", k_clients()), stalled, tostring(now_ms()) }
`)
