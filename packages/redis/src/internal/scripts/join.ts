/**
 * join: make a client a member of a room, or resume a durable client's membership.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     (`Keys.join`) base, pub, room, client, mode ("s" | "a"), ackTimeoutMs ("" for none),
 *          clientTimeoutMs, epoch ("" unless the client is durable and claimed its id).
 * Returns  { frame } for a fresh join: the shard's frame number, the room's frames up to it
 *          predate the join; { frame, in-flight id, in-flight envelope } for a resumed membership
 *          that holds the in-flight message unacked. The `superseded` error reply when fenced.
 * Enforces S3 / S8 (a sync or async member), S5 (a fresh member is not a holder of the in-flight
 *          message: the caller drops frames up to the number returned), S10 (refreshes the
 *          client's expiry), S11 (the room's least ack timeout), S21 (a fenced client writes
 *          nothing), S22 / S25 (a durable client already a member in the same mode resumes the
 *          membership: it keeps holding what it holds and stops waiting for a successor; in the
 *          other mode it leaves, which may release, and joins afresh).
 */
import { define } from "./define.js"
import { superseded } from "./prelude.js"

export const join = define("join", { prelude: true }, () => `
if fenced(client, epoch) then return ${superseded} end
local now = now_ms()
local resumed = false
if epoch ~= "" then
  if redis.call("HEXISTS", k_members(room), client) == 1 then
    if (redis.call("SISMEMBER", k_sync(room), client) == 1) == (mode == "s") then
      resumed = true
    else
      remove_member(room, client, now)
    end
  end
  -- the membership is live: no longer waiting for a successor (nor ended by a stale entry)
  redis.call("ZREM", k_detached(), client .. "|" .. room)
end
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
-- S26: an active room of the shard (gc drops it with the room's keys)
redis.call("ZADD", k_rooms(), 0, room)
local frame = tonumber(redis.call("GET", k_frames()) or 0)
if resumed and redis.call("SISMEMBER", k_holders(room), client) == 1 then
  local held = redis.call("HMGET", k_meta(room), "fid", "fenv")
  return { frame, held[1], held[2] }
end
return { frame }
`)
