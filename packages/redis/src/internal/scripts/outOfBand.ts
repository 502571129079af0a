/**
 * outOfBand: the out-of-band messages of one client to one shard in one event-loop turn, in order.
 *
 * KEYS[1]  meta(room) of the first item (routing).
 * ARGV     (`Keys.outOfBand`) base, pub, client, epoch; then per message: base, room, envelope.
 * Returns  how many were published; the `superseded` error reply if the client was fenced on the
 *          shard of any item (those were not published, the others were).
 * Enforces S9 (published to the room's current subscribers at once, never queued); a room
 *          without members writes nothing; S21 (a fenced durable client publishes nothing).
 */
import { define } from "./define.js"
import { superseded } from "./prelude.js"

export const outOfBand = define("outOfBand", { prelude: true }, ({ forEachItem }) => `
local published = 0
local lost, seen = false, {}
${forEachItem}
  if fenced(client, epoch, seen) then
    lost = true
  elseif redis.call("HLEN", k_members(room)) > 0 then
    publish(room, envelope)
    published = published + 1
  end
end
if lost then return ${superseded} end
return published
`)
