/**
 * housekeep: eject what expired on one shard, bounded work.
 *
 * KEYS[1]  clients (routing).
 * ARGV     (`Keys.housekeep`) base, pub, lockMs, limit; then the clients the registry shard
 *          (shard 0) found expired, ejected here too, lock or not.
 * Returns  { ejections, ids of the clients found expired here }, or -1 when another run holds the lock.
 * Enforces S10 (clients past their expiry leave all their rooms, which move on), S11 (holders past
 *          their ack deadline leave that room), S23 / S24 (durable memberships that no join resumed
 *          by their deadline in `detached` are ejected as an expiry ejects them). The lock key
 *          makes concurrent runs a no-op; the work is bounded by `limit` (per kind) and
 *          proportional to what expired, never to the number of rooms.
 */
import { define } from "./define.js"

export const housekeep = define("housekeep", { prelude: true }, ({ forEachRest, restCount }) => `
local forced = ${restCount} > 0
if (not forced) and (not redis.call("SET", k_lock(), "1", "NX", "PX", lockMs)) then return -1 end
local now = now_ms()
local n = 0
local expired = redis.call("ZRANGEBYSCORE", k_clients(), "-inf", now, "LIMIT", 0, tonumber(limit))
${forEachRest}
  expired[#expired + 1] = expiredClient
end
for _, client in ipairs(expired) do
  for _, room in ipairs(redis.call("SMEMBERS", k_clientRooms(client))) do
    eject(room, client, "keepalive-timeout", now)
    n = n + 1
  end
  redis.call("DEL", k_clientRooms(client))
  redis.call("ZREM", k_clients(), client)
end
local expired_ids = {}
for i = 1, #expired do expired_ids[i] = expired[i] end
local detached = k_detached()
for _, entry in ipairs(redis.call("ZRANGEBYSCORE", detached, "-inf", now, "LIMIT", 0, tonumber(limit))) do
  redis.call("ZREM", detached, entry)
  local bar = string.find(entry, "|", 1, true)
  if bar then
    local client, room = string.sub(entry, 1, bar - 1), string.sub(entry, bar + 1)
    if redis.call("HEXISTS", k_members(room), client) == 1 then
      eject(room, client, "keepalive-timeout", now)
      n = n + 1
    end
  end
end
for _, room in ipairs(redis.call("ZRANGEBYSCORE", k_deadlines(), "-inf", now, "LIMIT", 0, tonumber(limit))) do
  local m = k_meta(room)
  local fid = redis.call("HGET", m, "fid")
  local fat = tonumber(redis.call("HGET", m, "fat"))
  local next_due = nil
  if fid and fat then
    for _, client in ipairs(redis.call("SMEMBERS", k_holders(room))) do
      local t = redis.call("HGET", k_members(room), client)
      if t and t ~= "" then
        local due = fat + tonumber(t)
        if due > now then
          if (not next_due) or due < next_due then next_due = due end
        elseif redis.call("HGET", m, "fid") == fid then
          eject(room, client, "ack-timeout", now)
          n = n + 1
        end
      end
    end
  end
  if redis.call("HGET", m, "fid") == fid then
    if next_due then redis.call("ZADD", k_deadlines(), next_due, room)
    else redis.call("ZREM", k_deadlines(), room) end
  end
end
return { n, expired_ids }
`)
