/**
 * unregister: a client leaves every room it has on one shard and is forgotten there.
 *
 * KEYS[1]  clients (routing).
 * ARGV     (`Keys.unregister`) base, pub, client, epoch.
 * Returns  how many rooms it left; the `superseded` error reply when fenced (nothing left).
 * Enforces S20 (closing a client leaves all its rooms at once; each may release its next
 *          message, S6), S18 (empty rooms leave no keys), S21 (a fenced client's memberships are
 *          its successor's: they stay).
 */
import { define } from "./define.js"
import { superseded } from "./prelude.js"

export const unregister = define("unregister", { prelude: true }, () => `
if fenced(client, epoch) then return ${superseded} end
local now = now_ms()
local rooms = redis.call("SMEMBERS", k_clientRooms(client))
for _, room in ipairs(rooms) do remove_member(room, client, now) end
redis.call("DEL", k_clientRooms(client))
redis.call("ZREM", k_clients(), client)
return #rooms
`)
