/**
 * leave: remove a client from a room.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     (`Keys.leave`) base, pub, room, client, epoch.
 * Returns  1 if it was a member, else 0; the `superseded` error reply when fenced.
 * Enforces S6 (if it was the last holder, the next message is released, here), S18 (an empty
 *          room leaves no keys), S21 (a fenced client leaves nothing: its memberships are its
 *          successor's).
 */
import { define } from "./define.js"
import { superseded } from "./prelude.js"

export const leave = define("leave", { prelude: true }, () => `
if fenced(client, epoch) then return ${superseded} end
if remove_member(room, client, now_ms()) then return 1 end
return 0
`)
