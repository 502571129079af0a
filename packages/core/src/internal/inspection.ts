/**
 * The read-only operations of a client: `peek` (S13), `roomState` (S14), `metrics` (S15, S26)
 * and `rooms` (S26).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { BackendClient } from "../Backend.js"
import type { QueuedMessage } from "../Delivery.js"
import * as Envelope from "../Envelope.js"
import * as MessageId from "../MessageId.js"
import type { RoomState } from "../RoomState.js"
import type { SyncFanoutQueue } from "../SyncFanoutQueue.js"
import type { ClientStats } from "./clientStats.js"
import * as RoomsCursor from "./roomsCursor.js"
import { validateInt, validateRoom } from "./validation.js"

type Service = SyncFanoutQueue["Service"]

/** A message of `room` as `peek` and dead letters show it (S13, S29). */
export const queuedMessage = (room: string, e: Envelope.MessageEnvelope): QueuedMessage => ({
  id: MessageId.make(e.p, e.s),
  room,
  data: e.d,
  priority: e.pr,
  producer: e.p,
  sequence: e.s,
  sentAt: new Date(e.t)
})

export const make = (options: {
  readonly backend: BackendClient
  /** the client's prefix: its `rooms` cursors belong to it (S26) */
  readonly keyPrefix: string
  readonly stats: ClientStats
  /** rooms this client is subscribed to now */
  readonly subscribedRooms: () => number
}): Pick<Service, "peek" | "roomState" | "metrics" | "rooms"> => {
  const { backend, stats, subscribedRooms } = options
  const owner: RoomsCursor.Owner = { keyPrefix: options.keyPrefix, shards: backend.shards }
  return {
    peek: (room, options) =>
      Effect.gen(function*() {
        yield* validateRoom(room)
        const offset = yield* validateInt("offset", options?.offset, 0, 0, Number.MAX_SAFE_INTEGER)
        const limit = yield* validateInt("limit", options?.limit, 100, 1, 10_000)
        const raw = yield* backend.peek(room, offset, limit)
        const messages: Array<QueuedMessage> = []
        for (const json of raw) {
          const e = Envelope.decodeOrReason(json)
          if (typeof e === "string" || e.k === "e") {
            stats.invalidMessage(room, typeof e === "string" ? e : "unexpected envelope kind")
            continue
          }
          messages.push(queuedMessage(room, e))
        }
        return messages
      }).pipe(Effect.withSpan("SyncFanoutQueue.peek", { attributes: { room } })),

    roomState: (room) =>
      Effect.gen(function*() {
        yield* validateRoom(room)
        const raw = yield* backend.roomState(room)
        const state: RoomState = {
          room,
          backlog: raw.backlog,
          members: [...raw.members].sort(),
          acked: [...raw.acked].sort(),
          inFlight: raw.inFlight === null ? Option.none() : Option.some({
            id: MessageId.MessageId(raw.inFlight.id),
            releasedAt: new Date(raw.inFlight.releasedAt),
            age: Duration.millis(Math.max(0, raw.inFlight.age))
          }),
          paused: raw.paused
        }
        return state
      }).pipe(Effect.withSpan("SyncFanoutQueue.roomState", { attributes: { room } })),

    metrics: (options) =>
      Effect.gen(function*() {
        const top = yield* validateInt("topRooms", options?.topRooms, 10, 0, 1000)
        const stalledRooms = yield* validateInt("stalledRooms", options?.stalledRooms, 10, 0, 1000)
        const raw = yield* backend.stats(top, stalledRooms)
        return {
          knownRooms: raw.knownRooms,
          topRooms: raw.topRooms,
          knownClients: raw.knownClients,
          subscribedRooms: subscribedRooms(),
          received: stats.received,
          invalid: stats.invalid,
          latency: stats.latency.summary(),
          stalled: raw.stalled.map((r) => ({
            room: r.room,
            inFlight: MessageId.MessageId(r.id),
            releasedAt: new Date(r.releasedAt),
            age: Duration.millis(Math.max(0, r.age)),
            waitingFor: [...r.waitingFor].sort()
          }))
        }
      }).pipe(Effect.withSpan("SyncFanoutQueue.metrics")),

    rooms: (options) =>
      Effect.gen(function*() {
        const limit = yield* validateInt("limit", options?.limit, 100, 1, 1000)
        const from = yield* RoomsCursor.decode(options?.cursor, owner)
        const page = yield* backend.rooms(from, limit)
        return {
          rooms: page.rooms,
          cursor: page.next === null ? Option.none() : Option.some(RoomsCursor.encode(page.next, owner))
        }
      }).pipe(Effect.withSpan("SyncFanoutQueue.rooms"))
  }
}
