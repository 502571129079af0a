/**
 * The JSON shapes the monitor serves (`/rooms`, `/rooms/:room`, `/events`) and how the board
 * snapshot is read from a `SyncFanoutQueue`: a full `rooms()` walk (S26), `roomState` of each
 * room (S14) and `metrics().stalled` (S26).
 */
import type { DeadLetter, Delivery, QueueError, RoomState, SyncFanoutQueue } from "@lockstep/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

type Queue = SyncFanoutQueue.SyncFanoutQueue["Service"]

/** One sync member of a room and whether it acked the in-flight message. */
export interface MemberJson {
  readonly id: string
  readonly acked: boolean
}

/** A room as JSON (S14); `inFlight.ageMs` only where asked (the board computes ages itself). */
export interface RoomJson {
  readonly room: string
  readonly backlog: number
  readonly members: ReadonlyArray<MemberJson>
  readonly inFlight: { readonly id: string; readonly releasedAt: string; readonly ageMs?: number } | null
  /** paused by an operator (S30): no queued message is released */
  readonly paused: boolean
}

/** A member that left its room, or was ejected, while the room waited for its ack. */
export interface DepartureJson {
  readonly room: string
  readonly client: string
  readonly message: string
  readonly at: string
}

/** What the board shows: every active room, the stalled ones, recent departures of holders. */
export interface BoardJson {
  /** server time of the snapshot (the page computes ages against it) */
  readonly now: string
  readonly stalledAfterMs: number
  readonly knownClients: number
  /** true when the walk stopped at `maxRooms` */
  readonly truncated: boolean
  readonly rooms: ReadonlyArray<RoomJson>
  /** rooms whose in-flight message is oldest, oldest first, with whom they wait for */
  readonly stalled: ReadonlyArray<{ readonly room: string; readonly waitingFor: ReadonlyArray<string> }>
  readonly departures: ReadonlyArray<DepartureJson>
}

/** A room state as JSON. */
export const roomJson = (state: RoomState.RoomState, withAge: boolean): RoomJson => {
  const acked = new Set(state.acked)
  return {
    room: state.room,
    backlog: state.backlog,
    members: state.members.map((id) => ({ id, acked: acked.has(id) })),
    inFlight: Option.match(state.inFlight, {
      onNone: () => null,
      onSome: (f) => ({
        id: f.id,
        releasedAt: f.releasedAt.toISOString(),
        ...(withAge ? { ageMs: Duration.toMillis(f.age) } : {})
      })
    }),
    paused: state.paused
  }
}

/** A queued message as JSON (`peek`, S13). */
export const queuedJson = (m: Delivery.QueuedMessage) => ({
  id: m.id,
  priority: m.priority,
  producer: m.producer,
  sequence: m.sequence,
  sentAt: m.sentAt.toISOString(),
  data: m.data
})

/** A dead letter as JSON (S29): the message as `peek` shows it, the member, its attempts, when and why. */
export const deadLetterJson = (letter: DeadLetter.DeadLetter) => ({
  message: queuedJson(letter.message),
  member: letter.member,
  attempts: letter.attempts,
  at: letter.at.toISOString(),
  reason: letter.reason
})

/** True when a room has anything to show (it may have drained between the walk and its state). */
const isActive = (r: RoomJson) => r.backlog > 0 || r.members.length > 0 || r.inFlight !== null

/** Walk `rooms()` until the end or `max` rooms. */
export const walk = (
  queue: Queue,
  max: number
): Effect.Effect<{ rooms: Array<string>; truncated: boolean }, QueueError.QueueError> =>
  Effect.gen(function*() {
    const rooms: Array<string> = []
    let cursor: string | undefined = undefined
    while (rooms.length < max) {
      const page: SyncFanoutQueue.RoomsPage = yield* queue.rooms({ cursor, limit: Math.min(1000, max - rooms.length) })
      rooms.push(...page.rooms)
      if (Option.isNone(page.cursor)) return { rooms, truncated: false }
      cursor = page.cursor.value
    }
    return { rooms, truncated: true }
  })

/** Read one board snapshot (without departures: `trackDepartures` adds them). */
export const board = (
  queue: Queue,
  options: { readonly maxRooms: number; readonly stalledRooms: number; readonly stalledAfter: Duration.Duration }
): Effect.Effect<BoardJson, QueueError.QueueError> =>
  Effect.gen(function*() {
    const { rooms, truncated } = yield* walk(queue, options.maxRooms)
    const [states, metrics] = yield* Effect.all([
      Effect.forEach(rooms, (room) => queue.roomState(room), { concurrency: 16 }),
      queue.metrics({ stalledRooms: options.stalledRooms })
    ], { concurrency: 2 })
    return {
      now: new Date().toISOString(),
      stalledAfterMs: Duration.toMillis(options.stalledAfter),
      knownClients: metrics.knownClients,
      truncated,
      rooms: states.map((s) => roomJson(s, false)).filter(isActive).sort((a, b) =>
        a.room < b.room ? -1 : a.room > b.room ? 1 : 0
      ),
      stalled: metrics.stalled.map((s) => ({ room: s.room, waitingFor: s.waitingFor })),
      departures: []
    }
  }).pipe(Effect.withSpan("Monitor.board"))

/**
 * The members that were holding a room's in-flight message in `previous` and are no longer
 * members in `next`: they left or were ejected (S6, S10, S11) while the room waited for them.
 */
export const departures = (previous: BoardJson, next: BoardJson): Array<DepartureJson> => {
  const now = new Map(next.rooms.map((r) => [r.room, r]))
  const out: Array<DepartureJson> = []
  for (const before of previous.rooms) {
    if (before.inFlight === null) continue
    const after = now.get(before.room)
    const members = new Set(after?.members.map((m) => m.id) ?? [])
    for (const m of before.members) {
      if (!m.acked && !members.has(m.id)) {
        out.push({ room: before.room, client: m.id, message: before.inFlight.id, at: next.now })
      }
    }
  }
  return out
}

/** The snapshot without its clock, to tell whether anything changed. */
export const fingerprint = (b: BoardJson): string => JSON.stringify({ ...b, now: "" })
