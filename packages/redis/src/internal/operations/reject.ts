/**
 * reject: a member settles the in-flight message as a dead letter instead of an ack.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     base, pub, room, client, epoch, id, attempt (the attempt it was for this member), reason,
 *          limit and retentionMs (the dead-letter policy).
 * Returns  1 if the client held `id` unacked (a letter was written and it counts as its ack), else
 *          0 (nothing changed); the `superseded` error reply when fenced.
 * Enforces S28 (a letter `{ envelope, member, attempts, at, reason }`, then exactly what an ack
 *          does: holder → acked, S14; the last one releases the next message, S3, unless the room
 *          is paused, S30), S29 (the writer's policy), S4 (a stale, repeated or foreign reject does
 *          nothing), S21 (a fenced client writes nothing).
 */
import { F, K, meta } from "../keys.js"
import * as Operation from "../operation.js"
import { deadLetter, fenced, nowMs, release, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const reject = Operation.shard({
  name: "reject",
  args: {
    room: Operation.string,
    client: Operation.string,
    epoch: Operation.epoch,
    id: Operation.string,
    attempt: Operation.number,
    reason: Operation.string,
    limit: Operation.number,
    retentionMs: Operation.number
  },
  key: ({ base, room }) => meta(base, room),
  includes: [nowMs, fenced, release, deadLetter],
  lua: `
if fenced(client, epoch) then return ${superseded} end
local m = ${K.meta("room")}
local cur = redis.call("HMGET", m, ${F.inFlightId}, ${F.inFlightEnvelope}, ${F.leastAckTimeout}, ${F.paused})
if cur[1] ~= id or not cur[2] then return 0 end
if redis.call("SMOVE", ${K.holders("room")}, ${K.acked("room")}, client) == 0 then return 0 end
local now = now_ms()
dead_letter(room, id, cur[2], client, tonumber(attempt), reason, now, limit, retentionMs)
release(room, now, cur[3], cur[4] ~= false)
return 1
`,
  decode: Reply.flag
})
