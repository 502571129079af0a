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

export interface Room<S> {
  readonly index: number
  readonly name: string
  readonly queue: Array<Msg>
  readonly members: Map<number, Member<S>>
  inFlight: InFlight | null
  /** queued messages sent to the room so far (the next one's `order`) */
  arrivals: number
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
  arrivals: 0
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
 * S3, S7: release while nobody holds the room: the next queued message goes in flight, held by
 * every sync member. Returns the released messages, in order.
 */
export const release = <S>(room: Room<S>, lo: number, hi: number, step: number): Array<Msg> => {
  const released: Array<Msg> = []
  while (room.inFlight === null || room.inFlight.holders.size === 0) {
    room.inFlight = null
    const next = room.queue.shift()
    if (next === undefined) break
    const holders = new Set<number>()
    for (const [c, m] of room.members) if (m.mode === "sync") holders.add(c)
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
