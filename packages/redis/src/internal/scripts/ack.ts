/**
 * ack — KEYS[1] = B m:R of the first room (routing). ARGV: B, PUB, client, then pairs of room and
 * message id: the acks of one client on one shard in one event-loop turn, in one call.
 * Idempotent (S4): only a holder acking the in-flight id counts. The last holder releases the
 * next message in the same call (S3). Returns how many of the acks counted.
 */
import { prelude } from "./prelude.js"

export const ack = {
  name: "lockstep_ack",
  lua: prelude + `

local client = ARGV[3]
local counted = 0
for i = 4, #ARGV - 1, 2 do
  local room = ARGV[i]
  local cur = redis.call("HMGET", B .. "m:" .. room, "fid", "dl")
  -- from the holders to the members that acked (S14), in one call
  if cur[1] == ARGV[i + 1] and redis.call("SMOVE", B .. "h:" .. room, B .. "a:" .. room, client) == 1 then
    counted = counted + 1
    release(room, nil, cur[2])
  end
end
return counted
`
} as const
