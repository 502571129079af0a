/**
 * claim: a durable client claims its id on one shard.
 *
 * KEYS[1]  clients (routing).
 * ARGV     base, pub, client, clientTimeoutMs, epoch: "" on shard 0, which allocates the epoch
 *          (HINCRBY: epochs of an id only grow, `claims` entries are never deleted); the epoch
 *          allocated there, on every other shard.
 * Returns  the epoch; the `superseded` error reply when this shard already saw a newer claim of
 *          the id (the claim lost a race: nothing written).
 * Enforces S21 (the newest claim wins: from now on the scripts of an older holder are fenced on
 *          this shard), S23 (every membership of the id on this shard gets `clientTimeoutMs` to be
 *          resumed by a join, in `detached`, else housekeeping ejects it), S10 (the client is
 *          registered here, as a keepalive does), S27 (each membership's record of the claim in
 *          `detachedAt`, the shard's frame number, as `detach` writes it: a message released
 *          after it never reached the member's old process).
 */
import * as Result from "effect/Result"
import { clients, detachedMembership, K } from "../keys.js"
import * as Operation from "../operation.js"
import { nowMs, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const claim = Operation.shard({
  name: "claim",
  args: { client: Operation.string, clientTimeoutMs: Operation.number, epoch: Operation.epoch },
  key: ({ base }) => clients(base),
  includes: [nowMs],
  lua: `
if epoch == "" then
  epoch = redis.call("HINCRBY", ${K.claims}, client, 1)
elseif tonumber(redis.call("HGET", ${K.claims}, client) or 0) > tonumber(epoch) then
  return ${superseded}
else
  redis.call("HSET", ${K.claims}, client, epoch)
end
local deadline = now_ms() + tonumber(clientTimeoutMs)
redis.call("ZADD", ${K.clients}, deadline, client)
local frame = redis.call("GET", ${K.frames}) or 0
for _, room in ipairs(redis.call("SMEMBERS", ${K.clientRooms("client")})) do
  redis.call("ZADD", ${K.detached}, deadline, ${detachedMembership.lua.encode("client", "room")})
  redis.call("HSETNX", ${K.detachedAt("room")}, client, frame)
end
return tonumber(epoch)
`,
  decode: (reply) => {
    const epoch = Reply.number(reply)
    return epoch !== undefined && Number.isSafeInteger(epoch) && epoch > 0
      ? Result.succeed(epoch)
      : Reply.fail("a positive integer")
  }
})
