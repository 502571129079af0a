/**
 * resync — KEYS[1] = B m:R. ARGV: B, PUB, room, client.
 * The in-flight message { id, envelope } if the client holds it unacked (S12), else nil.
 */
import { prelude } from "./prelude.js"

export const resync = {
  name: "lockstep_resync",
  lua: prelude + `

if redis.call("SISMEMBER", B .. "h:" .. ARGV[3], ARGV[4]) == 0 then return nil end
return redis.call("HMGET", B .. "m:" .. ARGV[3], "fid", "fenv")
`
} as const
