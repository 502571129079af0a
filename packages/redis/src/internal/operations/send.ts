/**
 * send: the sends of one client to one shard in one event-loop turn, in order, in one call.
 *
 * KEYS[1]  meta(room) of the first item (routing).
 * ARGV     base, pub, client, epoch; then per message: base, room, id, envelope, priority.
 * Returns  how many were kept (released or queued); the `superseded` error reply if the client was
 *          fenced on the shard of any item (those items wrote nothing, the others were made).
 * Enforces S2 (queued by priority, then arrival: a zero-padded per-room counter), S3 (released at
 *          once only when nothing is in flight or queued), S7 (a room without members writes
 *          nothing: the message is gone, at-most-once; `keeps`), S21 (a fenced durable client writes
 *          nothing), S30 (queued in a paused room, even one without members: `keeps`, `admit`).
 */
import { meta } from "../keys.js"
import * as Operation from "../operation.js"
import { admit, fenced, keeps, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const send = Operation.batch({
  name: "send",
  head: { client: Operation.string, epoch: Operation.epoch },
  item: {
    base: Operation.string,
    room: Operation.string,
    id: Operation.string,
    envelope: Operation.string,
    priority: Operation.number
  },
  key: ({ base, room }) => meta(base, room),
  includes: [fenced, admit, keeps],
  lua: ({ forEachItem }) => `
local kept = 0
local now = nil
local lost, seen = false, {}
${forEachItem}
  if fenced(client, epoch, seen) then
    lost = true
  elseif keeps(room) then
    kept = kept + 1
    now = admit(room, id, envelope, priority, now)
  end
end
if lost then return ${superseded} end
return kept
`,
  decode: Reply.integer
})
