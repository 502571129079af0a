/**
 * The checks of attempts, rejects, dead letters and operators (S27–S30), beside I1–I8
 * (`invariants.ts`, `durableChecks.ts`):
 *
 * - I9 (S27) every delivery carries the model's attempt: 1 for a publication (and for async and
 *   out-of-band deliveries), the member's last hand-over's for a resync (S12), one more for a
 *   resumed join (S22); checked with I2, in the order the model expects the deliveries.
 * - I10 (S28–S30) a message dead-lettered for a member (rejected, skipped, past `maxDeliveries`)
 *   is never delivered to that member (its client id, any process of it) again.
 * - I11 (S30) a room paused all through a step releases nothing: no other message is in flight
 *   after it than before, and no subscription receives a queued message of the room but the one
 *   in flight when the step began (a resync or resume may hand that one out again);
 *   `RoomState.paused` is the model's.
 * - I12 (S29) the dead letters the engine lists are the model's: the same messages (id, payload,
 *   priority), members, reasons and attempts, newest first (the letters one step wrote, a skip's,
 *   in any order among themselves), written at the step's time (engines on the clients' clock).
 * - I13 (S30) every operator's answer is the model's (`operations.ts`: eject, pause, resume, skip,
 *   redrive, drop; a purge answers the model's backlog). Rejects count as acks: I1–I4 and the
 *   liveness drain hold with them unchanged.
 */
import type { DeadLetter, Delivery } from "@lockstep/core"
import type { ObservedRoom } from "./invariants.js"
import * as RoomModel from "./roomModel.js"
import { fail, type Room, type Run, type Sub } from "./run.js"

/** I10, I11: a queued delivery to `sub` (checked after the step that brought it). */
export const checkQueuedDelivery = (run: Run, sub: Sub, d: Delivery.Delivery, where: string): void => {
  const room = run.rooms[sub.room]!
  if (RoomModel.wasLettered(room, sub.client, d.id)) {
    return fail(run, `${where} received ${d.id}, which was dead-lettered for c${sub.client} (I10, S28–S30)`)
  }
  const held = run.pausedAtStart.get(sub.room)
  if (held !== undefined && room.paused && d.id !== held) {
    fail(
      run,
      `${where} received ${d.id} while ${room.name} is paused; in flight when the step began: ${
        held ?? "none"
      } (I11, S30)`
    )
  }
}

/** I11 (S30): the pause flag, and nothing released while paused all through the step. */
const checkPaused = (run: Run, room: Room, o: ObservedRoom, label: string) => {
  if (o.paused !== room.paused) return fail(run, `${label} paused ${o.paused}, model ${room.paused} (I11, S30)`)
  const held = run.pausedAtStart.get(room.index)
  if (held === undefined || !room.paused) return
  if (o.inFlight !== null && o.inFlight.id !== held) {
    fail(run, `${label} ${o.inFlight.id} went in flight while paused; ${held ?? "none"} was before (I11, S30)`)
  }
}

const letterKey = (
  run: Run,
  l: { readonly id: string; readonly member: string; readonly reason: string; readonly attempts: number }
) => `${l.id} for c${run.byId.get(l.member)?.index ?? l.member} (${l.reason}, ${l.attempts} attempts)`

/** I12 (S29): the engine's letters are the model's, newest first. */
const checkLetters = (run: Run, room: Room, observed: ReadonlyArray<DeadLetter.DeadLetter>, label: string) => {
  const model = room.letters
  const modelKeys = model.map((l) =>
    letterKey(run, { id: l.msg.id, member: run.clients[l.member]!.id, reason: l.reason, attempts: l.attempts })
  )
  const seenKeys = observed.map((l) => letterKey(run, { ...l, id: l.message.id }))
  const mismatch = () =>
    fail(run, `${label} dead letters [${seenKeys.join("; ")}], model [${modelKeys.join("; ")}] (I12, S29)`)
  if (observed.length !== model.length) return mismatch()
  // newest first; the letters of one step in any order among themselves
  for (let i = 0; i < model.length;) {
    let j = i
    while (j < model.length && model[j]!.step === model[i]!.step) j++
    if (modelKeys.slice(i, j).sort().join("|") !== seenKeys.slice(i, j).sort().join("|")) return mismatch()
    i = j
  }
  for (const l of observed) {
    const msg = run.messages.get(l.message.id)!
    const data = l.message.data as { readonly n?: unknown } | null
    if (l.message.priority !== msg.priority || data === null || typeof data !== "object" || data.n !== msg.n) {
      return fail(
        run,
        `${label} the letter of ${msg.id} holds ${JSON.stringify(l.message)}, not the message sent (I12)`
      )
    }
  }
  if (!run.engine.sameClock) return
  for (let i = 0; i < model.length; i++) {
    const at = observed[i]!.at.getTime()
    const m = model.find((x) =>
      x.msg.id === observed[i]!.message.id && run.clients[x.member]!.id === observed[i]!.member
    )!
    if (Math.abs(at - m.at) > run.timing.slackMs) {
      return fail(run, `${label} the letter of ${m.msg.id} for c${m.member} was written at ${at}, model ${m.at} (I12)`)
    }
  }
}

/** I11, I12: a room as observed after the step. */
export const checkRoomOperations = (run: Run, room: Room, o: ObservedRoom, label: string): void => {
  checkPaused(run, room, o, label)
  if (o.letters !== null) checkLetters(run, room, o.letters, label)
}

/** The rooms paused now and what each has in flight: the state the next step begins with (I11). */
export const notePaused = (run: Run): void => {
  run.pausedAtStart.clear()
  for (const room of run.rooms) if (room.paused) run.pausedAtStart.set(room.index, room.inFlight?.msg.id ?? null)
}
