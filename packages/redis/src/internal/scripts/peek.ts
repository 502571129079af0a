/**
 * peek — KEYS[1] = B q:R. ARGV: B, PUB, room, offset, limit.
 * Queued envelopes in delivery order (S13); read-only.
 */
import { prelude } from "./prelude.js"

export const peek = {
  name: "lockstep_peek",
  lua: prelude + `

local members = redis.call("ZRANGE", B .. "q:" .. ARGV[3], ARGV[4], tonumber(ARGV[4]) + tonumber(ARGV[5]) - 1)
if #members == 0 then return {} end
local values = redis.call("HMGET", B .. "p:" .. ARGV[3], unpack(members))
local out = {}
for i, v in ipairs(values) do
  if v then out[#out + 1] = string.sub(v, (string.find(v, "|", 1, true) or 0) + 1) end
end
return out
`
} as const
