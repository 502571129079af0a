/**
 * Rooms: listen to a room's channel, join (S3, S5, S8; resuming a durable membership, S22, S25),
 * leave (S6, S18), detach (S24), resync (S12) and roomState (S14). Each is one script call on the
 * room's shard, routed by `Keys.meta`.
 */
import type { Backend } from "@lockstep/core"
import * as Effect from "effect/Effect"
import * as Keys from "../keys.js"
import { asNumber, asStrings, type BackendContext, isString, malformed } from "./context.js"

/** The reply of join: { frame } or, for a resumed membership holding the in-flight message, { frame, id, envelope }. */
const joined = (reply: unknown): Effect.Effect<Backend.JoinResult, Backend.BackendError> => {
  if (!Array.isArray(reply) || reply.length === 0) return Effect.fail(malformed("join", reply))
  const [frame, id, envelope] = reply as Array<unknown>
  return Effect.succeed({
    event: asNumber(frame),
    inFlight: isString(id) && isString(envelope) ? { id, envelope } : null
  })
}

export const make = (
  context: BackendContext
): Pick<Backend.BackendClient, "listen" | "join" | "leave" | "detach" | "resync" | "roomState"> => {
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
        options.clientTimeoutMs,
        context.epoch
      )
      return Effect.flatMap(context.script("join", Keys.meta(base, room), args), joined)
    },
    leave: (room) => {
      const base = context.baseOf(room)
      return Effect.asVoid(
        context.script("leave", Keys.meta(base, room), Keys.leave.args(base, pub, room, clientId, context.epoch))
      )
    },
    detach: (room, clientTimeoutMs) => {
      const base = context.baseOf(room)
      return Effect.asVoid(
        context.script(
          "detach",
          Keys.meta(base, room),
          Keys.detach.args(base, pub, room, clientId, clientTimeoutMs, context.epoch)
        )
      )
    },
    resync: (room) => {
      const base = context.baseOf(room)
      return Effect.map(
        context.script("resync", Keys.meta(base, room), Keys.resync.args(base, pub, room, clientId)),
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
        context.script("roomState", Keys.meta(base, room), Keys.roomState.args(base, pub, room)),
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
