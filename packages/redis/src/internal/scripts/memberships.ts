/**
 * memberships: the rooms of a client id on one shard, with their mode.
 *
 * KEYS[1]  clients (routing).
 * ARGV     (`Keys.memberships`) base, pub, client.
 * Returns  { room, "s" | "a", room, "s" | "a", … } (flat): "s" for a sync member.
 * Enforces S23 (read-only).
 */
import { define } from "./define.js"

export const memberships = define("memberships", { prelude: true }, () => `
local out = {}
for _, room in ipairs(redis.call("SMEMBERS", k_clientRooms(client))) do
  out[#out + 1] = room
  if redis.call("SISMEMBER", k_sync(room), client) == 1 then out[#out + 1] = "s" else out[#out + 1] = "a" end
end
return out
`)
