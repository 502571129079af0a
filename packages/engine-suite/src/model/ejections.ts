/**
 * I5 (S10, S11), the half of it that explains ejections (the rest is in `invariants.ts`): what
 * depends on timers is read from the engine — a member missing from `roomState`, a stream failing
 * with `ClientEjected` — and accepted only when the model says it may have happened by now. An
 * accepted ejection is applied to the model (the member is removed, which may release the next
 * message); a member the engine lists no more without a reason, or a stream ejected without one,
 * is a violation (the first caught by the room checks, the second here).
 */
import { Cause, Exit, Option } from "effect"
import type { ObservedRoom } from "./invariants.js"
import * as RoomModel from "./roomModel.js"
import { fail, mayBeExpired, removeMember, type Run, type Sub } from "./run.js"

/**
 * The reasons a member may have been ejected for by `now`, given those the model sees once the
 * step is over. The order of the ejections within one step is not modelled: a sync member may have
 * held a message released during a step at least `ackTimeout` long (after other ejections) and been
 * ejected for it (S11) before the step ended, when the model, reading the room as it is now, finds
 * only another reason (an expiry that may have happened, S10; a resume deadline, S23) or none yet.
 */
const possibleReasons = (
  run: Run,
  mode: "sync" | "async",
  reasons: Array<RoomModel.EjectReason>,
  stepStart: number,
  now: number
): Array<RoomModel.EjectReason> => {
  const A = run.timing.ackTimeoutMs
  const long = A !== null && mode === "sync" && now - stepStart >= A - run.timing.slackMs
  return reasons.length > 0 && long && !reasons.includes("ack-timeout") ? [...reasons, "ack-timeout"] : reasons
}

/**
 * I5 (S6, S10, S11): members of the model the engine no longer lists are removed if the model has
 * a reason (ack deadline, expiry, a leave deferred while cut); the subscription must then learn
 * it. Returns whether any was removed.
 */
const removeEjectedMembers = (run: Run, observed: ReadonlyArray<ObservedRoom>, stepStart: number, now: number) => {
  const { clients } = run
  let progress = false
  for (const room of run.rooms) {
    const o = observed[room.index]!
    for (const [c, m] of [...room.members]) {
      const id = clients[c]!.id
      if (o.all !== null ? o.all.includes(id) : (m.mode !== "sync" || o.members.includes(id))) continue
      const reasons = possibleReasons(
        run,
        m.mode,
        RoomModel.ejectionReasons(room, c, clients[c]!, now, run.timing),
        stepStart,
        now
      )
      // a membership left behind while the client was cut may be cleaned up once it is back (by
      // the same process: a durable id's next one resumes it instead)
      const deferredLeave = !m.sub.live && m.sub.leftUnreachable && !clients[c]!.cut &&
        m.sub.incarnation === clients[c]!.incarnation
      if (reasons.length === 0 && !deferredLeave) continue
      progress = true
      run.trace.push(`    the server ejected c${c} from ${room.name} (${reasons.join(" or ") || "its deferred leave"})`)
      const sub = m.sub
      if (sub.live) {
        if (clients[c]!.cut) {
          // the ejection notice is lost: the subscription lives on without membership
          sub.uncertain = true
          sub.lateEject = reasons
        } else {
          sub.mustEject = reasons
        }
      }
      // S21: a fenced process still listening hears the ejection notice of the id it shared
      for (const s of run.subs) {
        if (s.client === c && s.room === room.index && s.fenced !== null) {
          for (const r of reasons) s.fenced.reasons.add(r)
        }
      }
      removeMember(run, room, c, stepStart, now)
    }
  }
  return progress
}

/**
 * I5 (S10, S11): a stream failed with `ClientEjected` is accepted when the reason is the one the
 * server had, one its client missed while cut, or its own keepalive timeout. Returns whether any was.
 */
const acceptEjectedStreams = (run: Run, streams: ReadonlyArray<Sub>, now: number) => {
  let progress = false
  for (const sub of streams) {
    if (sub.exitChecked || sub.exit === null || !Exit.isFailure(sub.exit)) continue
    const err = Cause.findErrorOption(sub.exit.cause)
    if (Option.isNone(err)) {
      return fail(run, `subscription #${sub.no} (c${sub.client}) died: ${Cause.pretty(sub.exit.cause)}`)
    }
    const reason = err.value.reason
    if (sub.mustEject !== null) {
      if (!sub.mustEject.includes(reason)) {
        return fail(run, `subscription #${sub.no} (c${sub.client}) ejected for ${reason}, expected ${sub.mustEject}`)
      }
    } else if (sub.lateEject.includes(reason)) {
      // the client learnt about an ejection it missed while cut
    } else if (reason === "keepalive-timeout" && (sub.uncertain || mayBeExpired(run, run.clients[sub.client]!, now))) {
      // S10: the client lost the server for clientTimeout and failed its own streams; the
      // server may still count it as a member until it expires it
      const m = run.rooms[sub.room]!.members.get(sub.client)
      if (m !== undefined && m.sub === sub) m.uncertain = true
      sub.leftUnreachable = true
    } else {
      continue // not explained yet: maybe after another removal
    }
    sub.exitChecked = true
    sub.live = false
    progress = true
  }
  return progress
}

/**
 * I5 (S10, S11): explain ejections, to a fixpoint (one ejection may release a message whose
 * deadline passes within the same step). `stepStart` is the time the step began.
 */
export const explainEjections = (
  run: Run,
  observed: ReadonlyArray<ObservedRoom>,
  stepStart: number,
  now: number
): void => {
  const ejectedStreams = run.subs.filter((s) => !s.exitChecked && s.exit !== null && Exit.isFailure(s.exit) && s.live)
  let progress = true
  while (progress) {
    const removed = removeEjectedMembers(run, observed, stepStart, now)
    const accepted = acceptEjectedStreams(run, ejectedStreams, now)
    progress = removed || accepted
  }
  for (const sub of ejectedStreams) {
    if (sub.exitChecked || sub.exit === null || Exit.isSuccess(sub.exit)) continue
    const reason = Option.match(Cause.findErrorOption(sub.exit.cause), {
      onNone: () => "?",
      onSome: (e) => e.reason
    })
    fail(
      run,
      `subscription #${sub.no} (c${sub.client} ${sub.mode} on room-${sub.room}) failed with ClientEjected(${reason}) but the model sees no reason for it (I5)`
    )
  }
}
