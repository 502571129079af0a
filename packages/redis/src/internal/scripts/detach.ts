/**
 * detach: keep a durable client's membership of a room for a successor.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     (`Keys.detach`) base, pub, room, client, clientTimeoutMs, epoch.
 * Returns  1 if it was a member, else 0; the `superseded` error reply when fenced.
 * Enforces S24 (nothing is left or released: the membership waits `clientTimeoutMs` in `detached`
 *          for a join to resume it, then housekeeping ejects it, S23; the client's expiry on
 *          the shard is pushed to at least the same deadline, so that its expiry, S10, does not
 *          end the membership earlier),
 *          S21 (a fenced client detaches nothing).
 */
import { define } from "./define.js"
import { superseded } from "./prelude.js"

export const detach = define("detach", { prelude: true }, () => `
if fenced(client, epoch) then return ${superseded} end
if redis.call("HEXISTS", k_members(room), client) == 0 then return 0 end
local deadline = now_ms() + tonumber(clientTimeoutMs)
redis.call("ZADD", k_detached(), deadline, client .. "|" .. room)
redis.call("ZADD", k_clients(), "GT", deadline, client)
return 1
`)
