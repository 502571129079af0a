/**
 * resync: the in-flight message again, for a member that may have missed it.
 *
 * KEYS[1]  meta(room) (routing).
 * ARGV     (`Keys.resync`) base, pub, room, client.
 * Returns  { id, envelope } of the in-flight message if the client holds it unacked, else nil.
 * Enforces S12 (read-only).
 */
import { define } from "./define.js"

export const resync = define("resync", { prelude: true }, () => `
if redis.call("SISMEMBER", k_holders(room), client) == 0 then return nil end
return redis.call("HMGET", k_meta(room), "fid", "fenv")
`)
