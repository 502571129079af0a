/**
 * dropDeadLetters: an operator drops a room's dead letters (`RoomAdmin.dropDeadLetters`).
 *
 * KEYS[1]  letters(room) (routing).
 * ARGV     base, pub, room, client, epoch (the operator's).
 * Returns  how many letters were dropped; the `superseded` error reply when fenced.
 * Enforces S29, S18 (nothing of them is left), S21.
 */
import { K, letters } from "../keys.js"
import * as Operation from "../operation.js"
import { fenced, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const dropDeadLetters = Operation.shard({
  name: "dropDeadLetters",
  args: { room: Operation.string, client: Operation.string, epoch: Operation.epoch },
  key: ({ base, room }) => letters(base, room),
  includes: [fenced],
  lua: `
if fenced(client, epoch) then return ${superseded} end
local key = ${K.letters("room")}
local n = redis.call("ZCARD", key)
redis.call("DEL", key)
return n
`,
  decode: Reply.integer
})
