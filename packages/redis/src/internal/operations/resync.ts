/**
 * resync: the in-flight message again, for a member that may have missed it.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     base, pub, room, client.
 * Returns  { id, envelope } of the in-flight message if the client holds it unacked, else nil.
 * Enforces S12 (read-only).
 */
import * as Result from "effect/Result"
import { F, K, meta } from "../keys.js"
import * as Operation from "../operation.js"
import * as Reply from "../reply.js"

/** A field of HMGET: a string, or null for none. */
const isField = (u: unknown): u is string | null => u === null || typeof u === "string"

export const resync = Operation.shard({
  name: "resync",
  args: { room: Operation.string, client: Operation.string },
  key: ({ base, room }) => meta(base, room),
  includes: [],
  lua: `
if redis.call("SISMEMBER", ${K.holders("room")}, client) == 0 then return nil end
return redis.call("HMGET", ${K.meta("room")}, ${F.inFlightId}, ${F.inFlightEnvelope})
`,
  decode: (reply): Result.Result<{ readonly id: string; readonly envelope: string } | null, string> => {
    if (reply === null) return Result.succeed(null)
    // a field is nil when the message was acked or released meanwhile
    const [id, envelope] = Reply.tuple(reply, 2) ?? []
    if (!isField(id) || !isField(envelope)) return Reply.fail("nil or { id, envelope }")
    return Result.succeed(id !== null && envelope !== null ? { id, envelope } : null)
  }
})
