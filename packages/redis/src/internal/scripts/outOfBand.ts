/**
 * outOfBand: the out-of-band messages of one client to one shard in one event-loop turn, in order.
 *
 * KEYS[1]  meta(room) of the first item (routing).
 * ARGV     (`Keys.outOfBand`) base, pub; then per message: base, room, envelope.
 * Returns  how many were published.
 * Enforces S9 (published to the room's current subscribers at once, never queued); a room
 *          without members writes nothing.
 */
import { define } from "./define.js"

export const outOfBand = define("outOfBand", { prelude: true }, ({ forEachItem }) => `
local published = 0
${forEachItem}
  if redis.call("HLEN", k_members(room)) > 0 then
    publish(room, envelope)
    published = published + 1
  end
end
return published
`)
