/**
 * unregister: a client leaves every room it has on one shard and is forgotten there.
 *
 * KEYS[1]  clients (routing).
 * ARGV     base, pub, client, epoch.
 * Returns  how many rooms it left; the `superseded` error reply when fenced (nothing left).
 * Enforces S20 (closing a client leaves all its rooms at once; each may release its next
 *          message, S6), S18 (empty rooms leave no keys), S21 (a fenced client's memberships are
 *          its successor's: they stay).
 */
import { clients, K } from "../keys.js"
import * as Operation from "../operation.js"
import { fenced, nowMs, removeMember, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const unregister = Operation.shard({
  name: "unregister",
  args: { client: Operation.string, epoch: Operation.epoch },
  key: ({ base }) => clients(base),
  includes: [nowMs, fenced, removeMember],
  lua: `
if fenced(client, epoch) then return ${superseded} end
local now = now_ms()
local rooms = redis.call("SMEMBERS", ${K.clientRooms("client")})
for _, room in ipairs(rooms) do remove_member(room, client, now) end
redis.call("DEL", ${K.clientRooms("client")})
redis.call("ZREM", ${K.clients}, client)
return #rooms
`,
  decode: Reply.integer
})
