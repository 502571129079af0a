/**
 * keepalive — KEYS[1] = B clients. ARGV: B, PUB, client, client timeout ms.
 * Sets the expiry on the server clock (S10). Returns 1 if the client was known, 0 if it had been
 * forgotten (ejected) and is registered anew.
 */
import { prelude } from "./prelude.js"

export const keepalive = {
  name: "lockstep_keepalive",
  lua: prelude + `

local known = redis.call("ZSCORE", B .. "clients", ARGV[3])
redis.call("ZADD", B .. "clients", now_ms() + tonumber(ARGV[4]), ARGV[3])
if known then return 1 end
return 0
`
} as const
