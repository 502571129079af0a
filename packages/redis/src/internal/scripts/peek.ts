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
local out = {}
for _, v in ipairs(members) do
  -- "<16-digit arrival>|<id>|<envelope>": without an id the rest is returned (and found invalid);
  -- a member without the arrival is no message at all (release skips it too)
  if string.byte(v, 17) == 124 then out[#out + 1] = string.sub(v, (string.find(v, "|", 18, true) or 17) + 1) end
end
return out
`
} as const
