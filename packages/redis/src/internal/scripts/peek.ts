/**
 * peek: queued messages of a room.
 *
 * KEYS[1]  queue(room) (routing).
 * ARGV     (`Keys.peek`) base, pub, room, offset, limit.
 * Returns  the queued envelopes in delivery order, from `offset`, at most `limit`.
 * Enforces S13 (read-only).
 */
import { define } from "./define.js"

export const peek = define("peek", { prelude: true }, () => `
local members = redis.call("ZRANGE", k_queue(room), offset, tonumber(offset) + tonumber(limit) - 1)
if #members == 0 then return {} end
local values = redis.call("HMGET", k_payloads(room), unpack(members))
local out = {}
for i, v in ipairs(values) do
  if v then out[#out + 1] = string.sub(v, (string.find(v, "|", 1, true) or 0) + 1) end
end
return out
`)
