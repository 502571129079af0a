/**
 * Rooms: listen to a room's channel, join (S3, S5, S8), leave (S6, S18), resync (S12) and
 * roomState (S14). Each is one script call on the room's shard, routed by `Keys.meta`.
 */
import type { Backend } from "@lockstep/core"
import * as Effect from "effect/Effect"
import * as Keys from "../keys.js"
import { asNumber, asStrings, type BackendContext, isString, malformed } from "./context.js"

export const make = (
  context: BackendContext
): Pick<Backend.BackendClient, "listen" | "join" | "leave" | "resync" | "roomState"> => {
  const { clientId, connection, pub, timeout } = context
  return {
    listen: (room, deliver) => connection.listen(Keys.channel(context.baseOf(room), room), deliver, timeout),
    join: (room, options) => {
      const base = context.baseOf(room)
      const args = Keys.join.args(
        base,
        pub,
        room,
        clientId,
        options.mode === "sync" ? "s" : "a",
        options.ackTimeoutMs === null ? "" : options.ackTimeoutMs,
        options.clientTimeoutMs
      )
      return Effect.map(connection.script("join", Keys.meta(base, room), args, timeout), asNumber)
    },
    leave: (room) => {
      const base = context.baseOf(room)
      return Effect.asVoid(
        connection.script("leave", Keys.meta(base, room), Keys.leave.args(base, pub, room, clientId), timeout)
      )
    },
    resync: (room) => {
      const base = context.baseOf(room)
      return Effect.map(
        connection.script("resync", Keys.meta(base, room), Keys.resync.args(base, pub, room, clientId), timeout),
        (reply) => {
          if (reply === null) return null
          const [id, envelope] = asStrings(reply)
          return id !== undefined && envelope !== undefined ? { id, envelope } : null
        }
      )
    },
    roomState: (room) => {
      const base = context.baseOf(room)
      return Effect.flatMap(
        connection.script("roomState", Keys.meta(base, room), Keys.roomState.args(base, pub, room), timeout),
        (reply) => {
          if (!Array.isArray(reply) || reply.length < 6) return Effect.fail(malformed("roomState", reply))
          const [backlog, members, acked, fid, fat, now] = reply as Array<unknown>
          const releasedAt = asNumber(fat)
          return Effect.succeed({
            backlog: asNumber(backlog),
            members: asStrings(members),
            acked: asStrings(acked),
            inFlight: isString(fid) && fid !== ""
              ? { id: fid, releasedAt, age: asNumber(now) - releasedAt }
              : null
          })
        }
      )
    }
  }
}
