/**
 * skip: an operator settles the in-flight message for every member still holding it
 * (`RoomAdmin.skip`).
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     base, pub, room, client, epoch (the operator's), limit and retentionMs (the dead-letter
 *          policy).
 * Returns  { the id skipped }, or {} when nothing was in flight; the `superseded` error reply when
 *          fenced.
 * Enforces S30 (a dead letter "skipped" for every sync member holding it unacked, its attempts
 *          those of that member's records, `handed_before`; then the message is settled for all and
 *          the next one released unless the room is paused), S29, S21.
 */
import * as Result from "effect/Result"
import { F, K, meta } from "../keys.js"
import * as Operation from "../operation.js"
import { deadLetter, fenced, handedBefore, nowMs, release, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const skip = Operation.shard({
  name: "skip",
  args: {
    room: Operation.string,
    client: Operation.string,
    epoch: Operation.epoch,
    limit: Operation.number,
    retentionMs: Operation.number
  },
  key: ({ base, room }) => meta(base, room),
  includes: [nowMs, fenced, release, handedBefore, deadLetter],
  lua: `
if fenced(client, epoch) then return ${superseded} end
local cur = redis.call("HMGET", ${K.meta("room")}, ${F.inFlightId}, ${F.inFlightEnvelope}, ${F.releasedFrame},
  ${F.leastAckTimeout})
local id, envelope = cur[1], cur[2]
if not (id and envelope) then return {} end
local now = now_ms()
local holders = ${K.holders("room")}
for _, member in ipairs(redis.call("SMEMBERS", holders)) do
  dead_letter(room, id, envelope, member, handed_before(room, member, id, cur[3]), "skipped", now, limit, retentionMs)
end
redis.call("DEL", holders)
release(room, now, cur[4], nil)
return { id }
`,
  decode: (reply): Result.Result<string | null, string> => {
    if (!Array.isArray(reply) || reply.length > 1) return Reply.fail("{} or { id }")
    const [id]: ReadonlyArray<unknown> = reply
    return id === undefined
      ? Result.succeed(null)
      : typeof id === "string"
      ? Result.succeed(id)
      : Reply.fail("{} or { id }")
  }
})
