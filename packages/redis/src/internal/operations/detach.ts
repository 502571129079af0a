/**
 * detach: keep a durable client's membership of a room for a successor.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     base, pub, room, client, clientTimeoutMs, epoch.
 * Returns  1 if it was a member, else 0; the `superseded` error reply when fenced.
 * Enforces S24 (nothing is left or released: the membership waits `clientTimeoutMs` in `detached`
 *          for a join to resume it, then housekeeping ejects it, S23; the client's expiry on
 *          the shard is pushed to at least the same deadline, so that its expiry, S10, does not
 *          end the membership earlier),
 *          S21 (a fenced client detaches nothing), S27 (the shard's frame number now goes to
 *          `detachedAt`, unless an earlier detach or claim is not resumed yet: a message released
 *          after it never reached the member, and its successor counts attempt 1).
 */
import { detachedMembership, K, meta } from "../keys.js"
import * as Operation from "../operation.js"
import { fenced, nowMs, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const detach = Operation.shard({
  name: "detach",
  args: {
    room: Operation.string,
    client: Operation.string,
    clientTimeoutMs: Operation.number,
    epoch: Operation.epoch
  },
  key: ({ base, room }) => meta(base, room),
  includes: [nowMs, fenced],
  lua: `
if fenced(client, epoch) then return ${superseded} end
if redis.call("HEXISTS", ${K.members("room")}, client) == 0 then return 0 end
local deadline = now_ms() + tonumber(clientTimeoutMs)
redis.call("ZADD", ${K.detached}, deadline, ${detachedMembership.lua.encode("client", "room")})
redis.call("ZADD", ${K.clients}, "GT", deadline, client)
redis.call("HSETNX", ${K.detachedAt("room")}, client, redis.call("GET", ${K.frames}) or 0)
return 1
`,
  decode: Reply.flag
})
