/**
 * Lua shared by every script (prepended to each). Key layout of one shard, with
 * `B = <keyPrefix>:{<shard tag>}:` (one hash slot per shard, S17) and `R` the room name:
 *
 * | key            | type | content                                                     |
 * |----------------|------|-------------------------------------------------------------|
 * | B m:R          | hash | seq (arrival counter), fid/fenv/fat (in-flight id, envelope, release ms), dl (min ack timeout) |
 * | B mem:R        | hash | member client id → ack timeout ms ("" for none)             |
 * | B sy:R         | set  | sync members                                                |
 * | B h:R          | set  | holders: sync members at release that have not acked (S3)   |
 * | B a:R          | set  | members that acked the in-flight message (S14)              |
 * | B q:R          | zset | queued: score priority, member zero-padded arrival (S2)     |
 * | B p:R          | hash | arrival → "<id>|<envelope>"                                 |
 * | B c:R          | chan | room channel: frames "<event>|<envelope>"                   |
 * | B ev           | str  | number of the last frame published in the shard (S5)        |
 * | B clients      | zset | client id → expiry ms, server clock (S10)                   |
 * | B cr:<client>  | set  | rooms of a client on this shard                             |
 * | B backlog      | zset | room → backlog, rooms with a backlog only (S15)             |
 * | B deadlines    | zset | room → earliest ack deadline ms (S11)                       |
 * | B hk           | str  | housekeeping lock (PX)                                      |
 *
 * Every room key is deleted when the room has no member, no backlog and nothing in flight (S18);
 * `cr:<client>` when the client has no room left; `clients` entries by housekeeping or unregister;
 * `ev` is the one key a shard keeps for good.
 * ARGV[1] is always B and ARGV[2] the publish command ("PUBLISH" or "SPUBLISH").
 *
 * Every `redis.call` costs about a microsecond of glue besides the command itself, which is most
 * of a script's time: the hot scripts (ack, send) keep their calls few, e.g. an ack that is not
 * the last one is HMGET + SMOVE + SCARD.
 */
/**
 * The first line of the ack script, whose batches gather the shards of one node
 * (`connection.nodeOf`), so their items name several slots: Redis (≥ 7.0) then lets it touch the
 * keys of every slot the node serves. The items reset `B` to their own shard. (Send and
 * out-of-band batches are of one shard, one slot.)
 */
export const crossSlot = "#!lua flags=allow-cross-slot-keys\n"

export const prelude = `
local B = ARGV[1]
local PUB = ARGV[2]

local function now_ms()
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- frames are numbered per shard, not per room: the numbers keep growing when a room's keys are
-- dropped (gc) and made again, so a joiner can always tell what was released before it joined (S5)
local function publish(room, body)
  local ev = redis.call("INCR", B .. "ev")
  redis.call(PUB, B .. "c:" .. room, ev .. "|" .. body)
end

-- hand a message to the room: publish it; the sync members become its holders (S3, S7).
-- dl: the room's least ack timeout if the caller has read it (false: none), nil to read it here
local function deliver(room, id, env, now, dl)
  publish(room, env)
  local holders = redis.call("SUNIONSTORE", B .. "h:" .. room, B .. "sy:" .. room)
  if holders > 0 then
    local m = B .. "m:" .. room
    redis.call("HSET", m, "fid", id, "fenv", env, "fat", now)
    if dl == nil then dl = redis.call("HGET", m, "dl") end
    if dl then redis.call("ZADD", B .. "deadlines", now + tonumber(dl), room) end
    return true
  end
  return false
end

-- release queued messages while no holder is left (S3); they go to nobody without members (S7).
-- now and dl may be nil (read here when needed)
local function release(room, now, dl)
  if redis.call("SCARD", B .. "h:" .. room) > 0 then return end
  now = now or now_ms()
  redis.call("DEL", B .. "a:" .. room)
  local q = B .. "q:" .. room
  while true do
    local head = redis.call("ZPOPMIN", q)
    if #head == 0 then
      -- nothing in flight any more (a delivered message overwrites these fields instead)
      redis.call("HDEL", B .. "m:" .. room, "fid", "fenv", "fat")
      if dl ~= false then redis.call("ZREM", B .. "deadlines", room) end
      return
    end
    local p = B .. "p:" .. room
    local v = redis.call("HGET", p, head[1])
    redis.call("HDEL", p, head[1])
    if tonumber(redis.call("ZINCRBY", B .. "backlog", -1, room)) <= 0 then redis.call("ZREM", B .. "backlog", room) end
    local bar = v and string.find(v, "|", 1, true) -- a corrupt entry (no payload, no id) is skipped
    if bar and deliver(room, string.sub(v, 1, bar - 1), string.sub(v, bar + 1), now, dl) then return end
  end
end

-- drop every key of an empty room (S18)
local function gc(room)
  if redis.call("HLEN", B .. "mem:" .. room) == 0 and redis.call("ZCARD", B .. "q:" .. room) == 0 then
    redis.call("DEL", B .. "m:" .. room, B .. "mem:" .. room, B .. "sy:" .. room, B .. "h:" .. room,
      B .. "a:" .. room, B .. "q:" .. room, B .. "p:" .. room)
    redis.call("ZREM", B .. "backlog", room)
    redis.call("ZREM", B .. "deadlines", room)
  end
end

local function remove_member(room, client, now)
  if redis.call("HDEL", B .. "mem:" .. room, client) == 0 then return false end
  redis.call("SREM", B .. "sy:" .. room, client)
  redis.call("SREM", B .. "h:" .. room, client)
  redis.call("SREM", B .. "cr:" .. client, room)
  release(room, now, nil)
  gc(room)
  return true
end

local function eject(room, client, why, now)
  publish(room, cjson.encode({ k = "e", c = client, why = why }))
  remove_member(room, client, now)
end
`
