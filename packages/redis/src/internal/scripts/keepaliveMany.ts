/**
 * keepaliveMany: a client's heartbeat on every shard one cluster node serves, in one call.
 *
 * KEYS[1]  the `clients` key of one shard (routing; the caller puts the registry, shard 0, there
 *          when the node serves it).
 * ARGV     (`Keys.keepaliveMany`) client, clientTimeoutMs, epoch, claimsKey (the `claims` key of
 *          the KEYS[1] shard); then the `clients` keys of the other shards served by the SAME
 *          node. Cluster routing checks the declared key only; the script is flagged
 *          `allow-cross-slot-keys` (Redis ≥ 7.0) so it may touch the node's other slots. No
 *          prelude (it takes keys, not a shard base).
 * Returns  1 if the client was known on the KEYS[1] shard, else 0; the `superseded` error reply
 *          when a durable client (epoch not "") lost its claim on the KEYS[1] shard (nothing
 *          refreshed).
 * Enforces S10, S17 (a keepalive costs one round trip per node, not per shard), S21 (the claim of
 *          the first shard decides, like `fenced` in the prelude).
 */
import { define } from "./define.js"
import { superseded } from "./prelude.js"

export const keepaliveMany = define(
  "keepaliveMany",
  { prelude: false, crossSlot: true, keyLocal: "firstClientsKey" },
  ({ forEachRest }) => `
if epoch ~= "" and redis.call("HGET", claimsKey, client) ~= epoch then return ${superseded} end
local t = redis.call("TIME")
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(clientTimeoutMs)
local known = 1
if not redis.call("ZSCORE", firstClientsKey, client) then known = 0 end
redis.call("ZADD", firstClientsKey, expiry, client)
${forEachRest}
  redis.call("ZADD", clientsKey, expiry, client)
end
return known
`
)
