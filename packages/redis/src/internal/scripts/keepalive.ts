/**
 * keepalive: a client's heartbeat on one shard.
 *
 * KEYS[1]  clients (routing).
 * ARGV     (`Keys.keepalive`) base, pub, client, clientTimeoutMs, epoch.
 * Returns  1 if the client was known, 0 if it had been forgotten (ejected) and is registered anew;
 *          the `superseded` error reply when fenced (nothing refreshed).
 * Enforces S10 (the expiry is set on the server clock), S21 (a fenced client learns it here, within
 *          one keepalive interval).
 */
import { define } from "./define.js"
import { superseded } from "./prelude.js"

export const keepalive = define("keepalive", { prelude: true }, () => `
if fenced(client, epoch) then return ${superseded} end
local known = redis.call("ZSCORE", k_clients(), client)
redis.call("ZADD", k_clients(), now_ms() + tonumber(clientTimeoutMs), client)
if known then return 1 end
return 0
`)
