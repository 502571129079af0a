/**
 * The checks of durable members (S21–S25), beside I1–I6 (`invariants.ts`):
 *
 * - I7 (S21) fencing: a fenced process's subscription receives only messages of its room that were
 *   released or published, each once; its stream fails with `ClientEjected` — "superseded", or a
 *   reason the id's membership had meanwhile (an ejection notice names the id, which both processes
 *   share; a cut process fails its own streams, S10) — at the latest one keepalive interval after
 *   the claim, or after its connection came back, or at once after one of its operations was
 *   refused. That its operations change nothing is checked by the rooms (I4) and deliveries (I2):
 *   the model ignores them.
 * - I8 (S23, S24) a membership waiting to be resumed is gone one housekeeping interval after its
 *   deadline, while some client housekeeps all along.
 *
 * The rest of S21–S25 is the model's (`roomModel.ts`: a crashed or detached member keeps holding,
 * a resume gets the in-flight message again with the same id, S25's async resume replays nothing),
 * checked by I2 and I4 like everything else; unique ids across claims are checked at each send (S7).
 */
import type { Delivery } from "@lockstep/core"
import { Cause, Exit, Option } from "effect"
import type * as RoomModel from "./roomModel.js"
import { fail, type Run, type Sub } from "./run.js"

/** I7: a delivery to a fenced subscription: a message of its room, released or published, once. */
export const checkFencedDelivery = (
  run: Run,
  sub: Sub,
  d: Delivery.Delivery,
  msg: RoomModel.Msg,
  where: string
): void => {
  if (sub.seen.has(d.id)) return fail(run, `${where} (fenced) received ${d.id} twice (I7)`)
  sub.seen.add(d.id)
  if (msg.releaseStep === null) fail(run, `${where} (fenced) received ${d.id} before it was released (I7)`)
}

/** I7 (S21): how the stream of every fenced subscription ended, and that it ended in time. */
export const checkFencedStreams = (run: Run, now: number): void => {
  for (const sub of run.subs) {
    const fenced = sub.fenced
    if (fenced === null || sub.exitChecked) continue
    const where = `subscription #${sub.no} (c${sub.client} process #${sub.incarnation} ${sub.mode} on room-${sub.room})`
    if (sub.exit === null) {
      const h = fenced.holder
      if (!sub.scopeClosed && h.learnBy !== null && now >= h.learnBy) {
        fail(
          run,
          `${where} is still open at ${now}: its process was fenced by a newer claim at ${h.since} and should have failed its streams with "superseded" by ${h.learnBy} (I7, S21)`
        )
      }
      continue
    }
    if (Exit.isSuccess(sub.exit)) {
      if (!sub.scopeClosed) fail(run, `${where} ended without being closed or ejected (fenced: I7, S21)`)
      sub.exitChecked = true
      continue
    }
    const error = Cause.findErrorOption(sub.exit.cause)
    if (Option.isNone(error)) return fail(run, `${where} died: ${Cause.pretty(sub.exit.cause)}`)
    if (!fenced.reasons.has(error.value.reason)) {
      fail(run, `${where} (fenced) failed with ${error.value.reason}, expected one of ${[...fenced.reasons]} (I7, S21)`)
    }
    sub.exitChecked = true
  }
}

/** I7 at the end of a run, once every connection is back and time has passed: every fenced stream ended. */
export const checkFencedEnded = (run: Run): void => {
  for (const sub of run.subs) {
    if (sub.fenced !== null && sub.exit === null && !sub.scopeClosed) {
      fail(
        run,
        `subscription #${sub.no} (c${sub.client} process #${sub.incarnation} on room-${sub.room}) of a fenced process never ended (I7, S21)`
      )
    }
  }
}

/** I8 (S23, S24): a membership not resumed in time is gone one housekeeping interval after its deadline. */
export const checkResumeDeadlines = (run: Run, now: number): void => {
  const { housekeepingMs: H, slackMs } = run.timing
  for (const room of run.rooms) {
    for (const [c, m] of room.members) {
      const until = m.detachedUntil
      if (until === null) continue
      const housekeeper = run.clients.some((k) => !k.cut && k.uncutSince <= until)
      if (housekeeper && now - until >= H + slackMs) {
        fail(
          run,
          `${room.name}: c${c}'s membership was to be resumed by ${until}; at ${now} it is still there (I8, S23, S24)`
        )
      }
    }
  }
}
