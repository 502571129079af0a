/**
 * unregister — KEYS[1] = B clients. ARGV: B, PUB, client.
 * Leaves every room of the client on this shard and forgets it (S20). Returns the rooms left.
 */
import { prelude } from "./prelude.js"

export const unregister = {
  name: "lockstep_unregister",
  lua: prelude + `

local client = ARGV[3]
local now = now_ms()
local rooms = redis.call("SMEMBERS", B .. "cr:" .. client)
for _, room in ipairs(rooms) do remove_member(room, client, now) end
redis.call("DEL", B .. "cr:" .. client)
redis.call("ZREM", B .. "clients", client)
return #rooms
`
} as const
