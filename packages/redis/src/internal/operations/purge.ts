/**
 * purge: an operator drops a room's backlog (`RoomAdmin.purge`).
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     base, pub, room, client, epoch (the operator's).
 * Returns  the number of queued messages dropped; the `superseded` error reply when fenced.
 * Enforces S30 (the queued messages go, not the in-flight one), S15 (the room leaves the backlog
 *          index), S18 (a room left without members or backlog leaves no keys), S21.
 */
import { K, meta } from "../keys.js"
import * as Operation from "../operation.js"
import { fenced, gc, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const purge = Operation.shard({
  name: "purge",
  args: { room: Operation.string, client: Operation.string, epoch: Operation.epoch },
  key: ({ base, room }) => meta(base, room),
  includes: [fenced, gc],
  lua: `
if fenced(client, epoch) then return ${superseded} end
local n = redis.call("ZCARD", ${K.queue("room")})
if n == 0 then return 0 end
redis.call("DEL", ${K.queue("room")}, ${K.payloads("room")})
redis.call("ZREM", ${K.backlog}, room)
gc(room)
return n
`,
  decode: Reply.integer
})
