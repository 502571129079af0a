/**
 * leave: remove a client from a room.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     (`Keys.leave`) base, pub, room, client.
 * Returns  1 if it was a member, else 0.
 * Enforces S6 (if it was the last holder, the next message is released, here), S18 (an empty
 *          room leaves no keys).
 */
import { define } from "./define.js"

export const leave = define("leave", { prelude: true }, () => `
if remove_member(room, client, now_ms()) then return 1 end
return 0
`)
