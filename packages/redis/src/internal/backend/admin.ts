/**
 * Operator actions (S29, S30): eject, pause and resume, skip, purge, the dead letters of a room,
 * redrive and dropDeadLetters. Each is one script call on the room's shard (routed by
 * `Keys.meta`, or `Keys.letters` for the dead letters: the same hash tag), made for this client:
 * the writes carry its claim's epoch, so a fenced operator changes nothing (S21).
 */
import type { Backend } from "@lockstep/core"
import { deadLetters } from "../operations/deadLetters.js"
import { dropDeadLetters } from "../operations/dropDeadLetters.js"
import { eject } from "../operations/eject.js"
import { pause } from "../operations/pause.js"
import { purge } from "../operations/purge.js"
import { redrive } from "../operations/redrive.js"
import { skip } from "../operations/skip.js"
import type { BackendContext } from "./context.js"

export const make = (
  context: BackendContext
): Pick<
  Backend.BackendClient,
  "eject" | "pause" | "skip" | "purge" | "deadLetters" | "redrive" | "dropDeadLetters"
> => {
  const { clientId, pub } = context
  /** the arguments every action on `room` starts with */
  const on = (room: string) => ({
    base: context.baseOf(room),
    pub,
    room,
    client: clientId,
    epoch: context.epoch.current
  })
  return {
    eject: (room, member) => context.run(eject, { ...on(room), member }),
    pause: (room, paused) => context.run(pause, { ...on(room), paused: paused ? "1" : "" }),
    skip: (room, { limit, retentionMs }) => context.run(skip, { ...on(room), limit, retentionMs }),
    purge: (room) => context.run(purge, on(room)),
    deadLetters: (room, before, limit) =>
      context.run(deadLetters, { base: context.baseOf(room), pub, room, before: before ?? "", limit }),
    redrive: (room, id, newId, { producer, sentAt, sequence }) =>
      context.run(redrive, { ...on(room), id, newId, producer: JSON.stringify(producer), sequence, sentAt }),
    dropDeadLetters: (room) => context.run(dropDeadLetters, on(room))
  }
}
