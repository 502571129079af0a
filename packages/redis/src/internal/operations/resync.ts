/**
 * resync: the in-flight message again, for a member that may have missed it.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     base, pub, room, client.
 * Returns  { id, envelope, attempt } of the in-flight message if the client holds it unacked, else
 *          nil.
 * Enforces S12 (read-only), S27 (the attempt of the last hand-over to this member, at least 1: a
 *          resync counts none).
 */
import type { Backend } from "@lockstep/core"
import * as Result from "effect/Result"
import { F, K, meta } from "../keys.js"
import * as Operation from "../operation.js"
import { handedBefore } from "../prelude.js"
import * as Reply from "../reply.js"

export const resync = Operation.shard({
  name: "resync",
  args: { room: Operation.string, client: Operation.string },
  key: ({ base, room }) => meta(base, room),
  includes: [handedBefore],
  lua: `
if redis.call("SISMEMBER", ${K.holders("room")}, client) == 0 then return nil end
local held = redis.call("HMGET", ${K.meta("room")}, ${F.inFlightId}, ${F.inFlightEnvelope}, ${F.releasedFrame})
if not (held[1] and held[2]) then return nil end
return { held[1], held[2], math.max(1, (handed_before(room, client, held[1], held[3]))) }
`,
  decode: (reply): Result.Result<Backend.InFlightMessage | null, string> => {
    if (reply === null) return Result.succeed(null)
    const [id, envelope, n] = Reply.tuple(reply, 3) ?? []
    const attempt = Reply.number(n)
    return typeof id === "string" && typeof envelope === "string" && attempt !== undefined
      ? Result.succeed({ id, envelope, attempt })
      : Reply.fail("nil or { id, envelope, attempt }")
  }
})
