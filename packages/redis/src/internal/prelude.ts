/**
 * The Lua helpers the operations share, each a value an operation includes by name
 * (`includes` of `operation.ts`): a script defines exactly the helpers it includes and those they
 * use, in the order of `helpers` below, before its body. Keys, fields and encodings come from the
 * key schema (`keys.ts`, interpolated). `base` is the shard's key base (reassigned per item in
 * batches), `pub` the publish command ("PUBLISH", or "SPUBLISH" on a cluster).
 *
 * Every `redis.call` costs about a microsecond of glue besides the command itself, which is most
 * of a script's time: the hot scripts (ack, send, outOfBand, and `release` here) keep their calls
 * few, e.g. an ack that is not the last one is HMGET + SMOVE + SCARD. Every `local function` a
 * script defines is a closure made on each of its calls: a script includes only what it calls.
 *
 * Fencing (S21): every script that writes for a client takes the `epoch` of its claim ("" for a
 * client that is not durable) and checks it with `fenced` before writing; a fenced call writes
 * nothing (a batch skips the fenced items) and answers `superseded`, which the backend maps to
 * `QueueError.ClientSuperseded`.
 */
import { detachedMembership, F, frame, K, queued, roomKinds } from "./keys.js"

/** A Lua function shared by operations. */
export interface Helper {
  /** the name of its `local function` */
  readonly name: string
  /** the helpers it calls: a script including it includes them too */
  readonly uses: ReadonlyArray<Helper>
  /**
   * whether it reads the script's `base` or `pub` itself: an operation without a shard base may
   * include neither such a helper nor one that uses such a helper
   */
  readonly shard: boolean
  /** its definition, with the comment above it */
  readonly lua: string
}

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

/**
 * The Lua condition "the claim of locals `client` / `epoch` is not the latest on the shard whose
 * `claims` key is `claimsKey`" (S21): one HGET. `fenced` asks it; `keepaliveMany`, which has no
 * shard base, asks it of the first shard it refreshes.
 */
export const claimLost = (claimsKey: string): string => `redis.call("HGET", ${claimsKey}, client) ~= epoch`

export const nowMs: Helper = {
  name: "now_ms",
  uses: [],
  shard: false,
  lua: `
local function now_ms()
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end`
}

export const fenced: Helper = {
  name: "fenced",
  uses: [],
  shard: true,
  lua: `
-- S21: whether a durable client (epoch ~= "") lost its claim on the shard of base: a newer claim
-- of its id exists, and its writes there must have no effect. One HGET for a durable client, no
-- call for others; seen (a table, optional) keeps the answer per shard base for one script call
local function fenced(client, epoch, seen)
  if epoch == "" then return false end
  local f = seen and seen[base]
  if f == nil then
    f = ${claimLost(K.claims)}
    if seen then seen[base] = f end
  end
  return f
end`
}

export const publish: Helper = {
  name: "publish",
  uses: [],
  shard: true,
  lua: `
-- frames are numbered per shard, not per room: the numbers keep growing when a room's keys are
-- dropped (gc) and made again, so a joiner can always tell what was released before it joined (S5)
local function publish(room, body)
  local frame = redis.call("INCR", ${K.frames})
  redis.call(pub, ${K.channel("room")}, ${frame.lua.encode("frame", "body")})
end`
}

export const deliver: Helper = {
  name: "deliver",
  uses: [publish],
  shard: true,
  lua: `
-- hand a message to the room: publish it; the sync members become its holders (S3, S7).
-- dl: the room's least ack timeout if the caller has read it (false: none), nil to read it here
local function deliver(room, id, envelope, now, dl)
  publish(room, envelope)
  local holders = redis.call("SUNIONSTORE", ${K.holders("room")}, ${K.sync("room")})
  if holders > 0 then
    local m = ${K.meta("room")}
    redis.call("HSET", m, ${F.inFlightId}, id, ${F.inFlightEnvelope}, envelope, ${F.releasedAt}, now)
    redis.call("ZADD", ${K.inflight}, now, room)
    if dl == nil then dl = redis.call("HGET", m, ${F.leastAckTimeout}) end
    if dl then redis.call("ZADD", ${K.deadlines}, now + tonumber(dl), room) end
    return true
  end
  return false
end`
}

export const release: Helper = {
  name: "release",
  uses: [nowMs, deliver],
  shard: true,
  lua: `
-- release queued messages while no holder is left (S3); they go to nobody without members (S7).
-- now and dl may be nil (read here when needed)
local function release(room, now, dl)
  if redis.call("SCARD", ${K.holders("room")}) > 0 then return end
  now = now or now_ms()
  redis.call("DEL", ${K.acked("room")})
  local q = ${K.queue("room")}
  while true do
    local head = redis.call("ZPOPMIN", q)
    if #head == 0 then
      -- nothing in flight any more (a delivered message overwrites these fields instead)
      redis.call("HDEL", ${K.meta("room")}, ${F.inFlightId}, ${F.inFlightEnvelope}, ${F.releasedAt})
      redis.call("ZREM", ${K.inflight}, room)
      if dl ~= false then redis.call("ZREM", ${K.deadlines}, room) end
      return
    end
    local p = ${K.payloads("room")}
    local v = redis.call("HGET", p, head[1])
    redis.call("HDEL", p, head[1])
    if tonumber(redis.call("ZINCRBY", ${K.backlog}, -1, room)) <= 0 then redis.call("ZREM", ${K.backlog}, room) end
    local bar = v and ${queued.lua.find("v")} -- a corrupt entry (no payload, no id) is skipped
    if bar and deliver(room, ${queued.lua.first("v", "bar")}, ${queued.lua.second("v", "bar")}, now, dl) then return end
  end
end`
}

/** every key of a room (not its channel), for the DEL of an empty room: the schema's whole list */
const roomKeys = (Object.keys(roomKinds) as Array<keyof typeof roomKinds>)
  .filter((kind) => kind !== "channel")
  .map((kind) => K[kind]("room"))

export const gc: Helper = {
  name: "gc",
  uses: [],
  shard: true,
  lua: `
-- drop every key of an empty room (S18)
local function gc(room)
  if redis.call("HLEN", ${K.members("room")}) == 0 and redis.call("ZCARD", ${K.queue("room")}) == 0 then
    redis.call("DEL", ${roomKeys.join(", ")})
    redis.call("ZREM", ${K.backlog}, room)
    redis.call("ZREM", ${K.deadlines}, room)
    redis.call("ZREM", ${K.rooms}, room)
    redis.call("ZREM", ${K.inflight}, room)
  end
end`
}

export const removeMember: Helper = {
  name: "remove_member",
  uses: [release, gc],
  shard: true,
  lua: `
local function remove_member(room, client, now)
  if redis.call("HDEL", ${K.members("room")}, client) == 0 then return false end
  redis.call("SREM", ${K.sync("room")}, client)
  redis.call("SREM", ${K.holders("room")}, client)
  redis.call("SREM", ${K.clientRooms("client")}, room)
  redis.call("ZREM", ${K.detached}, ${
    detachedMembership.lua.encode("client", "room")
  }) -- no longer waiting for a successor (S18)
  release(room, now, nil)
  gc(room)
  return true
end`
}

export const eject: Helper = {
  name: "eject",
  uses: [publish, removeMember],
  shard: false,
  lua: `
local function eject(room, client, why, now)
  publish(room, cjson.encode({ k = "e", c = client, why = why }))
  remove_member(room, client, now)
end`
}

/** Every helper, in the order a script defines them: each after the helpers it uses. */
export const helpers: ReadonlyArray<Helper> = [nowMs, fenced, publish, deliver, release, gc, removeMember, eject]
