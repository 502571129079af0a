/**
 * peek: queued messages of a room.
 *
 * KEYS[1]  queue(room) (routing).
 * ARGV     base, pub, room, offset, limit.
 * Returns  the queued envelopes in delivery order, from `offset`, at most `limit`.
 * Enforces S13 (read-only).
 */
import { K, queue, queued } from "../keys.js"
import * as Operation from "../operation.js"
import * as Reply from "../reply.js"

export const peek = Operation.shard({
  name: "peek",
  args: { room: Operation.string, offset: Operation.number, limit: Operation.number },
  key: ({ base, room }) => queue(base, room),
  includes: [],
  lua: `
local members = redis.call("ZRANGE", ${K.queue("room")}, offset, tonumber(offset) + tonumber(limit) - 1)
if #members == 0 then return {} end
local values = redis.call("HMGET", ${K.payloads("room")}, unpack(members))
local out = {}
for i, v in ipairs(values) do
  if v then out[#out + 1] = ${queued.lua.second("v", `(${queued.lua.find("v")} or 0)`)} end
end
return out
`,
  decode: Reply.strings
})
