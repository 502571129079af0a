/**
 * outOfBand — KEYS[1] = B m:R. ARGV: B, PUB, room, envelope.
 * Publishes to the current subscribers at once, never queued (S9); a room without members writes
 * nothing. Returns 1 if published.
 */
import { prelude } from "./prelude.js"

export const outOfBand = {
  name: "lockstep_outOfBand",
  lua: prelude + `

if redis.call("HLEN", B .. "mem:" .. ARGV[3]) == 0 then return 0 end
publish(ARGV[3], ARGV[4])
return 1
`
} as const
