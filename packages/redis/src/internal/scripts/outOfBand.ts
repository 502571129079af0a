/**
 * outOfBand — KEYS[1] = B m:R of the first room (routing). ARGV: B, PUB, then pairs of room and
 * envelope: the out-of-band messages of one client on one shard in one event-loop turn, in order.
 * Each is published to the room's current subscribers at once, never queued (S9); a room without
 * members writes nothing. Returns how many were published.
 */
import { prelude } from "./prelude.js"

export const outOfBand = {
  name: "lockstep_outOfBand",
  lua: prelude + `

local published = 0
for i = 3, #ARGV - 1, 2 do
  if redis.call("HLEN", B .. "mem:" .. ARGV[i]) > 0 then
    publish(ARGV[i], ARGV[i + 1])
    published = published + 1
  end
end
return published
`
} as const
