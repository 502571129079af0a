/**
 * housekeep — KEYS[1] = B clients. ARGV: B, PUB, lock ms, limit, [client ids expired on the registry shard].
 * Ejects clients past their expiry from all their rooms (S10) and holders past their ack deadline
 * from that room (S11). A lock key makes concurrent runs a no-op; the work is bounded by `limit`
 * and proportional to what expired, never to the number of rooms. Returns { ejections, ids of expired clients },
 * or -1 when locked.
 */
import { prelude } from "./prelude.js"

export const housekeep = {
  name: "lockstep_housekeep",
  lua: prelude + `

-- clients the registry (shard 0) found expired are ejected here too, lock or not (S10)
local forced = #ARGV > 4
if (not forced) and (not redis.call("SET", B .. "hk", "1", "NX", "PX", ARGV[3])) then return -1 end
local now = now_ms()
local limit = tonumber(ARGV[4])
local n = 0
local expired = redis.call("ZRANGEBYSCORE", B .. "clients", "-inf", now, "LIMIT", 0, limit)
for i = 5, #ARGV do expired[#expired + 1] = ARGV[i] end
for _, client in ipairs(expired) do
  for _, room in ipairs(redis.call("SMEMBERS", B .. "cr:" .. client)) do
    eject(room, client, "keepalive-timeout", now)
    n = n + 1
  end
  redis.call("DEL", B .. "cr:" .. client)
  redis.call("ZREM", B .. "clients", client)
end
local expired_ids = {}
for i = 1, #expired do expired_ids[i] = expired[i] end
for _, room in ipairs(redis.call("ZRANGEBYSCORE", B .. "deadlines", "-inf", now, "LIMIT", 0, limit)) do
  local m = B .. "m:" .. room
  local fid = redis.call("HGET", m, "fid")
  local fat = tonumber(redis.call("HGET", m, "fat"))
  local next_due = nil
  if fid and fat then
    for _, client in ipairs(redis.call("SMEMBERS", B .. "h:" .. room)) do
      local t = redis.call("HGET", B .. "mem:" .. room, client)
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
    if next_due then redis.call("ZADD", B .. "deadlines", next_due, room)
    else redis.call("ZREM", B .. "deadlines", room) end
  end
end
return { n, expired_ids }
`
} as const
