/**
 * Rooms: listen to a room's channel, join (S3, S5, S8; resuming a durable membership, S22, S25,
 * with its attempts, S27, S28), leave (S6, S18), detach (S24), resync (S12, S27) and roomState
 * (S14, S30). Each is one script call on the
 * room's shard, routed by `Keys.meta`.
 */
import type { Backend } from "@lockstep/core"
import * as Effect from "effect/Effect"
import * as Keys from "../keys.js"
import { detach } from "../operations/detach.js"
import { join } from "../operations/join.js"
import { leave } from "../operations/leave.js"
import { resync } from "../operations/resync.js"
import { roomState } from "../operations/roomState.js"
import type { BackendContext } from "./context.js"

export const make = (
  context: BackendContext
): Pick<Backend.BackendClient, "listen" | "join" | "leave" | "detach" | "resync" | "roomState"> => {
  const { clientId, connection, pub, timeout } = context
  return {
    listen: (room, deliver) => connection.listen(Keys.channel(context.baseOf(room), room), deliver, timeout),
    join: (room, options) =>
      context.run(join, {
        base: context.baseOf(room),
        pub,
        room,
        client: clientId,
        mode: options.mode === "sync" ? "s" : "a",
        ackTimeoutMs: options.ackTimeoutMs === null ? "" : options.ackTimeoutMs,
        clientTimeoutMs: options.clientTimeoutMs,
        epoch: context.epoch.current,
        handed: options.handed ?? "",
        maxDeliveries: options.maxDeliveries ?? "",
        limit: options.deadLetters.limit,
        retentionMs: options.deadLetters.retentionMs
      }),
    leave: (room) =>
      Effect.asVoid(
        context.run(leave, { base: context.baseOf(room), pub, room, client: clientId, epoch: context.epoch.current })
      ),
    detach: (room, clientTimeoutMs) =>
      Effect.asVoid(
        context.run(detach, {
          base: context.baseOf(room),
          pub,
          room,
          client: clientId,
          clientTimeoutMs,
          epoch: context.epoch.current
        })
      ),
    resync: (room) => context.run(resync, { base: context.baseOf(room), pub, room, client: clientId }),
    roomState: (room) => context.run(roomState, { base: context.baseOf(room), pub, room })
  }
}
