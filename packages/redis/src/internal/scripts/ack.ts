/**
 * ack — KEYS[1] = B m:R of the first room (routing). ARGV: B of the first room, PUB, client, then
 * triples of B, room and message id: the acks of one client in one event-loop turn to the shards
 * of one node, in one call (flagged `allow-cross-slot-keys`: on a cluster the shards of a batch
 * are the slots served by the node of KEYS[1]).
 * Idempotent (S4): only a holder acking the in-flight id counts. The last holder releases the
 * next message in the same call (S3). Returns how many of the acks counted.
 */
import { crossSlot, prelude } from "./prelude.js"

export const ack = {
  name: "lockstep_ack",
  lua: crossSlot + prelude + `

local client = ARGV[3]
local counted = 0
for i = 4, #ARGV - 2, 3 do
  B = ARGV[i]
  local room = ARGV[i + 1]
  local cur = redis.call("HMGET", B .. "m:" .. room, "fid", "dl")
  -- from the holders to the members that acked (S14), in one call
  if cur[1] == ARGV[i + 2] and redis.call("SMOVE", B .. "h:" .. room, B .. "a:" .. room, client) == 1 then
    counted = counted + 1
    release(room, nil, cur[2])
  end
end
return counted
`
} as const
