/**
 * stats: the figures of one shard.
 *
 * KEYS[1]  backlog (routing).
 * ARGV     (`Keys.stats`) base, pub, topRooms.
 * Returns  { rooms with a backlog, the top `topRooms` rooms by backlog (flat, WITHSCORES),
 *          registered clients }.
 * Enforces S15 (read-only).
 */
import { define } from "./define.js"

export const stats = define("stats", { prelude: true }, () => `
local top = {}
if tonumber(topRooms) > 0 then
  top = redis.call("ZREVRANGE", k_backlog(), 0, tonumber(topRooms) - 1, "WITHSCORES")
end
return { redis.call("ZCARD", k_backlog()), top, redis.call("ZCARD", k_clients()) }
`)
