/**
 * join: make a client a member of a room, or resume a durable client's membership.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     base, pub, room, client, mode ("s" | "a"), ackTimeoutMs ("" for none), clientTimeoutMs,
 *          epoch ("" unless the client is durable and claimed its id).
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
import type { Backend } from "@lockstep/core"
import * as Result from "effect/Result"
import { detachedMembership, F, K, meta } from "../keys.js"
import * as Operation from "../operation.js"
import { fenced, nowMs, removeMember, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const join = Operation.shard({
  name: "join",
  args: {
    room: Operation.string,
    client: Operation.string,
    mode: Operation.of<"s" | "a">(),
    ackTimeoutMs: Operation.of<number | "">(),
    clientTimeoutMs: Operation.number,
    epoch: Operation.epoch
  },
  key: ({ base, room }) => meta(base, room),
  includes: [nowMs, fenced, removeMember],
  lua: `
if fenced(client, epoch) then return ${superseded} end
local now = now_ms()
local resumed = false
if epoch ~= "" then
  if redis.call("HEXISTS", ${K.members("room")}, client) == 1 then
    if (redis.call("SISMEMBER", ${K.sync("room")}, client) == 1) == (mode == "s") then
      resumed = true
    else
      remove_member(room, client, now)
    end
  end
  -- the membership is live: no longer waiting for a successor (nor ended by a stale entry)
  redis.call("ZREM", ${K.detached}, ${detachedMembership.lua.encode("client", "room")})
end
redis.call("ZADD", ${K.clients}, now + tonumber(clientTimeoutMs), client)
redis.call("HSET", ${K.members("room")}, client, ackTimeoutMs)
if mode == "s" then
  redis.call("SADD", ${K.sync("room")}, client)
  if ackTimeoutMs ~= "" then
    local m = ${K.meta("room")}
    local dl = redis.call("HGET", m, ${F.leastAckTimeout})
    if (not dl) or tonumber(dl) > tonumber(ackTimeoutMs) then redis.call("HSET", m, ${F.leastAckTimeout}, ackTimeoutMs) end
  end
else
  redis.call("SREM", ${K.sync("room")}, client)
end
redis.call("SADD", ${K.clientRooms("client")}, room)
-- S26: an active room of the shard (gc drops it with the room's keys)
redis.call("ZADD", ${K.rooms}, 0, room)
local frame = tonumber(redis.call("GET", ${K.frames}) or 0)
if resumed and redis.call("SISMEMBER", ${K.holders("room")}, client) == 1 then
  local held = redis.call("HMGET", ${K.meta("room")}, ${F.inFlightId}, ${F.inFlightEnvelope})
  return { frame, held[1], held[2] }
end
return { frame }
`,
  decode: (reply): Result.Result<Backend.JoinResult, string> => {
    const [frame, id, envelope] = Reply.tuple(reply, 1) ?? []
    const event = Reply.number(frame)
    return event === undefined
      ? Reply.fail("{ frame } or { frame, id, envelope }")
      : Result.succeed({
        event,
        inFlight: typeof id === "string" && typeof envelope === "string" ? { id, envelope } : null
      })
  }
})
