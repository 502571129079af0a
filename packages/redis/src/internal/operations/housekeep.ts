/**
 * housekeep: eject what expired on one shard, bounded work.
 *
 * KEYS[1]  clients (routing).
 * ARGV     base, pub, lockMs, limit; then expiredClients, the clients the registry shard
 *          (shard 0) found expired, ejected here too, lock or not.
 * Returns  { ejections, ids of the clients found expired here }, or -1 when another run holds the lock.
 * Enforces S10 (clients past their expiry leave all their rooms, which move on), S11 (holders past
 *          their ack deadline leave that room), S23 / S24 (durable memberships that no join resumed
 *          by their deadline in `detached` are ejected as an expiry ejects them). The lock key
 *          makes concurrent runs a no-op; the work is bounded by `limit` (per kind) and
 *          proportional to what expired, never to the number of rooms.
 */
import * as Result from "effect/Result"
import { clients, detachedMembership, F, K } from "../keys.js"
import * as Operation from "../operation.js"
import { eject, nowMs } from "../prelude.js"
import * as Reply from "../reply.js"

/** What a run did, or `null` when another run held the lock. */
export type Housekept = { readonly ejections: number; readonly expired: ReadonlyArray<string> } | null

/** a `detached` member, `"<client>|<room>"` */
const membership = detachedMembership.lua

export const housekeep = Operation.shard({
  name: "housekeep",
  args: { lockMs: Operation.number, limit: Operation.number, expiredClients: Operation.rest("expiredClient") },
  key: ({ base }) => clients(base),
  includes: [nowMs, eject],
  lua: ({ forEachRest, restCount }) => `
local forced = ${restCount} > 0
if (not forced) and (not redis.call("SET", ${K.lock}, "1", "NX", "PX", lockMs)) then return -1 end
local now = now_ms()
local n = 0
local expired = redis.call("ZRANGEBYSCORE", ${K.clients}, "-inf", now, "LIMIT", 0, tonumber(limit))
${forEachRest}
  expired[#expired + 1] = expiredClient
end
for _, client in ipairs(expired) do
  for _, room in ipairs(redis.call("SMEMBERS", ${K.clientRooms("client")})) do
    eject(room, client, "keepalive-timeout", now)
    n = n + 1
  end
  redis.call("DEL", ${K.clientRooms("client")})
  redis.call("ZREM", ${K.clients}, client)
end
local expired_ids = {}
for i = 1, #expired do expired_ids[i] = expired[i] end
local detached = ${K.detached}
for _, entry in ipairs(redis.call("ZRANGEBYSCORE", detached, "-inf", now, "LIMIT", 0, tonumber(limit))) do
  redis.call("ZREM", detached, entry)
  local bar = ${membership.find("entry")}
  if bar then
    local client, room = ${membership.first("entry", "bar")}, ${membership.second("entry", "bar")}
    if redis.call("HEXISTS", ${K.members("room")}, client) == 1 then
      eject(room, client, "keepalive-timeout", now)
      n = n + 1
    end
  end
end
for _, room in ipairs(redis.call("ZRANGEBYSCORE", ${K.deadlines}, "-inf", now, "LIMIT", 0, tonumber(limit))) do
  local m = ${K.meta("room")}
  local fid = redis.call("HGET", m, ${F.inFlightId})
  local fat = tonumber(redis.call("HGET", m, ${F.releasedAt}))
  local next_due = nil
  if fid and fat then
    for _, client in ipairs(redis.call("SMEMBERS", ${K.holders("room")})) do
      local t = redis.call("HGET", ${K.members("room")}, client)
      if t and t ~= "" then
        local due = fat + tonumber(t)
        if due > now then
          if (not next_due) or due < next_due then next_due = due end
        elseif redis.call("HGET", m, ${F.inFlightId}) == fid then
          eject(room, client, "ack-timeout", now)
          n = n + 1
        end
      end
    end
  end
  if redis.call("HGET", m, ${F.inFlightId}) == fid then
    if next_due then redis.call("ZADD", ${K.deadlines}, next_due, room)
    else redis.call("ZREM", ${K.deadlines}, room) end
  end
end
return { n, expired_ids }
`,
  decode: (reply): Result.Result<Housekept, string> => {
    if (reply === -1) return Result.succeed(null)
    const [ejections, expired] = Reply.tuple(reply, 2) ?? []
    return typeof ejections === "number" && Reply.isStrings(expired)
      ? Result.succeed({ ejections, expired })
      : Reply.fail("-1 or { ejections, expired client ids }")
  }
})
