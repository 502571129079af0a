/**
 * join: make a client a member of a room.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     (`Keys.join`) base, pub, room, client, mode ("s" | "a"), ackTimeoutMs ("" for none),
 *          clientTimeoutMs.
 * Returns  the shard's frame number: the room's frames up to it predate the join.
 * Enforces S3 / S8 (a sync or async member), S5 (not a holder of the in-flight message: the
 *          caller drops frames up to the number returned), S10 (refreshes the client's expiry),
 *          S11 (the room's least ack timeout).
 */
import { define } from "./define.js"

export const join = define("join", { prelude: true }, () => `
local now = now_ms()
redis.call("ZADD", k_clients(), now + tonumber(clientTimeoutMs), client)
redis.call("HSET", k_members(room), client, ackTimeoutMs)
if mode == "s" then
  redis.call("SADD", k_sync(room), client)
  if ackTimeoutMs ~= "" then
    local m = k_meta(room)
    local dl = redis.call("HGET", m, "dl")
    if (not dl) or tonumber(dl) > tonumber(ackTimeoutMs) then redis.call("HSET", m, "dl", ackTimeoutMs) end
  end
else
  redis.call("SREM", k_sync(room), client)
end
redis.call("SADD", k_clientRooms(client), room)
return tonumber(redis.call("GET", k_frames()) or 0)
`)
