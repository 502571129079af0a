/**
 * ack: the acks of one client in one event-loop turn to the shards of one node, in one call.
 *
 * KEYS[1]  meta(room) of the first item: routes the call to the node.
 * ARGV     (`Keys.ack`) base, pub, client; then per ack: base, room, id. Flagged
 *          `allow-cross-slot-keys`: on a cluster the items name the shards (slots) the node of
 *          KEYS[1] serves; each item sets `base` to its own shard.
 * Returns  how many of the acks counted.
 * Enforces S4 (only a holder acking the in-flight id counts: stale, duplicate and foreign acks do
 *          nothing), S14 (holder → acked), S3 (the last holder releases the next message, here).
 * Calls    HMGET + SMOVE + SCARD for an ack that is not the last one; HMGET alone for a stale one.
 */
import { define } from "./define.js"

export const ack = define("ack", { prelude: true, crossSlot: true }, ({ forEachItem }) => `
local counted = 0
${forEachItem}
  local cur = redis.call("HMGET", k_meta(room), "fid", "dl")
  -- from the holders to the members that acked (S14), in one call
  if cur[1] == id and redis.call("SMOVE", k_holders(room), k_acked(room), client) == 1 then
    counted = counted + 1
    release(room, nil, cur[2])
  end
end
return counted
`)
