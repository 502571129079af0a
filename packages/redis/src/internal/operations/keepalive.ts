/**
 * keepalive: a client's heartbeat on one shard.
 *
 * KEYS[1]  clients (routing).
 * ARGV     base, pub, client, clientTimeoutMs, epoch.
 * Returns  1 if the client was known, 0 if it had been forgotten (ejected) and is registered anew;
 *          the `superseded` error reply when fenced (nothing refreshed).
 * Enforces S10 (the expiry is set on the server clock), S21 (a fenced client learns it here, within
 *          one keepalive interval).
 */
import { clients, K } from "../keys.js"
import * as Operation from "../operation.js"
import { fenced, nowMs, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const keepalive = Operation.shard({
  name: "keepalive",
  args: { client: Operation.string, clientTimeoutMs: Operation.number, epoch: Operation.epoch },
  key: ({ base }) => clients(base),
  includes: [nowMs, fenced],
  lua: `
if fenced(client, epoch) then return ${superseded} end
local known = redis.call("ZSCORE", ${K.clients}, client)
redis.call("ZADD", ${K.clients}, now_ms() + tonumber(clientTimeoutMs), client)
if known then return 1 end
return 0
`,
  decode: Reply.flag
})
