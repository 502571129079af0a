/**
 * ack — KEYS[1] = B m:R. ARGV: B, PUB, room, client, message id.
 * Idempotent (S4): only a holder acking the in-flight id counts. The last holder releases the
 * next message in the same call (S3). Returns 1 when the ack counted, else 0.
 */
import { prelude } from "./prelude.js"

export const ack = {
  name: "lockstep_ack",
  lua: prelude + `

local room, client = ARGV[3], ARGV[4]
if redis.call("HGET", B .. "m:" .. room, "fid") ~= ARGV[5] then return 0 end
if redis.call("SREM", B .. "h:" .. room, client) == 0 then return 0 end
redis.call("SADD", B .. "a:" .. room, client)
release(room, now_ms())
return 1
`
} as const
