/**
 * The checks of a run (DESIGN §5): what the engine did — the deliveries in the subscriptions'
 * logs, how their streams ended, the observer's `roomState` and `peek` — against the model
 * (`roomModel.ts`, and the expected deliveries in `run.ts`). After every step `driver.ts` first
 * applies the ejections the model can explain (`ejections.ts`, part of I5), then runs
 * `checkSubscriptions` and `checkRooms`:
 * - I1 (S3) a sync subscription never receives a queued message while it has not acked the previous one;
 * - I2 (S3, S5, S7–S9, S12) every live subscription receives exactly what the model releases /
 *   publishes while it is a connected listener, in order, each once: nothing while its client is cut,
 *   the in-flight message again after a restore if it holds it and never saw it, nothing a joiner
 *   finds in flight;
 * - I3 (S2) release order: a queued message never comes after one that was queued with it and has
 *   a larger (priority, send order);
 * - I4 (S9, S13, S14) `peek` is exactly the model queue (never an out-of-band message), `roomState`
 *   matches backlog, sync members, acked members, in-flight id and release time;
 * - I5 (S10, S11) every ejection is explained; an ejected member is gone from `roomState` and its
 *   stream failed with `ClientEjected` and the right reason (a cut client learns it when it is back);
 *   no ack deadline stays overdue;
 * - I6 (S4) stale and duplicate acks change nothing: they are ordinary steps, compared like the rest
 *   (no check of its own: the model's `ack` ignores them, and I2 and I4 see whatever the engine did).
 *
 * What depends on timers (ack deadlines S11, keepalive expiry S10) is read from the engine (a member
 * missing from `roomState`, a stream failing with `ClientEjected`) and accepted only when the model
 * says it may have happened by now; a holder still not ejected one housekeeping period after its
 * deadline is an error. A client cut long enough to be expired makes its subscriptions "uncertain":
 * what they receive may then be any subsequence of the room's traffic, but I1 and I3 still hold for
 * them.
 *
 * `checkDrained` is the liveness check at the end of a run (S6, S10, S11).
 *
 * Durable members (S21–S25) add I7 (fenced processes) and I8 (resume deadlines), in
 * `durableChecks.ts`; a fenced process's deliveries are checked there instead of I1 and I2.
 * Attempts, rejects, dead letters and operators (S27–S30) add I9–I13, in `operationChecks.ts`
 * (I9, the attempts, with I2 here).
 */
import type { DeadLetter, Delivery } from "@lockstep/core"
import { Exit } from "effect"
import { checkFencedDelivery } from "./durableChecks.js"
import { checkQueuedDelivery, checkRoomOperations } from "./operationChecks.js"
import type * as RoomModel from "./roomModel.js"
import { fail, type Room, type Run, type Sub } from "./run.js"

/** A room as the observer saw it after a step. */
export interface ObservedRoom {
  readonly backlog: number
  readonly members: ReadonlyArray<string>
  readonly acked: ReadonlyArray<string>
  readonly inFlight: { readonly id: string; readonly releasedAt: number } | null
  readonly peek: ReadonlyArray<string>
  /** every member (sync and async), when the engine offers the white-box view */
  readonly all: ReadonlyArray<string> | null
  /** `RoomState.paused` (S30) */
  readonly paused: boolean
  /** every dead letter, newest first (S29), when the engine offers a `RoomAdmin` */
  readonly letters: ReadonlyArray<DeadLetter.DeadLetter> | null
}

const sameSet = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  a.length === b.length && [...a].sort().join(",") === [...b].sort().join(",")

// ---------------------------------------------------------------------------------------------
// Deliveries: I1, I2, I3
// ---------------------------------------------------------------------------------------------

/** The delivery is a message sent in the run, to this room, as it was sent (kind, priority, payload). */
const checkAsSent = (run: Run, sub: Sub, d: Delivery.Delivery, where: string): RoomModel.Msg => {
  const room = run.rooms[sub.room]!
  const msg = run.messages.get(d.id)
  if (msg === undefined) return fail(run, `${where} received unknown message ${d.id}`)
  if (d.room !== room.name || msg.room !== sub.room) return fail(run, `${where} received ${d.id} of another room`)
  if (d.kind !== msg.kind) return fail(run, `${where} received ${d.id} as ${d.kind}, sent as ${msg.kind}`)
  if (msg.kind === "queued" && d.priority !== msg.priority) {
    return fail(run, `${where} received ${d.id} with priority ${d.priority}, sent with ${msg.priority}`)
  }
  const data = d.data as { readonly n?: unknown } | null
  if (data === null || typeof data !== "object" || data.n !== msg.n) {
    return fail(run, `${where} received ${d.id} with data ${JSON.stringify(d.data)}, sent {"n":${msg.n}}`)
  }
  return msg
}

/** I2: `d` is the next delivery the model expects (optional ones may be missing), for its attempt (I9). */
const expectNext = (run: Run, sub: Sub, d: Delivery.Delivery, msg: RoomModel.Msg, where: string) => {
  let i = 0
  while (i < sub.expected.length && sub.expected[i]!.id !== d.id && sub.expected[i]!.optional) i++
  if (i >= sub.expected.length || sub.expected[i]!.id !== d.id) {
    const next = sub.expected.find((e) => !e.optional)
    return fail(
      run,
      `${where} received ${msg.kind} ${d.id} unexpectedly (I2); expected ${
        next === undefined ? "nothing" : next.id
      }; pending: ${JSON.stringify(sub.expected)}`
    )
  }
  const attempt = sub.expected[i]!.attempt ?? 1
  if (d.attempt !== attempt) {
    return fail(
      run,
      `${where} received ${msg.kind} ${d.id} for attempt ${d.attempt}, the model's is ${attempt} (I9, S27)`
    )
  }
  sub.expected.splice(0, i + 1)
}

/** I2 (S3, S5, S7–S9, S12): each message once, and exactly the next one the model expects. */
const checkExpected = (run: Run, sub: Sub, d: Delivery.Delivery, msg: RoomModel.Msg, where: string) => {
  if (sub.seen.has(d.id)) return fail(run, `${where} received ${d.id} twice (I2)`)
  sub.seen.add(d.id)
  if (sub.uncertain) {
    // I2 weakened: some message of this room that the model released or published
    if (msg.releaseStep === null) return fail(run, `${where} received ${d.id} before the model released it (I2)`)
    sub.expected.length = 0
  } else {
    expectNext(run, sub, d, msg, where)
  }
}

/** I3 (S2): release order among messages queued together. */
const checkReleaseOrder = (run: Run, sub: Sub, msg: RoomModel.Msg, where: string) => {
  const prev = sub.prevQueued
  if (prev !== null && prev.releaseStep !== null && msg.sendStep <= prev.releaseStep) {
    if (msg.priority < prev.priority || (msg.priority === prev.priority && msg.order < prev.order)) {
      fail(
        run,
        `${where}: ${msg.id} (priority ${msg.priority}, #${msg.order}) was queued when ${prev.id} (priority ${prev.priority}, #${prev.order}) was released, but came after it (I3)`
      )
    }
  }
  sub.prevQueued = msg
}

/** I1 (S3): a sync subscription holds one unacked queued message at most. */
const checkOneUnacked = (run: Run, sub: Sub, d: Delivery.Delivery, where: string) => {
  if (sub.unacked !== null) {
    fail(run, `${where} received ${d.id} while ${sub.unacked} is not acked: it holds two unacked messages (I1, S3)`)
  }
  sub.unacked = d.id
  sub.lastQueued = d.id
}

/** I1, I2, I3: one new delivery of `sub` (I7 instead of I1, I2 once its process was fenced). */
const checkDelivery = (run: Run, sub: Sub, d: Delivery.Delivery) => {
  const room = run.rooms[sub.room]!
  const where = `subscription #${sub.no} (c${sub.client} ${sub.mode} on ${room.name})`
  const msg = checkAsSent(run, sub, d, where)
  if (msg.kind === "queued") checkQueuedDelivery(run, sub, d, where)
  if (sub.fenced !== null) {
    checkFencedDelivery(run, sub, d, msg, where)
    if (msg.kind === "queued") checkReleaseOrder(run, sub, msg, where)
    return
  }
  checkExpected(run, sub, d, msg, where)
  if (msg.kind !== "queued") return
  checkReleaseOrder(run, sub, msg, where)
  if (sub.mode === "sync") checkOneUnacked(run, sub, d, where)
}

/** I5 (S10, S11): a subscription the server ejected while its client could hear it was told so. */
const checkEjectionNoticed = (run: Run, sub: Sub) => {
  if (sub.mustEject !== null && !sub.exitChecked) {
    return fail(
      run,
      `subscription #${sub.no} (c${sub.client} ${sub.mode} on room-${sub.room}) was ejected by the server (${sub.mustEject}) but its stream did not fail with ClientEjected (I5)`
    )
  }
}

/** A stream ends only when its scope is closed or it is ejected. */
const checkNotEndedSilently = (run: Run, sub: Sub) => {
  if (sub.exit !== null && Exit.isSuccess(sub.exit) && !sub.scopeClosed) {
    return fail(run, `subscription #${sub.no} (c${sub.client}) ended without being closed or ejected`)
  }
}

/** I2: a live subscription of a connected client has received everything due to it. */
const checkNothingMissing = (run: Run, sub: Sub) => {
  if (!sub.live) sub.expected.length = 0
  else if (!run.clients[sub.client]!.cut) {
    const missing = sub.expected.find((e) => !e.optional)
    if (missing !== undefined) {
      return fail(
        run,
        `subscription #${sub.no} (c${sub.client} ${sub.mode} on room-${sub.room}) did not receive ${missing.id} (I2); log: ${
          sub.log.map((d) => d.id).join(", ")
        }`
      )
    }
  }
}

/** I1, I2, I3, I5: every subscription's new deliveries (noted as observed at this step) and its stream. */
export const checkSubscriptions = (run: Run): void => {
  for (const sub of run.subs) {
    while (sub.checked < sub.log.length) {
      checkDelivery(run, sub, sub.log[sub.checked]!)
      sub.steps.push(run.step)
      sub.checked++
    }
    checkEjectionNoticed(run, sub)
    checkNotEndedSilently(run, sub)
    checkNothingMissing(run, sub)
  }
}

// ---------------------------------------------------------------------------------------------
// Rooms: I4, I5
// ---------------------------------------------------------------------------------------------

/** I4 (S9, S13, S14): `peek` is exactly the model queue, never an out-of-band message; the backlog is its length. */
const checkQueue = (run: Run, room: Room, o: ObservedRoom, label: string) => {
  const modelQueue = room.queue.map((m) => m.id)
  if (o.peek.join(",") !== modelQueue.join(",")) {
    return fail(run, `${label} peek shows [${o.peek}], model queue is [${modelQueue}] (I4, S13)`)
  }
  for (const id of o.peek) {
    if (run.messages.get(id)?.kind === "out-of-band") fail(run, `${label} out-of-band ${id} is queued (S9)`)
  }
  if (o.backlog !== room.queue.length) {
    return fail(run, `${label} backlog ${o.backlog}, model ${room.queue.length} (I4, S14)`)
  }
}

/**
 * I4, I5: the sync members are the model's (and every member, with the white-box view, which
 * settles the model's doubts about async members).
 */
const checkMembers = (run: Run, room: Room, o: ObservedRoom, label: string) => {
  const { byId, clients } = run
  const names = (ids: ReadonlyArray<string>) => ids.map((id) => `c${byId.get(id)?.index ?? id}`).join(" ")
  const syncMembers = [...room.members].filter(([, m]) => m.mode === "sync").map(([c]) => clients[c]!.id)
  if (!sameSet(o.members, syncMembers)) {
    return fail(run, `${label} sync members [${names(o.members)}], model [${names(syncMembers)}] (I4, I5)`)
  }
  if (o.all !== null) {
    const all = [...room.members.keys()].map((c) => clients[c]!.id)
    if (!sameSet(o.all, all)) return fail(run, `${label} members [${names(o.all)}], model [${names(all)}] (I5)`)
    for (const m of room.members.values()) m.uncertain = false
  }
}

/**
 * I4 (S3, S4): the message in flight is the model's, with the same acked members, released within
 * the model's bounds (which then become the observed time, on the same clock).
 */
const checkInFlight = (run: Run, room: Room, o: ObservedRoom, label: string) => {
  const slack = run.timing.slackMs
  const f = room.inFlight
  if ((o.inFlight?.id ?? null) !== (f?.msg.id ?? null)) {
    return fail(run, `${label} in flight ${o.inFlight?.id ?? "none"}, model ${f?.msg.id ?? "none"} (I4, S3)`)
  }
  if (f === null || o.inFlight === null) return
  const acked = [...f.acked].filter((c) => room.members.has(c)).map((c) => run.clients[c]!.id)
  if (!sameSet(o.acked, acked)) return fail(run, `${label} acked [${o.acked}], model [${acked}] (I4, S4)`)
  if (run.engine.sameClock) {
    const at = o.inFlight.releasedAt
    if (at < f.lo - slack || at > f.hi + slack) {
      return fail(run, `${label} ${f.msg.id} released at ${at}, model says within [${f.lo}, ${f.hi}]`)
    }
    f.lo = at
    f.hi = at
  }
}

/** I5 (S11): an overdue deadline of a holder, while some client housekeeps all along. */
const checkAckDeadline = (run: Run, room: Room, label: string, now: number) => {
  const { ackTimeoutMs: A, housekeepingMs: H, slackMs: slack } = run.timing
  const f = room.inFlight
  if (f === null || A === null) return
  const housekeeper = run.clients.some((c) => !c.cut && c.uncutSince <= f.hi)
  if (housekeeper && f.holders.size > 0 && now - f.hi >= A + H + slack) {
    return fail(
      run,
      `${label} ${f.msg.id} released at ${f.hi}, now ${now}: holders ${
        [...f.holders].map((c) => `c${c}`).join(" ")
      } still not ejected after ackTimeout (I5, S11)`
    )
  }
}

/** I4, I5: every room as observed after the step, against the model. */
export const checkRooms = (run: Run, observed: ReadonlyArray<ObservedRoom>, now: number): void => {
  for (const room of run.rooms) {
    const o = observed[room.index]!
    const label = `${room.name}:`
    checkQueue(run, room, o, label)
    checkMembers(run, room, o, label)
    checkInFlight(run, room, o, label)
    if (o.inFlight !== null) checkAckDeadline(run, room, label, now)
    checkRoomOperations(run, room, o, label)
    const f = room.inFlight
    if (room.queue.length > 0 && !room.paused && (f === null || f.holders.size === 0)) {
      return fail(run, `${label} model inconsistency: queue without a held in-flight message`)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Liveness, at the end of a run
// ---------------------------------------------------------------------------------------------

/** S6, S10: no member is left without a live subscription: it would hold the room forever. */
const checkNoOrphanMember = (run: Run, room: Room) => {
  for (const [c, m] of room.members) {
    if ((m.mode === "sync" || run.engine.members !== undefined) && !m.sub.live) {
      fail(
        run,
        `${room.name}: c${c} is still a sync member after its subscription #${m.sub.no} ended (${
          m.sub.scopeClosed ? "closed" : "ejected"
        }): the room ${room.inFlight !== null ? `is stuck on ${room.inFlight.msg.id}` : "will be stuck"} (S6, S10)`
      )
    }
  }
}

/** S10, S11: no live subscription has silently lost its membership. */
const checkNoSilentEjection = (run: Run, room: Room) => {
  for (const sub of run.subs) {
    const knowable = (sub.mode === "sync" || run.engine.members !== undefined) && !sub.ejectedUnheard
    if (sub.room === room.index && sub.live && knowable && room.members.get(sub.client)?.sub !== sub) {
      fail(
        run,
        `${room.name}: subscription #${sub.no} of c${sub.client} is live but no longer a member: it was ejected and never told (S10, S11)`
      )
    }
  }
}

/**
 * Liveness, once every client is back, every timer has run out and the live sync subscriptions
 * have acked all they could (S6, S10, S11): no orphan member, no silent ejection, no message left.
 */
export const checkDrained = (run: Run): void => {
  for (const room of run.rooms) {
    checkNoOrphanMember(run, room)
    checkNoSilentEjection(run, room)
    if (room.queue.length > 0) fail(run, `${room.name}: ${room.queue.length} messages left after draining`)
  }
}
