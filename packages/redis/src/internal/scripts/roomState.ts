/**
 * roomState: a snapshot of one room.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     (`Keys.roomState`) base, pub, room.
 * Returns  { backlog, sync members, acked members, in-flight id or "", release ms or "", now ms }.
 * Enforces S14 (read-only).
 */
import { define } from "./define.js"

export const roomState = define("roomState", { prelude: true }, () => `
local m = k_meta(room)
local acked = {}
for _, c in ipairs(redis.call("SMEMBERS", k_acked(room))) do
  if redis.call("HEXISTS", k_members(room), c) == 1 then acked[#acked + 1] = c end
end
return { redis.call("ZCARD", k_queue(room)), redis.call("SMEMBERS", k_sync(room)), acked,
  redis.call("HGET", m, "fid") or "", redis.call("HGET", m, "fat") or "", tostring(now_ms()) }
`)
