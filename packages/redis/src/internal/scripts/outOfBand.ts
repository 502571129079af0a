/**
 * outOfBand — KEYS[1] = B m:R of the first room (routing). ARGV: B of the first room, PUB, then
 * triples of B, room and envelope: the out-of-band messages of one client on one shard in one
 * event-loop turn, in order.
 * Each is published to the room's current subscribers at once, never queued (S9); a room without
 * members writes nothing. Returns how many were published.
 */
import { prelude } from "./prelude.js"

export const outOfBand = {
  name: "lockstep_outOfBand",
  lua: prelude + `

local published = 0
for i = 3, #ARGV - 2, 3 do
  B = ARGV[i]
  if redis.call("HLEN", B .. "mem:" .. ARGV[i + 1]) > 0 then
    publish(ARGV[i + 1], ARGV[i + 2])
    published = published + 1
  end
end
return published
`
} as const
