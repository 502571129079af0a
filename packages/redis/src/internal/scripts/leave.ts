/**
 * leave — KEYS[1] = B m:R. ARGV: B, PUB, room, client.
 * Removes the member; if it was the last holder the next message is released (S6); an empty room
 * leaves no keys (S18). Returns 1 if it was a member.
 */
import { prelude } from "./prelude.js"

export const leave = {
  name: "lockstep_leave",
  lua: prelude + `

if remove_member(ARGV[3], ARGV[4], now_ms()) then return 1 end
return 0
`
} as const
