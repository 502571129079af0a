/**
 * roomState: a snapshot of one room.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     base, pub, room.
 * Returns  { backlog, sync members, acked members, in-flight id or "", release ms or "", now ms,
 *          paused 1 | 0 }.
 * Enforces S14 (read-only), S30 (the paused flag).
 */
import type { Backend } from "@lockstep/core"
import * as Result from "effect/Result"
import { F, K, meta } from "../keys.js"
import * as Operation from "../operation.js"
import { nowMs } from "../prelude.js"
import * as Reply from "../reply.js"

export const roomState = Operation.shard({
  name: "roomState",
  args: { room: Operation.string },
  key: ({ base, room }) => meta(base, room),
  includes: [nowMs],
  lua: `
local m = ${K.meta("room")}
local acked = {}
for _, c in ipairs(redis.call("SMEMBERS", ${K.acked("room")})) do
  if redis.call("HEXISTS", ${K.members("room")}, c) == 1 then acked[#acked + 1] = c end
end
return { redis.call("ZCARD", ${K.queue("room")}), redis.call("SMEMBERS", ${K.sync("room")}), acked,
  redis.call("HGET", m, ${F.inFlightId}) or "", redis.call("HGET", m, ${F.releasedAt}) or "", tostring(now_ms()),
  redis.call("HEXISTS", m, ${F.paused}) }
`,
  decode: (reply): Result.Result<Backend.RawRoomState, string> => {
    const expected = "{ backlog, members, acked, id, release ms, now ms, paused }"
    const [backlog, members, acked, id, releasedAt, now, flag] = Reply.tuple(reply, 7) ?? []
    const count = Reply.number(backlog)
    if (
      count === undefined || !Reply.isStrings(members) || !Reply.isStrings(acked) || typeof id !== "string" ||
      (flag !== 0 && flag !== 1)
    ) {
      return Reply.fail(expected)
    }
    const paused = flag === 1
    if (id === "") return Result.succeed({ backlog: count, members, acked, inFlight: null, paused })
    const released = Reply.number(releasedAt)
    const at = Reply.number(now)
    return released === undefined || at === undefined
      ? Reply.fail(expected)
      : Result.succeed({
        backlog: count,
        members,
        acked,
        inFlight: { id, releasedAt: released, age: at - released },
        paused
      })
  }
})
