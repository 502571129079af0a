/**
 * stats — KEYS[1] = B backlog. ARGV: B, PUB, top N.
 * { rooms with a backlog, top N rooms with backlog (flat, WITHSCORES), registered clients } (S15).
 */
import { prelude } from "./prelude.js"

export const stats = {
  name: "lockstep_stats",
  lua: prelude + `

local top = {}
if tonumber(ARGV[3]) > 0 then
  top = redis.call("ZREVRANGE", B .. "backlog", 0, tonumber(ARGV[3]) - 1, "WITHSCORES")
end
return { redis.call("ZCARD", B .. "backlog"), top, redis.call("ZCARD", B .. "clients") }
`
} as const
