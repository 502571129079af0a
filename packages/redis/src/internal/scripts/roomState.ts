/**
 * roomState — KEYS[1] = B m:R. ARGV: B, PUB, room.
 * { backlog, sync members, acked members, in-flight id or "", release ms or "", now ms } (S14); read-only.
 */
import { prelude } from "./prelude.js"

export const roomState = {
  name: "lockstep_roomState",
  lua: prelude + `

local room = ARGV[3]
local m = B .. "m:" .. room
local acked = {}
for _, c in ipairs(redis.call("SMEMBERS", B .. "a:" .. room)) do
  if redis.call("HEXISTS", B .. "mem:" .. room, c) == 1 then acked[#acked + 1] = c end
end
return { redis.call("ZCARD", B .. "q:" .. room), redis.call("SMEMBERS", B .. "sy:" .. room), acked,
  redis.call("HGET", m, "fid") or "", redis.call("HGET", m, "fat") or "", tostring(now_ms()) }
`
} as const
