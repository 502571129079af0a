/**
 * The machinery of the room proxy.
 *
 * Concurrency: every room has a `Semaphore` of one permit. Everything that reads or changes a
 * room — opening its upstream subscription, joins, leaves, local acks, processing an upstream
 * delivery or ejection — runs holding that permit, in an uninterruptible section, so a decision
 * ("this was the last share of message m: ack it upstream") and its effect happen exactly once.
 * A pending message leaves `Room.pending` only under the permit, and only the fiber that removed
 * it acks it upstream: that is what makes the upstream ack happen exactly once.
 *
 * One consumer fiber per open room (a `FiberMap` keyed by room) pulls the upstream stream.
 */
import { Backend, type Delivery, QueueError, SyncFanoutQueue } from "@lockstep/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberMap from "effect/FiberMap"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ProxyClient, RoomProxy } from "../RoomProxy.js"
import {
  ackRetry,
  drainTimeout,
  fail,
  type LocalClient,
  newRoom,
  offer,
  removeMember,
  type ResolvedProxyOptions,
  type Room
} from "./proxyState.js"

/** @internal */
export const make = (
  options: ResolvedProxyOptions
): Effect.Effect<RoomProxy["Service"], never, SyncFanoutQueue.SyncFanoutQueue | Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* SyncFanoutQueue.SyncFanoutQueue
    const proxyScope = yield* Effect.scope
    const rooms = new Map<string, Room>()
    const clients = new Set<LocalClient>()
    let clientCount = 0
    let shutdown = false

    // Runs last (finalizers run in reverse): after the consumers were interrupted and the upstream
    // subscriptions closed, end every local stream and forget the rooms.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        shutdown = true
        for (const room of rooms.values()) {
          room.status = "closed"
          room.members.clear()
          room.pending.clear()
        }
        rooms.clear()
        for (const client of clients) {
          client.closed = true
          client.rooms.clear()
          client.queue.end()
        }
        clients.clear()
      })
    )

    const consumers = yield* FiberMap.make<string>()

    const locked = <A, E>(room: Room, body: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      room.lock.withPermits(1)(Effect.uninterruptible(body))

    const ackUpstream = (
      room: string,
      acks: ReadonlyArray<Effect.Effect<void, QueueError.QueueError>>
    ): Effect.Effect<void> =>
      shutdown || acks.length === 0 ? Effect.void : Effect.forEach(
        acks,
        (ack) =>
          ack.pipe(
            Effect.retry(ackRetry),
            Effect.catch((error) => Effect.logWarning("lockstep proxy: upstream ack failed", error)),
            Effect.annotateLogs({ room })
          ),
        { discard: true }
      )

    /** Mark the room closed and close its upstream subscription (the upstream leave, S6). Under the permit. */
    const closeRoom = (room: Room): Effect.Effect<void> =>
      Effect.suspend(() => {
        room.status = "closed"
        if (rooms.get(room.name) === room) rooms.delete(room.name)
        const scope = room.scope
        room.scope = undefined
        return scope === undefined ? Effect.void : Scope.close(scope, Exit.void)
      })

    // one per local delivery: built cheaply (no stack captured), a span only under a real tracer
    const ackLocal = (client: LocalClient, name: string, id: string): Effect.Effect<void> =>
      Backend.hotSpan(
        "RoomProxy.ack",
        { room: name, id, client: client.id },
        Effect.suspend(() => {
          const room = rooms.get(name)
          if (room === undefined || !room.pending.has(id)) return Effect.void // stale, duplicate or foreign (S4)
          return locked(
            room,
            Effect.suspend(() => {
              const pending = room.pending.get(id)
              if (pending === undefined || !pending.waiting.delete(client) || pending.waiting.size > 0) {
                return Effect.void
              }
              room.pending.delete(id)
              room.lastAcked = id
              return ackUpstream(name, [pending.ack])
            })
          )
        })
      )

    /** One upstream delivery: fan it out to the room's members and record who must ack it (S3, S9). */
    const onDelivery = (room: Room, delivery: Delivery.Delivery): Effect.Effect<void> =>
      locked(
        room,
        Effect.suspend(() => {
          const queued = delivery.kind === "queued"
          if (room.status !== "open") {
            // arrived after the last local client left: nobody local holds it
            return queued ? ackUpstream(room.name, [delivery.ack]) : Effect.void
          }
          if (queued && room.pending.has(delivery.id)) return Effect.void // a redelivery of one we hold (S12)
          if (queued && room.lastAcked === delivery.id) return ackUpstream(room.name, [delivery.ack]) // our ack was lost
          const waiting = new Set<LocalClient>()
          const slow: Array<LocalClient> = []
          for (const client of room.members) {
            if (client.closed) continue // leaving: its leave is waiting for this permit
            const local: Delivery.Delivery = queued
              ? { ...delivery, ack: ackLocal(client, room.name, delivery.id) }
              : delivery
            if (offer(client, local, options.bufferSize)) waiting.add(client)
            else slow.push(client)
          }
          const acks: Array<Effect.Effect<void, QueueError.QueueError>> = []
          if (queued) {
            if (waiting.size > 0) {
              room.pending.set(delivery.id, { waiting, ack: delivery.ack })
            } else {
              room.lastAcked = delivery.id
              acks.push(delivery.ack)
            }
          }
          for (const client of slow) {
            acks.push(...removeMember(room, client))
            fail(
              client,
              new QueueError.ClientEjected({ room: room.name, clientId: client.id, reason: "slow-consumer" })
            )
          }
          const logSlow = slow.length === 0 ? Effect.void : Effect.logWarning(
            `lockstep proxy: ejected ${slow.length} slow local client(s) from room ${JSON.stringify(room.name)}`
          )
          const close = room.members.size === 0 ? closeRoom(room) : Effect.void
          return Effect.andThen(logSlow, Effect.andThen(close, ackUpstream(room.name, acks)))
        })
      )

    /** The upstream subscription was ejected (S10, S11): fail every member's stream and forget the room. */
    const onEjected = (room: Room, error: QueueError.ClientEjected): Effect.Effect<void> =>
      locked(
        room,
        Effect.suspend(() => {
          if (room.status !== "open") return Effect.void
          for (const client of room.members) {
            client.rooms.delete(room.name)
            fail(client, error)
          }
          room.members.clear()
          room.pending.clear() // not ours to ack any more
          return Effect.andThen(
            Effect.logWarning(`lockstep proxy: room ${JSON.stringify(room.name)} ejected upstream: ${error.reason}`),
            closeRoom(room)
          )
        })
      )

    /** The upstream stream ended while the room was open: the upstream client is shutting down. */
    const onEnded = (room: Room): Effect.Effect<void> =>
      locked(
        room,
        Effect.suspend(() => {
          if (room.status !== "open") return Effect.void
          for (const client of room.members) client.rooms.delete(room.name)
          room.members.clear()
          room.pending.clear()
          return closeRoom(room)
        })
      )

    const consume = (
      room: Room,
      deliveries: Stream.Stream<Delivery.Delivery, QueueError.ClientEjected>
    ): Effect.Effect<void> =>
      deliveries.pipe(
        Stream.runForEach((delivery) => onDelivery(room, delivery)),
        Effect.matchEffect({ onFailure: (error) => onEjected(room, error), onSuccess: () => onEnded(room) }),
        Effect.annotateLogs({ room: room.name })
      )

    /** Open the upstream subscription of a new room. Under the permit. */
    const open = (room: Room): Effect.Effect<void, QueueError.QueueError> =>
      Effect.gen(function*() {
        // a previous subscription of this room may still be draining what it received before it closed
        const previous = yield* FiberMap.get(consumers, room.name)
        if (Option.isSome(previous)) {
          yield* Effect.interruptible(Fiber.await(previous.value)).pipe(Effect.timeout(drainTimeout), Effect.ignore)
        }
        const scope = yield* Scope.fork(proxyScope, "sequential")
        const subscribed = yield* queue.subscribe(room.name).pipe(Scope.provide(scope), Effect.exit)
        if (Exit.isFailure(subscribed)) {
          yield* Scope.close(scope, subscribed)
          room.status = "closed"
          if (rooms.get(room.name) === room) rooms.delete(room.name)
          return yield* subscribed
        }
        room.scope = scope
        room.status = "open"
        yield* FiberMap.run(consumers, room.name, consume(room, subscribed.value))
      })

    const join = (client: LocalClient, name: string): Effect.Effect<void, QueueError.QueueError> =>
      Effect.gen(function*() {
        for (;;) {
          let room = rooms.get(name)
          if (room === undefined) {
            room = newRoom(name)
            rooms.set(name, room)
          }
          const current = room
          const joined = yield* locked(
            current,
            Effect.gen(function*() {
              if (current.status === "closed") return false // closed while we waited: start over
              if (current.members.has(client)) return true
              if (current.status === "new" && !client.closed && !shutdown) yield* open(current)
              if (client.closed || shutdown) {
                // removed while joining (its removal did not see this room): do not leave an empty room open
                if (current.members.size === 0) yield* closeRoom(current)
                return true
              }
              current.members.add(client)
              client.rooms.add(name)
              return true
            })
          )
          if (joined) return
        }
      }).pipe(Effect.withSpan("RoomProxy.join", { attributes: { room: name, client: client.id } }))

    const leave = (client: LocalClient, name: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const room = rooms.get(name)
        if (room === undefined) return Effect.void
        return locked(
          room,
          Effect.suspend(() => {
            if (!room.members.has(client)) return Effect.void
            const acks = removeMember(room, client)
            // leave upstream first: acking first would only release the next message into a closing room
            const close = room.members.size === 0 ? closeRoom(room) : Effect.void
            return Effect.andThen(close, ackUpstream(name, acks))
          })
        )
      }).pipe(Effect.withSpan("RoomProxy.leave", { attributes: { room: name, client: client.id } }))

    const removeClient = (client: LocalClient): Effect.Effect<void> =>
      Effect.suspend(() => {
        client.closed = true
        clients.delete(client)
        return Effect.forEach([...client.rooms], (name) => leave(client, name), {
          discard: true,
          concurrency: "unbounded"
        }).pipe(
          Effect.ensuring(Effect.sync(() => client.queue.end()))
        )
      }).pipe(Effect.withSpan("RoomProxy.removeClient", { attributes: { client: client.id } }))

    const addClient: RoomProxy["Service"]["addClient"] = Effect.gen(function*() {
      const local = Backend.makeDeliveryBuffer()
      const client: LocalClient = {
        id: `${queue.clientId}/${++clientCount}`,
        queue: local,
        rooms: new Set(),
        closed: shutdown
      }
      if (shutdown) local.end()
      else clients.add(client)
      yield* Effect.addFinalizer(() => removeClient(client))
      const proxyClient: ProxyClient = {
        id: client.id,
        join: (room) => join(client, room),
        leave: (room) => leave(client, room),
        rooms: Effect.sync((): ReadonlySet<string> => new Set(client.rooms)),
        // one delivery per chunk: a consumer that takes a few and stops leaves the rest buffered
        deliveries: Backend.deliveryStream(local, { maxChunkSize: 1 }),
        ack: (room, id) => ackLocal(client, room, id)
      }
      return proxyClient
    })

    return { addClient }
  })
