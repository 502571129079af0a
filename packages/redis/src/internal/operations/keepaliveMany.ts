/**
 * keepaliveMany: a client's heartbeat on every shard one cluster node serves, in one call.
 *
 * KEYS[1]  firstClientsKey: the `clients` key of one shard (routing; the caller puts the registry,
 *          shard 0, there when the node serves it).
 * ARGV     client, clientTimeoutMs, epoch, claimsKey (the `claims` key of the KEYS[1] shard); then
 *          clientsKeys, the `clients` keys of the other shards served by the SAME node. Cluster
 *          routing checks the declared key only; the script is flagged `allow-cross-slot-keys`
 *          (Redis ≥ 7.0) so it may touch the node's other slots. No shard base (it takes keys).
 * Returns  1 if the client was known on the KEYS[1] shard, else 0; the `superseded` error reply
 *          when a durable client (epoch not "") lost its claim on the KEYS[1] shard (nothing
 *          refreshed).
 * Enforces S10, S17 (a keepalive costs one round trip per node, not per shard), S21 (the claim of
 *          the first shard decides, as `fenced` does on a shard: `claimLost`).
 */
import * as Operation from "../operation.js"
import { claimLost, nowMs, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const keepaliveMany = Operation.onKeys({
  name: "keepaliveMany",
  args: {
    firstClientsKey: Operation.key,
    client: Operation.string,
    clientTimeoutMs: Operation.number,
    epoch: Operation.epoch,
    claimsKey: Operation.string,
    clientsKeys: Operation.rest("clientsKey")
  },
  key: ({ firstClientsKey }) => firstClientsKey,
  includes: [nowMs],
  crossSlot: true,
  lua: ({ forEachRest }) => `
if epoch ~= "" and ${claimLost("claimsKey")} then return ${superseded} end
local expiry = now_ms() + tonumber(clientTimeoutMs)
local known = 1
if not redis.call("ZSCORE", firstClientsKey, client) then known = 0 end
redis.call("ZADD", firstClientsKey, expiry, client)
${forEachRest}
  redis.call("ZADD", clientsKey, expiry, client)
end
return known
`,
  decode: Reply.flag
})
