/**
 * join — KEYS[1] = B m:R. ARGV: B, PUB, room, client, mode ("s" | "a"), ack timeout ms or "", client timeout ms.
 * Registers the member (S3, S8) without making it a holder of the in-flight message (S5), and
 * refreshes the client expiry (S10). Returns the shard's frame number: the room's frames up to it predate the join.
 */
import { prelude } from "./prelude.js"

export const join = {
  name: "lockstep_join",
  lua: prelude + `

local room, client, ato = ARGV[3], ARGV[4], ARGV[6]
local now = now_ms()
redis.call("ZADD", B .. "clients", now + tonumber(ARGV[7]), client)
redis.call("HSET", B .. "mem:" .. room, client, ato)
if ARGV[5] == "s" then
  redis.call("SADD", B .. "sy:" .. room, client)
  if ato ~= "" then
    local m = B .. "m:" .. room
    local dl = redis.call("HGET", m, "dl")
    if (not dl) or tonumber(dl) > tonumber(ato) then redis.call("HSET", m, "dl", ato) end
  end
else
  redis.call("SREM", B .. "sy:" .. room, client)
end
redis.call("SADD", B .. "cr:" .. client, room)
return tonumber(redis.call("GET", B .. "ev") or 0)
`
} as const
