/**
 * claim: a durable client claims its id on one shard.
 *
 * KEYS[1]  clients (routing).
 * ARGV     (`Keys.claim`) base, pub, client, clientTimeoutMs, epoch: "" on shard 0, which
 *          allocates the epoch (HINCRBY: epochs of an id only grow, `claims` entries are never
 *          deleted); the epoch allocated there, on every other shard.
 * Returns  the epoch; the `superseded` error reply when this shard already saw a newer claim of
 *          the id (the claim lost a race: nothing written).
 * Enforces S21 (the newest claim wins: from now on the scripts of an older holder are fenced on
 *          this shard), S23 (every membership of the id on this shard gets `clientTimeoutMs` to be
 *          resumed by a join, in `detached`, else housekeeping ejects it), S10 (the client is
 *          registered here, as a keepalive does).
 */
import { define } from "./define.js"
import { superseded } from "./prelude.js"

export const claim = define("claim", { prelude: true }, () => `
if epoch == "" then
  epoch = redis.call("HINCRBY", k_claims(), client, 1)
elseif tonumber(redis.call("HGET", k_claims(), client) or 0) > tonumber(epoch) then
  return ${superseded}
else
  redis.call("HSET", k_claims(), client, epoch)
end
local deadline = now_ms() + tonumber(clientTimeoutMs)
redis.call("ZADD", k_clients(), deadline, client)
for _, room in ipairs(redis.call("SMEMBERS", k_clientRooms(client))) do
  redis.call("ZADD", k_detached(), deadline, client .. "|" .. room)
end
return tonumber(epoch)
`)
