/**
 * keepalive: a client's heartbeat on one shard.
 *
 * KEYS[1]  clients (routing).
 * ARGV     (`Keys.keepalive`) base, pub, client, clientTimeoutMs.
 * Returns  1 if the client was known, 0 if it had been forgotten (ejected) and is registered anew.
 * Enforces S10 (the expiry is set on the server clock).
 */
import { define } from "./define.js"

export const keepalive = define("keepalive", { prelude: true }, () => `
local known = redis.call("ZSCORE", k_clients(), client)
redis.call("ZADD", k_clients(), now_ms() + tonumber(clientTimeoutMs), client)
if known then return 1 end
return 0
`)
