/**
 * The model of the rooms (DESIGN §5): plain data and plain functions, no Effect, no engine.
 *
 * A room is its queue (lower priority number first, FIFO among equal priorities, S2), its members
 * (sync or async, each with the subscription it belongs to) and the message in flight with the
 * sync members that hold it and the ones that acked it (S3, S4). The next queued message is
 * released as soon as nobody holds the room (S3, S7); a joiner neither holds nor receives the
 * message in flight (S5); a member that leaves or is ejected gives up its hold (S6, S10, S11).
 *
 * The model is exact for everything the operations determine (S2–S9, S12–S14). What depends on
 * timers is kept as bounds: the in-flight message was released within [lo, hi] (exact unless a
 * timer released it), and a cut client's last keepalive has a lower bound, from which
 * `mayBeExpired` tells whether the server may have expired it by now (S10).
 *
 * The functions change the room they are given and return the messages they released, in order:
 * the caller turns those into expected deliveries. `S` is whatever the caller attaches to a
 * membership (the driver: its record of the subscription).
 *
 * Durable members (S21–S25): a membership belongs to the client id, not to one process of it. It
 * outlives a crash (the room waits for it as for any member until the id expires, S22), a claim
 * of the id gives it `clientTimeout` to be resumed (`claim`, S23), so does a detach (`detach`,
 * S24), and a join of the id in the same mode resumes it (`resume`): it keeps holding what it held,
 * and the resuming subscription gets the in-flight message again if it holds it (S22).
 *
 * Attempts, rejects, dead letters and operators (S27–S30): a member's attempt record for the
 * in-flight message (`attempts`: the attempt of its last hand-over by a resumed join, 0 when it was
 * detached at the release; cleared by each release) gives the attempt a resumed join (S22) or a
 * resync (S12) hands out; a reject (S28), a skip (S30) or a resume past `maxDeliveries` (S28)
 * writes a dead letter (`letters`, newest first) and settles the message for the member as an ack
 * does; a paused room (S30) releases nothing until it is resumed; a purge drops the queue; a
 * redrive (S29) queues a copy of a dead-lettered message and drops its letters.
 */
import type { QueueError } from "@lockstep/core"
import type { Mode } from "./ops.js"

export type EjectReason = QueueError.ClientEjected["reason"]

export interface Msg {
  readonly id: string
  readonly room: number
  readonly kind: "queued" | "out-of-band"
  readonly n: number
  readonly priority: number
  /** per-room send order (FIFO among equal priorities) */
  readonly order: number
  readonly sendStep: number
  releaseStep: number | null
}

export interface Member<S> {
  readonly mode: Mode
  /** the subscription it belongs to (a resume gives it a new one, S22) */
  sub: S
  /** the server may have expired it without the model seeing it (async members) */
  uncertain: boolean
  /** a durable membership waiting to be resumed: it ends at this time unless resumed (S23, S24) */
  detachedUntil: number | null
}

export interface InFlight {
  readonly msg: Msg
  readonly holders: Set<number>
  readonly acked: Set<number>
  /** release time lies in [lo, hi] (exact unless released by a timer) */
  lo: number
  hi: number
}

/** A dead letter (S28–S30): a message settled for one member without an ack. */
export interface Letter {
  readonly msg: Msg
  readonly member: number
  /** the attempts the member had had (S27) */
  readonly attempts: number
  readonly reason: string
  /** the step that wrote it: the letters of one step (a skip's) may be listed in any order */
  readonly step: number
  /** when it was written */
  readonly at: number
}

/** A member's attempt record for the in-flight message (S27). */
export interface AttemptRecord {
  readonly id: string
  /** the attempt of the last hand-over (0: detached at the release, never handed) */
  readonly n: number
  /** the claim (process) a resumed join handed it to; null: none */
  readonly epoch: number | null
}

export interface Room<S> {
  readonly index: number
  readonly name: string
  readonly queue: Array<Msg>
  readonly members: Map<number, Member<S>>
  inFlight: InFlight | null
  /** queued messages sent to the room so far (the next one's `order`) */
  arrivals: number
  /** paused by an operator (S30): nothing is released */
  paused: boolean
  /** the dead letters, newest first (S29) */
  readonly letters: Array<Letter>
  /** every (member, message) ever dead-lettered, as `member:id`: never delivered to it again */
  readonly lettered: Set<string>
  /** per member, its attempt record for the in-flight message (S27) */
  readonly attempts: Map<number, AttemptRecord>
}

/** The clients' timers, ms, and the tolerance of timing bounds (`slackMs`, 0 with a test clock). */
export interface Timing {
  readonly clientTimeoutMs: number
  readonly keepaliveMs: number
  readonly housekeepingMs: number
  readonly ackTimeoutMs: number | null
  readonly slackMs: number
}

/** An empty room. */
export const makeRoom = <S>(index: number, name: string): Room<S> => ({
  index,
  name,
  queue: [],
  members: new Map(),
  inFlight: null,
  arrivals: 0,
  paused: false,
  letters: [],
  lettered: new Set(),
  attempts: new Map()
})

// ---------------------------------------------------------------------------------------------
// Operations on a room
// ---------------------------------------------------------------------------------------------

/** A queued message sent to `room` at `step`, numbered after the room's earlier ones (S2: FIFO). */
export const queuedMessage = <S>(room: Room<S>, id: string, n: number, priority: number, step: number): Msg => ({
  id,
  room: room.index,
  kind: "queued",
  n,
  priority,
  order: room.arrivals++,
  sendStep: step,
  releaseStep: null
})

/** An out-of-band message sent to `room` at `step`: never queued, published at once (S9). */
export const outOfBandMessage = <S>(room: Room<S>, id: string, n: number, step: number): Msg => ({
  id,
  room: room.index,
  kind: "out-of-band",
  n,
  priority: 0,
  order: -1,
  sendStep: step,
  releaseStep: step
})

/**
 * S3, S7: release while nobody holds the room and it is not paused (S30): the next queued
 * message goes in flight, held by every sync member; a member detached at the release (S24) has
 * attempt record 0 for it (S27). Returns the released messages, in order.
 */
export const release = <S>(room: Room<S>, lo: number, hi: number, step: number): Array<Msg> => {
  const released: Array<Msg> = []
  while (room.inFlight === null || room.inFlight.holders.size === 0) {
    room.inFlight = null
    if (room.paused) break
    const next = room.queue.shift()
    if (next === undefined) break
    room.attempts.clear()
    const holders = new Set<number>()
    for (const [c, m] of room.members) {
      if (m.mode !== "sync") continue
      holders.add(c)
      if (m.detachedUntil !== null) room.attempts.set(c, { id: next.id, n: 0, epoch: null })
    }
    next.releaseStep = step
    room.inFlight = { msg: next, holders, acked: new Set(), lo, hi }
    released.push(next)
  }
  return released
}

/** S2: queue `msg` after every message of a lower or equal priority number, then release (S3). */
export const send = <S>(room: Room<S>, msg: Msg, now: number, step: number): Array<Msg> => {
  let i = room.queue.length
  while (i > 0 && room.queue[i - 1]!.priority > msg.priority) i--
  room.queue.splice(i, 0, msg)
  return release(room, now, now, step)
}

/** S5: `client` joins: a joiner does not hold (or receive) the message in flight. */
export const join = <S>(room: Room<S>, client: number, mode: Mode, sub: S): void => {
  room.members.set(client, { mode, sub, uncertain: false, detachedUntil: null })
}

/**
 * S22, S25: a durable `client` joins in the mode of its existing membership: it resumes it with
 * `sub` and stops waiting to be resumed. Returns the in-flight message if the member holds it
 * (it is delivered again, same id), else null (it had acked it, or is async: nothing is replayed).
 */
export const resume = <S>(room: Room<S>, client: number, sub: S): Msg | null => {
  const m = room.members.get(client)!
  m.sub = sub
  m.detachedUntil = null
  const f = room.inFlight
  return f !== null && f.holders.has(client) ? f.msg : null
}

/** S24: the membership of `client` waits to be resumed until `until` (nothing is left or released). */
export const detach = <S>(room: Room<S>, client: number, until: number): void => {
  const m = room.members.get(client)
  if (m !== undefined) m.detachedUntil = until
}

/**
 * S3, S4: `client` acks `id`. If it holds it, it has acked it now and, as the last holder, releases
 * the next message. An ack of anything else (stale, duplicate, not a holder) changes nothing (I6).
 */
export const ack = <S>(room: Room<S>, client: number, id: string, now: number, step: number): Array<Msg> => {
  const f = room.inFlight
  if (f === null || f.msg.id !== id || !f.holders.has(client)) return []
  f.holders.delete(client)
  f.acked.add(client)
  return release(room, now, now, step)
}

/** The server removed `client` from `room` (leave or ejection): it holds nothing any more. */
export const removeMember = <S>(room: Room<S>, client: number, lo: number, hi: number, step: number): Array<Msg> => {
  room.members.delete(client)
  room.inFlight?.holders.delete(client)
  return release(room, lo, hi, step)
}

// ---------------------------------------------------------------------------------------------
// Attempts (S27), dead letters and operators (S28–S30)
// ---------------------------------------------------------------------------------------------

/** The attempt record of `client` for message `id`, if it is about that message. */
const recordOf = <S>(room: Room<S>, client: number, id: string): AttemptRecord | undefined => {
  const record = room.attempts.get(client)
  return record !== undefined && record.id === id ? record : undefined
}

/**
 * S27: the attempt a resumed join of `client` by the process of claim `epoch` gets for the
 * in-flight message it holds: one more than its last hand-over (1 when none), unless this process's
 * earlier join was answered it and its consumer never had it (`handed`: the last queued message a
 * closed subscription of the process to the room handed out).
 */
export const resumedAttempt = <S>(room: Room<S>, client: number, epoch: number, handed: string | null): number => {
  const id = room.inFlight!.msg.id
  const record = recordOf(room, client, id)
  const base = record?.n ?? 1
  return record !== undefined && record.epoch === epoch && handed !== id ? base : base + 1
}

/** S27: a resumed join handed the in-flight message to `client` for attempt `n`. */
export const handedOver = <S>(room: Room<S>, client: number, n: number, epoch: number): void => {
  room.attempts.set(client, { id: room.inFlight!.msg.id, n, epoch })
}

/** S12, S27: the attempt a resync reports for the in-flight message: the last hand-over's, at least 1. */
export const resyncAttempt = <S>(room: Room<S>, client: number): number =>
  Math.max(recordOf(room, client, room.inFlight!.msg.id)?.n ?? 1, 1)

const writeLetter = <S>(room: Room<S>, letter: Letter): void => {
  room.letters.unshift(letter)
  room.lettered.add(`${letter.member}:${letter.msg.id}`)
}

/** Whether `msg` was ever dead-lettered for `client` (S28–S30). */
export const wasLettered = <S>(room: Room<S>, client: number, id: string): boolean =>
  room.lettered.has(`${client}:${id}`)

/**
 * S28: settle `id` for `client` as a dead letter (`reason`, `attempts`) if it holds it, then as
 * an ack (S3): the last holder releases the next unless the room is paused. Returns the released
 * messages, or null when `client` does not hold `id` (nothing changes).
 */
export const deadLetter = <S>(
  room: Room<S>,
  client: number,
  id: string,
  letter: { readonly attempts: number; readonly reason: string },
  now: number,
  step: number
): Array<Msg> | null => {
  const f = room.inFlight
  if (f === null || f.msg.id !== id || !f.holders.has(client)) return null
  writeLetter(room, { msg: f.msg, member: client, ...letter, step, at: now })
  return ack(room, client, id, now, step)
}

/**
 * S30: skip the in-flight message: a letter ("skipped", attempts: the member's record, else 1)
 * for every holder, then it is settled for all. The id skipped (null: nothing in flight) and the
 * messages released.
 */
export const skip = <S>(room: Room<S>, now: number, step: number): { id: string | null; released: Array<Msg> } => {
  const f = room.inFlight
  if (f === null) return { id: null, released: [] }
  for (const c of f.holders) {
    const attempts = recordOf(room, c, f.msg.id)?.n ?? 1
    writeLetter(room, { msg: f.msg, member: c, attempts, reason: "skipped", step, at: now })
  }
  f.holders.clear()
  return { id: f.msg.id, released: release(room, now, now, step) }
}

/** S30: drop the backlog (not the in-flight message); the number dropped. */
export const purge = <S>(room: Room<S>): number => room.queue.splice(0).length

/**
 * S30: pause or resume; whether it changed, and what resuming released (the next message if
 * nobody holds the room).
 */
export const pause = <S>(
  room: Room<S>,
  paused: boolean,
  now: number,
  step: number
): { changed: boolean; released: Array<Msg> } => {
  if (room.paused === paused) return { changed: false, released: [] }
  room.paused = paused
  return { changed: true, released: paused ? [] : release(room, now, now, step) }
}

/** S29: whether a letter of message `id` is left (a redrive of it queues a copy). */
export const hasLetter = <S>(room: Room<S>, id: string): boolean => room.letters.some((l) => l.msg.id === id)

/** S29: redrive `id` as `copy` (a new message, from `queuedMessage`): its letters go, the copy is sent. */
export const redrive = <S>(room: Room<S>, id: string, copy: Msg, now: number, step: number): Array<Msg> => {
  for (let i = room.letters.length - 1; i >= 0; i--) if (room.letters[i]!.msg.id === id) room.letters.splice(i, 1)
  return send(room, copy, now, step)
}

/** S29: drop every dead letter of the room; how many there were. */
export const dropLetters = <S>(room: Room<S>): number => room.letters.splice(0).length

// ---------------------------------------------------------------------------------------------
// Clients' connections and timers (S10, S11)
// ---------------------------------------------------------------------------------------------

/** What the model knows about a client's connection. */
export interface Connection {
  cut: boolean
  uncutSince: number
  /** lower bound of the client's last successful keepalive while it is cut */
  heardLowerBound: number
}

/** The client's connection is cut at `now`: its last keepalive was at least one interval ago. */
export const cut = (c: Connection, now: number, timing: Timing): void => {
  if (c.cut) return
  const K = timing.keepaliveMs
  const slack = timing.slackMs
  if (now - c.uncutSince >= K + slack) c.heardLowerBound = Math.max(c.heardLowerBound, now - K - slack)
  c.cut = true
}

/** The client's connection is back at `now`. */
export const restore = (c: Connection, now: number): void => {
  c.cut = false
  c.uncutSince = now
}

/** May the client have been expired by now (S10)? */
export const mayBeExpired = (c: Connection, now: number, timing: Timing): boolean => {
  const K = timing.keepaliveMs
  const slack = timing.slackMs
  const heard = !c.cut && now - c.uncutSince >= K + slack ? now - K - slack : c.heardLowerBound
  return now - heard >= timing.clientTimeoutMs - slack
}

/**
 * Why the server may have ejected `client` from `room` by `now`: its ack deadline passed while it
 * held the message in flight (S11), or it may have been expired (S10). Empty: no reason.
 */
export const ejectionReasons = <S>(
  room: Room<S>,
  client: number,
  connection: Connection,
  now: number,
  timing: Timing
): Array<EjectReason> => {
  const A = timing.ackTimeoutMs
  const reasons: Array<EjectReason> = []
  const f = room.inFlight
  if (A !== null && f !== null && f.holders.has(client) && now - f.lo >= A - timing.slackMs) reasons.push("ack-timeout")
  const until = room.members.get(client)?.detachedUntil ?? null
  if (mayBeExpired(connection, now, timing) || (until !== null && now >= until - timing.slackMs)) {
    reasons.push("keepalive-timeout") // S10; S23, S24: a membership not resumed in time ends as an expiry
  }
  return reasons
}
