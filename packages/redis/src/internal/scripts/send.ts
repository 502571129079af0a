/**
 * send — KEYS[1] = B m:R (routing). ARGV: B, PUB, room, id, envelope, priority.
 * Enqueues the message and releases it at once when nothing is in flight (S2, S3). A room without
 * members writes nothing: the message is gone (S7, at-most-once). Returns 0 gone, 1 released, 2 queued.
 */
import { prelude } from "./prelude.js"

export const send = {
  name: "lockstep_send",
  lua: prelude + `

local room, id, env = ARGV[3], ARGV[4], ARGV[5]
if redis.call("HLEN", B .. "mem:" .. room) == 0 then return 0 end
local q = B .. "q:" .. room
if redis.call("SCARD", B .. "h:" .. room) == 0 and redis.call("ZCARD", q) == 0 then
  deliver(room, id, env, now_ms(), nil)
  return 1
end
local seq = redis.call("HINCRBY", B .. "m:" .. room, "seq", 1)
local member = string.format("%016d", seq)
redis.call("ZADD", q, ARGV[6], member)
redis.call("HSET", B .. "p:" .. room, member, id .. "|" .. env)
redis.call("ZINCRBY", B .. "backlog", 1, room)
return 2
`
} as const
