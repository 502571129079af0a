/**
 * ack: the acks of one client in one event-loop turn to the shards of one node, in one call.
 *
 * KEYS[1]  meta(room) of the first item: routes the call to the node.
 * ARGV     base, pub, client, epoch; then per ack: base, room, id. Flagged
 *          `allow-cross-slot-keys`: on a cluster the items name the shards (slots) the node of
 *          KEYS[1] serves; each item sets `base` to its own shard.
 * Returns  how many of the acks counted; the `superseded` error reply if the client was fenced on
 *          the shard of any item (those did nothing, the others counted).
 * Enforces S4 (only a holder acking the in-flight id counts: stale, duplicate and foreign acks do
 *          nothing), S14 (holder → acked), S3 (the last holder releases the next message, here),
 *          S21 (a fenced durable client's acks do nothing), S30 (not in a paused room: the flag
 *          is read with the in-flight id).
 * Calls    HMGET + SMOVE + SCARD for an ack that is not the last one; HMGET alone for a stale one;
 *          a durable client adds one HGET per shard of the call (`fenced`).
 */
import { F, K, meta } from "../keys.js"
import * as Operation from "../operation.js"
import { fenced, release, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const ack = Operation.batch({
  name: "ack",
  head: { client: Operation.string, epoch: Operation.epoch },
  item: { base: Operation.string, room: Operation.string, id: Operation.string },
  key: ({ base, room }) => meta(base, room),
  includes: [fenced, release],
  crossSlot: true,
  lua: ({ forEachItem }) => `
local counted = 0
local lost, seen = false, {}
${forEachItem}
  if fenced(client, epoch, seen) then
    lost = true
  else
    local cur = redis.call("HMGET", ${K.meta("room")}, ${F.inFlightId}, ${F.leastAckTimeout}, ${F.paused})
    -- from the holders to the members that acked (S14), in one call
    if cur[1] == id and redis.call("SMOVE", ${K.holders("room")}, ${K.acked("room")}, client) == 1 then
      counted = counted + 1
      release(room, nil, cur[2], cur[3] ~= false)
    end
  end
end
if lost then return ${superseded} end
return counted
`,
  decode: Reply.integer
})
