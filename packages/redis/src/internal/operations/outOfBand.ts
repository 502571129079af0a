/**
 * outOfBand: the out-of-band messages of one client to one shard in one event-loop turn, in order.
 *
 * KEYS[1]  meta(room) of the first item (routing).
 * ARGV     base, pub, client, epoch; then per message: base, room, envelope.
 * Returns  how many were published; the `superseded` error reply if the client was fenced on the
 *          shard of any item (those were not published, the others were).
 * Enforces S9 (published to the room's current subscribers at once, never queued); a room
 *          without members writes nothing; S21 (a fenced durable client publishes nothing).
 */
import { K, meta } from "../keys.js"
import * as Operation from "../operation.js"
import { fenced, publish, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const outOfBand = Operation.batch({
  name: "outOfBand",
  head: { client: Operation.string, epoch: Operation.epoch },
  item: { base: Operation.string, room: Operation.string, envelope: Operation.string },
  key: ({ base, room }) => meta(base, room),
  includes: [fenced, publish],
  lua: ({ forEachItem }) => `
local published = 0
local lost, seen = false, {}
${forEachItem}
  if fenced(client, epoch, seen) then
    lost = true
  elseif redis.call("HLEN", ${K.members("room")}) > 0 then
    publish(room, envelope)
    published = published + 1
  end
end
if lost then return ${superseded} end
return published
`,
  decode: Reply.integer
})
