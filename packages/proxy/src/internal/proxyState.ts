/**
 * The state of the room proxy: its local clients, its rooms and the messages they still hold, and
 * the operations on that state that need no Effect (each runs under the room's permit, see
 * `roomProxy.ts`).
 */
import type { Backend, Delivery, QueueError } from "@lockstep/core"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"

/** @internal */
export interface ResolvedProxyOptions {
  readonly bufferSize: number
}

export interface LocalClient {
  readonly id: string
  readonly queue: Backend.DeliveryBuffer
  /** rooms this client is a member of; an entry changes only under that room's permit */
  readonly rooms: Set<string>
  /** removed: receives nothing more, its leaves are under way */
  closed: boolean
}

/** A queued message delivered locally and not yet acked upstream. */
export interface Pending {
  /** local clients that were in the room when it arrived and have neither acked it nor left */
  readonly waiting: Set<LocalClient>
  /** the upstream delivery's ack */
  readonly ack: Effect.Effect<void, QueueError.QueueError>
}

export interface Room {
  readonly name: string
  readonly lock: Semaphore.Semaphore
  /** new: no upstream subscription yet; open: subscribed; closed: gone from `rooms` for good */
  status: "new" | "open" | "closed"
  readonly members: Set<LocalClient>
  readonly pending: Map<string, Pending>
  /** the scope of the upstream subscription */
  scope: Scope.Closeable | undefined
  /** the last message acked upstream, to re-ack a redelivery after a lost ack (S12) */
  lastAcked: string | undefined
}

/**
 * Upstream ack failures are retried briefly; afterwards the engine's timeouts take over (S10,
 * S11). (The acks of lockstep's engines do not fail: they are handed over and repeated by the
 * client itself; another `SyncFanoutQueue` implementation's may.)
 */
export const ackRetry = Schedule.max([Schedule.exponential("100 millis"), Schedule.recurs(4)])

/** How long a reopening room waits for the previous subscription's consumer to drain. */
export const drainTimeout = "5 seconds"

/** A new room: no upstream subscription yet. */
export const newRoom = (name: string): Room => ({
  name,
  lock: Semaphore.makeUnsafe(1),
  status: "new",
  members: new Set(),
  pending: new Map(),
  scope: undefined,
  lastAcked: undefined
})

/** Offer a delivery if the client's buffer has room. */
export const offer = (client: LocalClient, delivery: Delivery.Delivery, bufferSize: number): boolean => {
  if (client.queue.size >= bufferSize) return false
  client.queue.offer(delivery)
  return true
}

/** Fail the client's stream once, after what it has buffered; run again, it goes on with its other rooms. */
export const fail = (client: LocalClient, error: QueueError.ClientEjected): void => {
  if (!client.closed) client.queue.fail(error)
}

/** Remove a member; returns the upstream acks of the messages it was the last one to hold (S6). */
export const removeMember = (room: Room, client: LocalClient): Array<Effect.Effect<void, QueueError.QueueError>> => {
  room.members.delete(client)
  client.rooms.delete(room.name)
  const released: Array<Effect.Effect<void, QueueError.QueueError>> = []
  for (const [id, pending] of room.pending) {
    if (pending.waiting.delete(client) && pending.waiting.size === 0) {
      room.pending.delete(id)
      room.lastAcked = id
      released.push(pending.ack)
    }
  }
  return released
}
