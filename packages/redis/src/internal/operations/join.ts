/**
 * join: make a client a member of a room, or resume a durable client's membership.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     base, pub, room, client, mode ("s" | "a"), ackTimeoutMs ("" for none), clientTimeoutMs,
 *          epoch ("" unless the client is durable and claimed its id), handed (the id of the last
 *          message this process handed to its consumer in the room, "" for none), maxDeliveries
 *          ("" for no bound), limit and retentionMs (the dead-letter policy).
 * Returns  { frame } for a fresh join: the shard's frame number, the room's frames up to it
 *          predate the join; { frame, in-flight id, in-flight envelope, attempt } for a resumed
 *          membership that holds the in-flight message unacked. The `superseded` error reply when
 *          fenced.
 * Enforces S3 / S8 (a sync or async member), S5 (a fresh member is not a holder of the in-flight
 *          message: the caller drops frames up to the number returned), S10 (refreshes the
 *          client's expiry), S11 (the room's least ack timeout), S21 (a fenced client writes
 *          nothing), S22 / S25 (a durable client already a member in the same mode resumes the
 *          membership: it keeps holding what it holds and stops waiting for a successor; in the
 *          other mode it leaves, which may release, and joins afresh), S27 (the attempt of the
 *          message handed again: one more than the last, `handed_before`, unless this claim's
 *          join already counted it and its answer never reached a consumer: `handed` is another
 *          id; recorded in `attempts`), S28 (an attempt above `maxDeliveries` is not handed: a dead
 *          letter "max-deliveries" for this member, which counts as its ack, and the next message
 *          is released unless the room is paused, S30: its frame follows the frame answered, so
 *          the joiner receives it).
 */
import type { Backend } from "@lockstep/core"
import * as Result from "effect/Result"
import { attempt, detachedMembership, F, K, meta } from "../keys.js"
import * as Operation from "../operation.js"
import { deadLetter, fenced, handedBefore, nowMs, release, removeMember, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const join = Operation.shard({
  name: "join",
  args: {
    room: Operation.string,
    client: Operation.string,
    mode: Operation.of<"s" | "a">(),
    ackTimeoutMs: Operation.of<number | "">(),
    clientTimeoutMs: Operation.number,
    epoch: Operation.epoch,
    handed: Operation.string,
    maxDeliveries: Operation.of<number | "">(),
    limit: Operation.number,
    retentionMs: Operation.number
  },
  key: ({ base, room }) => meta(base, room),
  includes: [nowMs, fenced, release, removeMember, handedBefore, deadLetter],
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
-- read before anything this join may release: the joiner receives what it releases (S28)
local frame = tonumber(redis.call("GET", ${K.frames}) or 0)
local answer = { frame }
if resumed and redis.call("SISMEMBER", ${K.holders("room")}, client) == 1 then
  local held = redis.call("HMGET", ${K.meta("room")}, ${F.inFlightId}, ${F.inFlightEnvelope}, ${F.releasedFrame})
  local id, envelope = held[1], held[2]
  if id and envelope then
    local n, counted_by = handed_before(room, client, id, held[3])
    if counted_by ~= epoch or handed == id then n = n + 1 end
    if maxDeliveries ~= "" and n > tonumber(maxDeliveries) then
      dead_letter(room, id, envelope, client, n - 1, "max-deliveries", now, limit, retentionMs)
      redis.call("SMOVE", ${K.holders("room")}, ${K.acked("room")}, client)
      release(room, now, nil, nil)
    else
      redis.call("HSET", ${K.attempts("room")}, client, ${attempt.lua.encode("id", "n", "epoch")})
      answer = { frame, id, envelope, n }
    end
  end
end
-- its record of a detach or claim is used (S27): the membership is live
if epoch ~= "" then redis.call("HDEL", ${K.detachedAt("room")}, client) end
return answer
`,
  decode: (reply): Result.Result<Backend.JoinResult, string> => {
    const [frame, id, envelope, n] = Reply.tuple(reply, 1) ?? []
    const event = Reply.number(frame)
    if (event === undefined) return Reply.fail("{ frame } or { frame, id, envelope, attempt }")
    if (id === undefined) return Result.succeed({ event, inFlight: null })
    const attempt = Reply.number(n)
    return typeof id === "string" && typeof envelope === "string" && attempt !== undefined
      ? Result.succeed({ event, inFlight: { id, envelope, attempt } })
      : Reply.fail("{ frame } or { frame, id, envelope, attempt }")
  }
})
