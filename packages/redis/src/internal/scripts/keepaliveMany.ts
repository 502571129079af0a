/**
 * keepaliveMany — KEYS[1] = the `B clients` key of one shard (routing). ARGV: client, client timeout ms,
 * then the `B clients` keys of the other shards served by the SAME cluster node. Cluster routing
 * checks the declared key only; the script is flagged `allow-cross-slot-keys` (Redis ≥ 7.0) so it
 * may touch the other slots of the node. A
 * client's keepalive costs one round trip per node, not per shard (S10, S17). Returns 1 if the
 * client was known on the KEYS[1] shard (the caller puts the registry, shard 0, there), else 0.
 */
export const keepaliveMany = {
  name: "lockstep_keepaliveMany",
  lua: `#!lua flags=allow-cross-slot-keys
local client, ttl = ARGV[1], tonumber(ARGV[2])
local t = redis.call("TIME")
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ttl
local known = 1
if not redis.call("ZSCORE", KEYS[1], client) then known = 0 end
redis.call("ZADD", KEYS[1], expiry, client)
for i = 3, #ARGV do redis.call("ZADD", ARGV[i], expiry, client) end
return known
`
} as const
