/**
 * leave: remove a client from a room.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     base, pub, room, client, epoch.
 * Returns  1 if it was a member, else 0; the `superseded` error reply when fenced.
 * Enforces S6 (if it was the last holder, the next message is released, here), S18 (an empty
 *          room leaves no keys), S21 (a fenced client leaves nothing: its memberships are its
 *          successor's).
 */
import { meta } from "../keys.js"
import * as Operation from "../operation.js"
import { fenced, nowMs, removeMember, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

export const leave = Operation.shard({
  name: "leave",
  args: { room: Operation.string, client: Operation.string, epoch: Operation.epoch },
  key: ({ base, room }) => meta(base, room),
  includes: [nowMs, fenced, removeMember],
  lua: `
if fenced(client, epoch) then return ${superseded} end
if remove_member(room, client, now_ms()) then return 1 end
return 0
`,
  decode: Reply.flag
})
