/**
 * The simulated transport of the memory engine: one client's `BackendClient` over the keys of its
 * prefix (`memoryKeyspace.ts`, the room state machine), through a connection tests can cut and restore
 * (S10, S12: operations fail, frames are lost in transit) and that a newer claim of its id fences
 * (S21: writes fail with `ClientSuperseded`, reads go on, as on Redis).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { BackendClient, BackendError } from "../Backend.js"
import { ClientSuperseded, EngineError } from "../QueueError.js"
import type { Keyspace } from "./memoryKeyspace.js"
import * as Views from "./memoryViews.js"

/** One client's link to the keyspace. */
export interface Connection {
  readonly clientId: string
  cut: boolean
  /** the epoch of this connection's claim of its id (S21), null for a client that is not durable */
  epoch: number | null
  readonly connected: SubscriptionRef.SubscriptionRef<boolean>
}

/** The server side of one client, over a simulated connection that tests can cut (S10, S12). */
export const connect = (keyspace: Keyspace, clientId: string): Effect.Effect<BackendClient> => {
  return Effect.gen(function*() {
    const connected = yield* SubscriptionRef.make(true)
    const connection: Connection = { clientId, cut: false, epoch: null, connected }
    let ofClient = keyspace.connections.get(clientId)
    if (ofClient === undefined) keyspace.connections.set(clientId, ofClient = new Set())
    ofClient.add(connection)
    const clock = yield* Clock.Clock
    const lost = (operation: string) =>
      new EngineError({
        engine: "memory",
        operation,
        cause: new Error("connection cut (a simulated network partition)")
      })
    const superseded = new ClientSuperseded({ clientId })
    /** an operation that changes something: refused once the connection is fenced (S21) */
    const op = <A>(operation: string, f: (now: number) => A): Effect.Effect<A, BackendError> =>
      Effect.suspend((): Effect.Effect<A, BackendError> =>
        connection.cut
          ? Effect.fail(lost(operation))
          : keyspace.fenced(connection)
          ? Effect.fail(superseded) // S21: nothing a fenced holder does takes effect
          : Effect.sync(() => f(clock.currentTimeMillisUnsafe()))
      )
    /** an operation that reads, or any client's housekeeping: allowed to a fenced connection too, as on Redis */
    const read = <A>(operation: string, f: (now: number) => A): Effect.Effect<A, BackendError> =>
      Effect.suspend((): Effect.Effect<A, BackendError> =>
        connection.cut ? Effect.fail(lost(operation)) : Effect.sync(() => f(clock.currentTimeMillisUnsafe()))
      )
    const backend: BackendClient = {
      send: (room, envelope, priority, id) => op("send", (now) => keyspace.send(room, envelope, priority, id, now)),
      sendOutOfBand: (room, envelope) => op("sendOutOfBand", () => keyspace.sendOutOfBand(room, envelope)),
      listen: (room, deliver) =>
        Effect.acquireRelease(
          read("listen", () => {
            let listeners = keyspace.listeners.get(room)
            if (listeners === undefined) keyspace.listeners.set(room, listeners = new Map())
            listeners.set(deliver, connection)
          }),
          () =>
            Effect.sync(() => {
              const listeners = keyspace.listeners.get(room)
              listeners?.delete(deliver)
              if (listeners?.size === 0) keyspace.listeners.delete(room)
            })
        ),
      join: (room, options) => op("join", (now) => keyspace.join(room, clientId, options, connection.epoch, now)),
      leave: (room) => op("leave", (now) => keyspace.leave(room, clientId, now)),
      // applied at once (the broker is in-process); a cut connection loses it, as in transit
      ack: (room, id, onFailure) => {
        if (connection.cut) return onFailure(room, id, lost("ack"))
        if (keyspace.fenced(connection)) return onFailure(room, id, superseded)
        keyspace.ack(room, clientId, id, clock.currentTimeMillisUnsafe())
      },
      claim: (timeoutMs) =>
        op("claim", (now) => {
          connection.epoch = keyspace.claim(clientId, timeoutMs, now)
          return { epoch: connection.epoch }
        }),
      detach: (room, timeoutMs) => op("detach", (now) => keyspace.detach(room, clientId, timeoutMs, now)),
      memberships: read("memberships", () => Views.memberships(keyspace, clientId)),
      keepalive: (_rooms, timeoutMs) => op("keepalive", (now) => keyspace.keepalive(clientId, timeoutMs, now)),
      housekeep: () => read("housekeep", (now) => keyspace.housekeep(now)),
      resync: (room) => read("resync", () => keyspace.resync(room, clientId)),
      unregister: () =>
        op("unregister", (now) => keyspace.unregister(clientId, now)).pipe(
          Effect.ensuring(Effect.sync(() => forget(keyspace, connection)))
        ),
      peek: (room, offset, limit) => read("peek", () => Views.peek(keyspace, room, offset, limit)),
      roomState: (room) => read("roomState", (now) => Views.roomState(keyspace, room, now)),
      stats: (topRooms, stalledRooms) => read("stats", (now) => Views.stats(keyspace, topRooms, stalledRooms, now)),
      rooms: (from, limit) => read("rooms", () => Views.roomsPage(keyspace, from, limit)),
      reject: (room, id, attempt, reason, policy) =>
        op("reject", (now) => keyspace.reject(room, clientId, id, attempt, reason, policy, now)),
      // S30: operator actions change the room: a fenced client's take no effect either (S21)
      eject: (room, member) => op("eject", (now) => keyspace.eject(room, member, now)),
      pause: (room, paused) => op("pause", (now) => keyspace.pause(room, paused, now)),
      skip: (room, policy) => op("skip", (now) => keyspace.skip(room, policy, now)),
      purge: (room) => op("purge", () => keyspace.purge(room)),
      deadLetters: (room, before, limit) =>
        read("deadLetters", (now) => keyspace.deadLetters.page(room, before, limit, now)),
      redrive: (room, id, newId, template) => op("redrive", (now) => keyspace.redrive(room, id, newId, template, now)),
      dropDeadLetters: (room) => op("dropDeadLetters", (now) => keyspace.deadLetters.drop(room, now)),
      connected,
      shards: 1
    }
    return backend
  })
}

const forget = (keyspace: Keyspace, connection: Connection): void => {
  const ofClient = keyspace.connections.get(connection.clientId)
  ofClient?.delete(connection)
  if (ofClient?.size === 0) keyspace.connections.delete(connection.clientId)
}

/** Simulate a network cut between the broker and a client (every connection of its id): its operations fail and its frames are lost. */
export const cut = (keyspace: Keyspace, clientId: string): Effect.Effect<void> => {
  return Effect.forEach(keyspace.connections.get(clientId) ?? [], (connection) =>
    Effect.suspend(() => {
      connection.cut = true
      return SubscriptionRef.set(connection.connected, false)
    }), { discard: true })
}

/** Heal a cut: the client reconnects (and resyncs, S12). */
export const restore = (keyspace: Keyspace, clientId: string): Effect.Effect<void> => {
  return Effect.forEach(keyspace.connections.get(clientId) ?? [], (connection) =>
    Effect.suspend(() => {
      connection.cut = false
      return SubscriptionRef.set(connection.connected, true)
    }), { discard: true })
}
