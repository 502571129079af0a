/**
 * Fencing of a durable client (S21): once a newer process claimed its id, every engine operation
 * fails with `ClientSuperseded`. `watch` wraps the engine connection so that the first such
 * failure, whichever operation meets it (a keepalive within one interval at the latest), tells
 * the client once: it then fails its streams with `ClientEjected { reason: "superseded" }`.
 * Only durable clients are wrapped: the others pay nothing for it.
 */
import * as Effect from "effect/Effect"
import type { AckFailure, BackendClient, BackendError } from "../Backend.js"

const isSuperseded = (error: BackendError): boolean => error._tag === "ClientSuperseded"

/** `backend` with `onSuperseded` called on every `ClientSuperseded` failure of any operation. */
export const watch = (backend: BackendClient, onSuperseded: () => void): BackendClient => {
  const tap = <A, R>(effect: Effect.Effect<A, BackendError, R>): Effect.Effect<A, BackendError, R> =>
    Effect.tapError(effect, (error) => isSuperseded(error) ? Effect.sync(onSuperseded) : Effect.void)
  return {
    send: (room, envelope, priority, id) => tap(backend.send(room, envelope, priority, id)),
    sendOutOfBand: (room, envelope) => tap(backend.sendOutOfBand(room, envelope)),
    listen: (room, deliver) => tap(backend.listen(room, deliver)),
    join: (room, options) => tap(backend.join(room, options)),
    leave: (room) => tap(backend.leave(room)),
    ack: (room, id, onFailure) => {
      const failed: AckFailure = (r, i, error) => {
        if (isSuperseded(error)) return onSuperseded() // never repeated: it cannot take effect any more
        onFailure(r, i, error)
      }
      backend.ack(room, id, failed)
    },
    claim: (clientTimeoutMs) => tap(backend.claim(clientTimeoutMs)),
    detach: (room, clientTimeoutMs) => tap(backend.detach(room, clientTimeoutMs)),
    memberships: tap(backend.memberships),
    keepalive: (rooms, clientTimeoutMs) => tap(backend.keepalive(rooms, clientTimeoutMs)),
    housekeep: (rooms) => tap(backend.housekeep(rooms)),
    resync: (room) => tap(backend.resync(room)),
    unregister: (rooms) => tap(backend.unregister(rooms)),
    peek: (room, offset, limit) => tap(backend.peek(room, offset, limit)),
    roomState: (room) => tap(backend.roomState(room)),
    stats: (topRooms, stalledRooms) => tap(backend.stats(topRooms, stalledRooms)),
    rooms: (from, limit) => tap(backend.rooms(from, limit)),
    reject: (room, id, attempt, reason, policy) => tap(backend.reject(room, id, attempt, reason, policy)),
    eject: (room, clientId) => tap(backend.eject(room, clientId)),
    pause: (room, paused) => tap(backend.pause(room, paused)),
    skip: (room, policy) => tap(backend.skip(room, policy)),
    purge: (room) => tap(backend.purge(room)),
    deadLetters: (room, before, limit) => tap(backend.deadLetters(room, before, limit)),
    redrive: (room, id, newId, template) => tap(backend.redrive(room, id, newId, template)),
    dropDeadLetters: (room) => tap(backend.dropDeadLetters(room)),
    connected: backend.connected,
    shards: backend.shards
  }
}
