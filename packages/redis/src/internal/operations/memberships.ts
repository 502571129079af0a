/**
 * memberships: the rooms of a client id on one shard, with their mode.
 *
 * KEYS[1]  clients (routing).
 * ARGV     base, pub, client.
 * Returns  { room, "s" | "a", room, "s" | "a", … } (flat): "s" for a sync member.
 * Enforces S23 (read-only).
 */
import type { Backend } from "@lockstep/core"
import * as Result from "effect/Result"
import { clients, K } from "../keys.js"
import * as Operation from "../operation.js"
import * as Reply from "../reply.js"

export const memberships = Operation.shard({
  name: "memberships",
  args: { client: Operation.string },
  key: ({ base }) => clients(base),
  includes: [],
  lua: `
local out = {}
for _, room in ipairs(redis.call("SMEMBERS", ${K.clientRooms("client")})) do
  out[#out + 1] = room
  if redis.call("SISMEMBER", ${K.sync("room")}, client) == 1 then out[#out + 1] = "s" else out[#out + 1] = "a" end
end
return out
`,
  decode: (reply): Result.Result<ReadonlyArray<Backend.Membership>, string> => {
    if (!Reply.isStrings(reply) || reply.length % 2 !== 0) return Reply.fail("{ room, mode, … }")
    const out: Array<Backend.Membership> = []
    for (let i = 0; i < reply.length; i += 2) {
      out.push({ room: reply[i]!, mode: reply[i + 1] === "s" ? "sync" : "async" })
    }
    return Result.succeed(out)
  }
})
