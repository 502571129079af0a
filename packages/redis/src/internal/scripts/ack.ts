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
local cur = redis.call("HMGET", B .. "m:" .. room, "fid", "dl")
if cur[1] ~= ARGV[5] then return 0 end
-- from the holders to the members that acked (S14), in one call
if redis.call("SMOVE", B .. "h:" .. room, B .. "a:" .. room, client) == 0 then return 0 end
release(room, nil, cur[2])
return 1
`
} as const
