/**
 * Lua shared by the scripts with a shard base (spliced in by `define.ts` after `base` and `pub`,
 * each script getting the functions it uses; key helpers such as `k_meta(room)` are inlined from
 * the key schema, `../keys.ts`, which documents every key).
 * `base` is the shard's key base (reassigned per item in batches), `pub` the publish command
 * ("PUBLISH", or "SPUBLISH" on a cluster).
 *
 * Every `redis.call` costs about a microsecond of glue besides the command itself, which is most
 * of a script's time: the hot scripts (ack, send, outOfBand, and `release` here) keep their calls
 * few, e.g. an ack that is not the last one is HMGET + SMOVE + SCARD.
 *
 * Fencing (S21): every script that writes for a client takes the `epoch` of its claim ("" for a
 * client that is not durable) and checks it with `fenced` before writing; a fenced call writes
 * nothing (a batch skips the fenced items) and answers `superseded`, which the backend maps to
 * `QueueError.ClientSuperseded`.
 */
import * as Keys from "../keys.js"

/**
 * The error code of the reply of a fenced call (S21): the backend recognizes the reply by it (its
 * message starts with it).
 */
export const supersededReply = "LOCKSTEP_SUPERSEDED"

/**
 * The Lua expression of that error reply: a fenced script returns it. Redis 7 takes the first word
 * of an error reply as its code only when a message follows it (else the code is `ERR`).
 */
export const superseded = `redis.error_reply("${supersededReply} a newer claim of this client id exists")`

/** every key of a room (not its channel), for the DEL of an empty room: the schema's whole list */
const roomKeys = Object.keys(Keys.roomKinds).filter((kind) => kind !== "channel").map((kind) => `k_${kind}(room)`)

const prelude = `
local function now_ms()
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- S21: whether a durable client (epoch ~= "") lost its claim on the shard of base: a newer claim
-- of its id exists, and its writes there must have no effect. One HGET for a durable client, no
-- call for others; seen (a table, optional) keeps the answer per shard base for one script call
local function fenced(client, epoch, seen)
  if epoch == "" then return false end
  local f = seen and seen[base]
  if f == nil then
    f = redis.call("HGET", k_claims(), client) ~= epoch
    if seen then seen[base] = f end
  end
  return f
end

-- frames are numbered per shard, not per room: the numbers keep growing when a room's keys are
-- dropped (gc) and made again, so a joiner can always tell what was released before it joined (S5)
local function publish(room, body)
  local frame = redis.call("INCR", k_frames())
  redis.call(pub, k_channel(room), frame .. "|" .. body)
end

-- hand a message to the room: publish it; the sync members become its holders (S3, S7).
-- dl: the room's least ack timeout if the caller has read it (false: none), nil to read it here
local function deliver(room, id, envelope, now, dl)
  publish(room, envelope)
  local holders = redis.call("SUNIONSTORE", k_holders(room), k_sync(room))
  if holders > 0 then
    local m = k_meta(room)
    redis.call("HSET", m, "fid", id, "fenv", envelope, "fat", now)
    redis.call("ZADD", k_inflight(), now, room)
    if dl == nil then dl = redis.call("HGET", m, "dl") end
    if dl then redis.call("ZADD", k_deadlines(), now + tonumber(dl), room) end
    return true
  end
  return false
end

-- release queued messages while no holder is left (S3); they go to nobody without members (S7).
-- now and dl may be nil (read here when needed)
local function release(room, now, dl)
  if redis.call("SCARD", k_holders(room)) > 0 then return end
  now = now or now_ms()
  redis.call("DEL", k_acked(room))
  local q = k_queue(room)
  while true do
    local head = redis.call("ZPOPMIN", q)
    if #head == 0 then
      -- nothing in flight any more (a delivered message overwrites these fields instead)
      redis.call("HDEL", k_meta(room), "fid", "fenv", "fat")
      redis.call("ZREM", k_inflight(), room)
      if dl ~= false then redis.call("ZREM", k_deadlines(), room) end
      return
    end
    local p = k_payloads(room)
    local v = redis.call("HGET", p, head[1])
    redis.call("HDEL", p, head[1])
    if tonumber(redis.call("ZINCRBY", k_backlog(), -1, room)) <= 0 then redis.call("ZREM", k_backlog(), room) end
    local bar = v and string.find(v, "|", 1, true) -- a corrupt entry (no payload, no id) is skipped
    if bar and deliver(room, string.sub(v, 1, bar - 1), string.sub(v, bar + 1), now, dl) then return end
  end
end

-- drop every key of an empty room (S18)
local function gc(room)
  if redis.call("HLEN", k_members(room)) == 0 and redis.call("ZCARD", k_queue(room)) == 0 then
    redis.call("DEL", ${roomKeys.join(", ")})
    redis.call("ZREM", k_backlog(), room)
    redis.call("ZREM", k_deadlines(), room)
    redis.call("ZREM", k_rooms(), room)
    redis.call("ZREM", k_inflight(), room)
  end
end

local function remove_member(room, client, now)
  if redis.call("HDEL", k_members(room), client) == 0 then return false end
  redis.call("SREM", k_sync(room), client)
  redis.call("SREM", k_holders(room), client)
  redis.call("SREM", k_clientRooms(client), room)
  redis.call("ZREM", k_detached(), client .. "|" .. room) -- no longer waiting for a successor (S18)
  release(room, now, nil)
  gc(room)
  return true
end

local function eject(room, client, why, now)
  publish(room, cjson.encode({ k = "e", c = client, why = why }))
  remove_member(room, client, now)
end
`

/**
 * The prelude's functions, each with the comment above it, in order (a function may call those
 * before it; functions are separated by a blank line): `define.ts` includes the ones a script uses.
 */
export const preludeFunctions: ReadonlyArray<{ readonly name: string; readonly lua: string }> = prelude
  .split(/\n\s*\n(?=(?:--[^\n]*\n)*local function )/)
  .map((chunk) => chunk.trim())
  .filter((chunk) => chunk !== "")
  .map((lua) => ({ name: /local function (\w+)\(/.exec(lua)![1]!, lua }))
