/**
 * eject: an operator ends a member's membership of a room (`RoomAdmin.eject`).
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     base, pub, room, member (the client id ejected), client and epoch (the operator's own).
 * Returns  1 if `member` was a member, else 0; the `superseded` error reply when the operator's
 *          client is fenced (nothing changed).
 * Enforces S30 (an ejection notice "operator" on the room channel, then the membership is removed
 *          as an ack-timeout ejection removes it: what it held is released as for a leave, S6,
 *          unless the room is paused; a durable membership ends for good: it no longer waits for a
 *          successor, and a later join of the id is a fresh one, S5), S21.
 */
import { K, meta } from "../keys.js"
import * as Operation from "../operation.js"
import { eject as ejectMember, fenced, nowMs, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const eject = Operation.shard({
  name: "eject",
  args: { room: Operation.string, member: Operation.string, client: Operation.string, epoch: Operation.epoch },
  key: ({ base, room }) => meta(base, room),
  includes: [nowMs, fenced, ejectMember],
  lua: `
if fenced(client, epoch) then return ${superseded} end
if redis.call("HEXISTS", ${K.members("room")}, member) == 0 then return 0 end
eject(room, member, "operator", now_ms())
return 1
`,
  decode: Reply.flag
})
