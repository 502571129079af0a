/**
 * pause: an operator sets or clears a room's paused flag (`RoomAdmin.pause`, `resume`).
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     base, pub, room, paused ("1" to pause, "" to resume), client, epoch (the operator's).
 * Returns  1 if the flag changed, else 0; the `superseded` error reply when fenced.
 * Enforces S30 (while the flag is set no path releases a queued message: each reads it, `release`
 *          and `admit`; the in-flight one completes, sends queue, out-of-band messages flow. The
 *          flag is server state: it outlives every client, even an empty room's gc. Resuming
 *          releases the next message if none is in flight, and drops an empty room's keys, S18),
 *          S21.
 */
import { F, K, meta } from "../keys.js"
import * as Operation from "../operation.js"
import { fenced, gc, release, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const pause = Operation.shard({
  name: "pause",
  args: { room: Operation.string, paused: Operation.of<"1" | "">(), client: Operation.string, epoch: Operation.epoch },
  key: ({ base, room }) => meta(base, room),
  includes: [fenced, release, gc],
  lua: `
if fenced(client, epoch) then return ${superseded} end
local m = ${K.meta("room")}
if paused ~= "" then return redis.call("HSETNX", m, ${F.paused}, "1") end
if redis.call("HDEL", m, ${F.paused}) == 0 then return 0 end
release(room, nil, nil, false)
gc(room)
return 1
`,
  decode: Reply.flag
})
