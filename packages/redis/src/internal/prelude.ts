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
import { attempt, detachedMembership, F, frame, K, letter, queued, stateKinds } from "./keys.js"

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
-- dropped (gc) and made again, so a joiner can always tell what was released before it joined (S5).
-- Answers the frame's number
local function publish(room, body)
  local frame = redis.call("INCR", ${K.frames})
  redis.call(pub, ${K.channel("room")}, ${frame.lua.encode("frame", "body")})
  return frame
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
  local frame = publish(room, envelope)
  local holders = redis.call("SUNIONSTORE", ${K.holders("room")}, ${K.sync("room")})
  if holders > 0 then
    local m = ${K.meta("room")}
    redis.call("HSET", m, ${F.inFlightId}, id, ${F.inFlightEnvelope}, envelope, ${F.releasedAt}, now,
      ${F.releasedFrame}, frame)
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
-- release queued messages while no holder is left (S3) and the room is not paused (S30); they go
-- to nobody without members (S7). The attempt records, of the message settled, go (S27).
-- now, dl and paused (a boolean) may be nil (read here when needed)
local function release(room, now, dl, paused)
  if redis.call("SCARD", ${K.holders("room")}) > 0 then return end
  now = now or now_ms()
  redis.call("DEL", ${K.acked("room")}, ${K.attempts("room")})
  local m = ${K.meta("room")}
  if paused == nil then paused = redis.call("HEXISTS", m, ${F.paused}) == 1 end
  local q = ${K.queue("room")}
  while true do
    local head = paused and {} or redis.call("ZPOPMIN", q)
    if #head == 0 then
      -- nothing in flight any more (a delivered message overwrites these fields instead)
      redis.call("HDEL", m, ${F.inFlightId}, ${F.inFlightEnvelope}, ${F.releasedAt}, ${F.releasedFrame})
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

export const admit: Helper = {
  name: "admit",
  uses: [nowMs, deliver],
  shard: true,
  lua: `
-- a new message in a room that keeps it (see keeps): released at once when nothing is in flight or queued and
-- the room is not paused (S3, S30), else queued by priority, then arrival: a zero-padded per-room
-- counter (S2). now may be nil (read when needed); answers it
local function admit(room, id, envelope, priority, now)
  local q = ${K.queue("room")}
  local m = ${K.meta("room")}
  if redis.call("SCARD", ${K.holders("room")}) == 0 and redis.call("ZCARD", q) == 0 and
    redis.call("HEXISTS", m, ${F.paused}) == 0 then
    now = now or now_ms()
    deliver(room, id, envelope, now, nil)
  else
    local member = string.format("%016d", redis.call("HINCRBY", m, ${F.arrivals}, 1))
    redis.call("ZADD", q, priority, member)
    redis.call("HSET", ${K.payloads("room")}, member, ${queued.lua.encode("id", "envelope")})
    redis.call("ZINCRBY", ${K.backlog}, 1, room)
  end
  return now
end`
}

export const keeps: Helper = {
  name: "keeps",
  uses: [],
  shard: true,
  lua: `
-- whether a message sent (or redriven) to the room is kept: it has members, or it is paused (S30:
-- sends queue; S7 applies when it is released, to whoever is a member then); else it is gone (S7)
local function keeps(room)
  return redis.call("HLEN", ${K.members("room")}) > 0 or redis.call("HEXISTS", ${K.meta("room")}, ${F.paused}) == 1
end`
}

/** every key of a room's state (not its channel nor its dead letters), for the DEL of an empty room */
const stateKeys = stateKinds.map((kind) => K[kind]("room"))

export const gc: Helper = {
  name: "gc",
  uses: [],
  shard: true,
  lua: `
-- drop every key of an empty room (S18), but the flag of a paused room: it outlives every client
-- until an operator resumes the room (S30)
local function gc(room)
  if redis.call("HLEN", ${K.members("room")}) == 0 and redis.call("ZCARD", ${K.queue("room")}) == 0 then
    local m = ${K.meta("room")}
    local paused = redis.call("HEXISTS", m, ${F.paused}) == 1
    redis.call("DEL", ${stateKeys.join(", ")})
    if paused then redis.call("HSET", m, ${F.paused}, "1") end
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
  -- no longer waiting for a successor (S18)
  redis.call("ZREM", ${K.detached}, ${detachedMembership.lua.encode("client", "room")})
  redis.call("HDEL", ${K.detachedAt("room")}, client)
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

export const handedBefore: Helper = {
  name: "handed_before",
  uses: [],
  shard: true,
  lua: `
-- S27: how many times message id, released at frame released (nil: unknown), reached member
-- before, and the claim epoch of the last time (nil: none): as its record says when a resumed join
-- handed it id; else 0 when the member was detached (S24) at the release (its record of the
-- detach or claim is older than the release); else 1, the release's publication
local function handed_before(room, member, id, released)
  local record = redis.call("HGET", ${K.attempts("room")}, member)
  if record then
    local rid, n, epoch = ${attempt.lua.decode("record")}
    if rid == id then return tonumber(n), epoch end
  end
  local since = redis.call("HGET", ${K.detachedAt("room")}, member)
  if since and released and tonumber(since) < tonumber(released) then return 0, nil end
  return 1, nil
end`
}

export const deadLetter: Helper = {
  name: "dead_letter",
  uses: [],
  shard: true,
  lua: `
-- S29: keep a dead letter of message id (envelope) for member, with the writer's policy: at most
-- limit letters (the oldest go), none older than retention ms (the oldest go, a bounded number per
-- letter written), none once the newest is older (the key expires)
local function dead_letter(room, id, envelope, member, attempts, reason, now, limit, retention)
  local key = ${K.letters("room")}
  local number = redis.call("INCR", ${K.letterSeq})
  redis.call("ZADD", key, number, ${
    letter.lua.encode("id", {
      seq: "number",
      at: "now",
      attempts: "attempts",
      member: "member",
      reason: "reason",
      envelope: "envelope"
    })
  })
  local over = redis.call("ZCARD", key) - tonumber(limit)
  if over > 0 then redis.call("ZREMRANGEBYRANK", key, 0, over - 1) end
  for _, v in ipairs(redis.call("ZRANGE", key, 0, 15)) do
    local at = ${letter.lua.at("v")}
    if at and at + tonumber(retention) > now then break end
    redis.call("ZREM", key, v)
  end
  redis.call("PEXPIRE", key, math.max(1, tonumber(retention)))
end`
}

/** Every helper, in the order a script defines them: each after the helpers it uses. */
export const helpers: ReadonlyArray<Helper> = [
  nowMs,
  fenced,
  publish,
  deliver,
  release,
  admit,
  keeps,
  gc,
  removeMember,
  eject,
  handedBefore,
  deadLetter
]
