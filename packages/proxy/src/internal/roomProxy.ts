/**
 * The machinery of the room proxy: the `RoomProxy` service over one upstream `SyncFanoutQueue`
 * client, its rooms (`room.ts`) and its local clients (`localClient.ts`).
 *
 * Concurrency: every room has a `Semaphore` of one permit. Everything that reads or changes a
 * room — opening its upstream subscription, joins, leaves, local acks, processing an upstream
 * delivery or ejection — runs holding that permit, in an uninterruptible section, so a decision
 * ("this was the last share of message m: ack it upstream") and its effect happen exactly once.
 * A pending message leaves its room only under the permit, and only the fiber that removed it
 * acks it upstream: that is what makes the upstream ack happen exactly once.
 *
 * One consumer fiber per open room (a `FiberMap` keyed by room) pulls the upstream stream.
 */
import { Backend, type Delivery, type QueueError, SyncFanoutQueue } from "@lockstep/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberMap from "effect/FiberMap"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ProxyClient, RoomProxy } from "../RoomProxy.js"
import { LocalClient } from "./localClient.js"
import { Room, type UpstreamAck } from "./room.js"

/** Validated options of a proxy. */
export interface ProxySettings {
  /** deliveries buffered per local client before it counts as a slow consumer */
  readonly bufferSize: number
}

/**
 * Upstream ack failures are retried briefly; afterwards the engine's timeouts take over (S10,
 * S11). (The acks of lockstep's engines do not fail: they are handed over and repeated by the
 * client itself; another `SyncFanoutQueue` implementation's may.)
 */
const ackRetry = Schedule.max([Schedule.exponential("100 millis"), Schedule.recurs(4)])

/** How long a reopening room waits for the previous subscription's consumer to drain. */
const drainTimeout = "5 seconds"

/** Build the proxy in the current scope; closing the scope shuts it down (`Proxy.shutdown`). */
export const make = (
  settings: ProxySettings
): Effect.Effect<RoomProxy["Service"], never, SyncFanoutQueue.SyncFanoutQueue | Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* SyncFanoutQueue.SyncFanoutQueue
    const scope = yield* Effect.scope
    const proxy = new Proxy(queue, scope, yield* FiberMap.make<string>(), settings.bufferSize)
    // finalizers run in reverse: the upstream subscriptions (scopes forked from this one later) close first
    yield* Effect.addFinalizer(() => proxy.shutdown)
    return { addClient: proxy.addClient }
  })

class Proxy {
  /** the rooms by name: a room is here from its first join until it closes, and never closed */
  private readonly rooms = new Map<string, Room>()
  /** the local clients not removed yet, none of them closed; empty after the shutdown */
  private readonly clients = new Set<LocalClient>()
  /** local clients made so far: numbers their ids */
  private made = 0
  /** the proxy's scope is closed: no room opens, no client joins, nothing is acked upstream */
  private closed = false

  constructor(
    private readonly queue: SyncFanoutQueue.SyncFanoutQueue["Service"],
    /** the proxy's scope: each upstream subscription gets a scope forked from it */
    private readonly scope: Scope.Scope,
    /** the consumer fiber of each open room (and of a closed one still draining), by room */
    private readonly consumers: FiberMap.FiberMap<string>,
    private readonly bufferSize: number
  ) {}

  /**
   * The proxy's scope closed, its upstream subscriptions first: stop the consumers, then end every
   * local stream and forget the rooms.
   */
  readonly shutdown: Effect.Effect<void> = Effect.andThen(
    Effect.suspend(() => FiberMap.clear(this.consumers)),
    Effect.sync(() => {
      this.closed = true
      for (const room of this.rooms.values()) {
        room.status = "closed"
        room.forget()
      }
      this.rooms.clear()
      for (const client of this.clients) {
        client.close()
        client.rooms.clear()
        client.end()
      }
      this.clients.clear()
    })
  )

  /** A new local client, removed when the Scope closes. */
  readonly addClient: RoomProxy["Service"]["addClient"] = Effect.gen({ self: this }, function*() {
    const client = new LocalClient(`${this.queue.clientId}/${++this.made}`, this.bufferSize)
    if (this.closed) {
      client.close()
      client.end()
    } else {
      this.clients.add(client)
    }
    yield* Effect.addFinalizer(() => this.removeClient(client))
    const proxyClient: ProxyClient = {
      id: client.id,
      join: (room) => this.join(client, room),
      leave: (room) => this.leave(client, room),
      rooms: Effect.sync((): ReadonlySet<string> => new Set(client.rooms)),
      deliveries: client.deliveries(),
      ack: (room, id) => this.ackLocal(client, room, id),
      reject: (room, id, reason) => this.rejectLocal(client, room, id)(reason)
    }
    return proxyClient
  })

  /** The upstream acks, each retried briefly, then logged (none once the proxy is closed). */
  private ackUpstream(room: string, acks: ReadonlyArray<UpstreamAck>): Effect.Effect<void> {
    return this.closed || acks.length === 0 ? Effect.void : Effect.forEach(
      acks,
      (ack) =>
        ack.pipe(
          Effect.retry(ackRetry),
          Effect.catch((error) => Effect.logWarning("lockstep proxy: upstream ack failed", error)),
          Effect.annotateLogs({ room })
        ),
      { discard: true }
    )
  }

  /** Close the room and its upstream subscription (the upstream leave, S6). Under the permit. */
  private closeRoom(room: Room): Effect.Effect<void> {
    return Effect.suspend(() => {
      room.status = "closed"
      if (this.rooms.get(room.name) === room) this.rooms.delete(room.name)
      const scope = room.scope
      room.scope = undefined
      return scope === undefined ? Effect.void : Scope.close(scope, Exit.void)
    })
  }

  /**
   * The `ack` of one local delivery (made once per local delivery, so a field: no closure per
   * delivery, no stack captured, a span only under a real tracer).
   */
  private readonly ackLocal = (client: LocalClient, name: string, id: string): Effect.Effect<void> =>
    Backend.hotSpan(
      "RoomProxy.ack",
      { room: name, id, client: client.id },
      Effect.suspend(() => {
        const room = this.rooms.get(name)
        if (room === undefined || !room.holds(id)) return Effect.void // stale, duplicate or foreign (S4)
        return room.locked(Effect.suspend(() => {
          const ack = room.ack(client, id)
          return ack === undefined ? Effect.void : this.ackUpstream(name, [ack])
        }))
      })
    )

  /**
   * The `reject` of one local delivery (S28): settles the client's share; the last share settles
   * the message upstream, as a rejection when any local member rejected it.
   */
  private readonly rejectLocal =
    (client: LocalClient, name: string, id: string) =>
    (reason?: string): Effect.Effect<void, QueueError.InvalidArgument> =>
      Effect.suspend(() => {
        // refused here as delivery.reject refuses it: upstream it would fail once every share is
        // settled, and the room would wait for a settlement that never comes
        const invalid = reason === undefined ? undefined : Backend.rejectReasonError(reason)
        if (invalid !== undefined) return Effect.fail(invalid)
        const room = this.rooms.get(name)
        if (room === undefined || !room.holds(id)) return Effect.void // stale, duplicate or foreign (S4)
        return room.locked(Effect.suspend(() => {
          const settle = room.reject(client, id, reason)
          return settle === undefined ? Effect.void : this.ackUpstream(name, [settle])
        }))
      }).pipe(Effect.withSpan("RoomProxy.reject", { attributes: { room: name, id, client: client.id } }))

  /** One upstream delivery: fan it out to the room's members and record who must ack it (S3, S9). */
  private onDelivery(room: Room, delivery: Delivery.Delivery): Effect.Effect<void> {
    return room.locked(Effect.suspend(() => {
      const { acks, ejected } = room.deliver(delivery, this.ackLocal, this.rejectLocal)
      const logSlow = ejected === 0 ? Effect.void : Effect.logWarning(
        `lockstep proxy: ejected ${ejected} slow local client(s) from room ${JSON.stringify(room.name)}`
      )
      const close = room.status === "open" && room.members.size === 0 ? this.closeRoom(room) : Effect.void
      return Effect.andThen(logSlow, Effect.andThen(close, this.ackUpstream(room.name, acks)))
    }))
  }

  /** The upstream subscription was ejected (S10, S11): fail every member's stream and forget the room. */
  private onEjected(room: Room, error: QueueError.ClientEjected): Effect.Effect<void> {
    return room.locked(Effect.suspend(() => {
      if (room.status !== "open") return Effect.void
      room.forget(error)
      return Effect.andThen(
        Effect.logWarning(`lockstep proxy: room ${JSON.stringify(room.name)} ejected upstream: ${error.reason}`),
        this.closeRoom(room)
      )
    }))
  }

  /** The upstream stream ended while the room was open: the upstream client is shutting down. */
  private onEnded(room: Room): Effect.Effect<void> {
    return room.locked(Effect.suspend(() => {
      if (room.status !== "open") return Effect.void
      room.forget()
      return this.closeRoom(room)
    }))
  }

  private consume(
    room: Room,
    deliveries: Stream.Stream<Delivery.Delivery, QueueError.ClientEjected>
  ): Effect.Effect<void> {
    return deliveries.pipe(
      Stream.runForEach((delivery) => this.onDelivery(room, delivery)),
      Effect.matchEffect({ onFailure: (error) => this.onEjected(room, error), onSuccess: () => this.onEnded(room) }),
      Effect.annotateLogs({ room: room.name })
    )
  }

  /** Open the upstream subscription of a new room. Under the permit. */
  private open(room: Room): Effect.Effect<void, QueueError.QueueError> {
    return Effect.gen({ self: this }, function*() {
      // a previous subscription of this room may still be draining what it received before it closed
      const previous = yield* FiberMap.get(this.consumers, room.name)
      if (Option.isSome(previous)) {
        yield* Effect.interruptible(Fiber.await(previous.value)).pipe(Effect.timeout(drainTimeout), Effect.ignore)
      }
      const scope = yield* Scope.fork(this.scope, "sequential")
      const subscribed = yield* this.queue.subscribe(room.name).pipe(Scope.provide(scope), Effect.exit)
      if (Exit.isFailure(subscribed)) {
        yield* Scope.close(scope, subscribed)
        room.status = "closed"
        if (this.rooms.get(room.name) === room) this.rooms.delete(room.name)
        return yield* subscribed
      }
      room.scope = scope
      room.status = "open"
      yield* FiberMap.run(this.consumers, room.name, this.consume(room, subscribed.value))
    })
  }

  private join(client: LocalClient, name: string): Effect.Effect<void, QueueError.QueueError> {
    return Effect.gen({ self: this }, function*() {
      for (;;) {
        let room = this.rooms.get(name)
        if (room === undefined) {
          room = new Room(name)
          this.rooms.set(name, room)
        }
        const current = room
        const joined = yield* current.locked(Effect.gen({ self: this }, function*() {
          if (current.status === "closed") return false // closed while we waited: start over
          if (current.members.has(client)) return true
          if (current.status === "new" && !client.closed && !this.closed) yield* this.open(current)
          if (client.closed || this.closed) {
            // removed while joining (its removal did not see this room): do not leave an empty room open
            if (current.members.size === 0) yield* this.closeRoom(current)
            return true
          }
          current.add(client)
          return true
        }))
        if (joined) return
      }
    }).pipe(Effect.withSpan("RoomProxy.join", { attributes: { room: name, client: client.id } }))
  }

  private leave(client: LocalClient, name: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      const room = this.rooms.get(name)
      if (room === undefined) return Effect.void
      return room.locked(Effect.suspend(() => {
        if (!room.members.has(client)) return Effect.void
        const acks = room.remove(client)
        // leave upstream first: acking first would only release the next message into a closing room
        const close = room.members.size === 0 ? this.closeRoom(room) : Effect.void
        return Effect.andThen(close, this.ackUpstream(name, acks))
      }))
    }).pipe(Effect.withSpan("RoomProxy.leave", { attributes: { room: name, client: client.id } }))
  }

  private removeClient(client: LocalClient): Effect.Effect<void> {
    return Effect.suspend(() => {
      client.close()
      this.clients.delete(client)
      return Effect.forEach([...client.rooms], (name) => this.leave(client, name), {
        discard: true,
        concurrency: "unbounded"
      }).pipe(
        Effect.ensuring(Effect.sync(() => client.end()))
      )
    }).pipe(Effect.withSpan("RoomProxy.removeClient", { attributes: { client: client.id } }))
  }
}
