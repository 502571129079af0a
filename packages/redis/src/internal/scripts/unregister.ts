/**
 * unregister: a client leaves every room it has on one shard and is forgotten there.
 *
 * KEYS[1]  clients (routing).
 * ARGV     (`Keys.unregister`) base, pub, client.
 * Returns  how many rooms it left.
 * Enforces S20 (closing a client leaves all its rooms at once; each may release its next
 *          message, S6), S18 (empty rooms leave no keys).
 */
import { define } from "./define.js"

export const unregister = define("unregister", { prelude: true }, () => `
local now = now_ms()
local rooms = redis.call("SMEMBERS", k_clientRooms(client))
for _, room in ipairs(rooms) do remove_member(room, client, now) end
redis.call("DEL", k_clientRooms(client))
redis.call("ZREM", k_clients(), client)
return #rooms
`)
