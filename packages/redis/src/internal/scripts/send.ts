/**
 * send — KEYS[1] = B m:R of the first room (routing). ARGV: B of the first room, PUB, then groups
 * of B, room, id, envelope, priority: the sends of one client on one shard in one event-loop turn,
 * in order.
 * Each enqueues its message and releases it at once when nothing is in flight (S2, S3). A room
 * without members writes nothing: the message is gone (S7, at-most-once). Returns how many were
 * kept (released or queued).
 */
import { prelude } from "./prelude.js"

export const send = {
  name: "lockstep_send",
  lua: prelude + `

local kept = 0
local now = nil
for i = 3, #ARGV - 4, 5 do
  B = ARGV[i]
  local room, id, env = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if redis.call("HLEN", B .. "mem:" .. room) > 0 then
    kept = kept + 1
    local q = B .. "q:" .. room
    if redis.call("SCARD", B .. "h:" .. room) == 0 and redis.call("ZCARD", q) == 0 then
      now = now or now_ms()
      deliver(room, id, env, now, nil)
    else
      local seq = redis.call("HINCRBY", B .. "m:" .. room, "seq", 1)
      local member = string.format("%016d", seq)
      redis.call("ZADD", q, ARGV[i + 4], member)
      redis.call("HSET", B .. "p:" .. room, member, id .. "|" .. env)
      redis.call("ZINCRBY", B .. "backlog", 1, room)
    end
  end
end
return kept
`
} as const
