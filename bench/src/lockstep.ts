/**
 * The lockstep side of each scenario: every subscriber is its own client on its own
 * RedisConnection (as separate processes would be), the producer another one.
 */
import { type Delivery, RoomWorker, SyncFanoutQueue } from "@lockstep/core"
import { ProxyLayer } from "@lockstep/proxy"
import { ClientLayer, RedisConnection, RedisLayer, type Sharding, ShardLayer } from "@lockstep/redis"
import { Deferred, Effect, Exit, Layer, Scope, Stream } from "effect"
import type { CpuProbe } from "./cpu.js"
import type { FanOutOptions, RawResult, RoomsOptions } from "./raw.js"

export type ConnectionLayer = Layer.Layer<RedisConnection.RedisConnection, unknown>

export const standalone = (port: number, enableAutoPipelining = false): ConnectionLayer =>
  RedisLayer.layer({ host: "127.0.0.1", port, enableAutoPipelining })

const client = (
  connection: ConnectionLayer,
  sharding: Layer.Layer<Sharding.Sharding, unknown>,
  keyPrefix: string,
  clientId?: string
) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Layer.merge(connection, sharding))
    return yield* ClientLayer.make({ keyPrefix, clientTimeout: "30 seconds", ...(clientId ? { clientId } : {}) }).pipe(
      Effect.provide(context)
    )
  })

/**
 * rooms × subscribers sync members, perRoom queued messages each, consumed with immediate acks.
 * Each subscriber reads all its rooms through one `subscribeMany` stream (as the raw baseline
 * reads them through one message handler), or, with `streamPerRoom`, through one `subscribe`
 * stream and consumer fiber per room, or, with `worker`, through a `RoomWorker` whose handler
 * counts the delivery and succeeds (the worker acks). With `durable`, the subscribers are durable
 * members (a `clientId` each, S21: every script call of theirs checks the claim).
 */
export const lockstepRooms = (
  connection: ConnectionLayer,
  options: RoomsOptions & {
    readonly sharding?: Layer.Layer<Sharding.Sharding, unknown>
    readonly streamPerRoom?: boolean
    readonly durable?: boolean
    /** each subscriber consumes with `RoomWorker.make(rooms, handler)` instead of a `Stream` */
    readonly worker?: boolean
  }
): Effect.Effect<RawResult, unknown> =>
  Effect.scoped(Effect.gen(function*() {
    const sharding = options.sharding ?? ShardLayer.single
    const rooms = Array.from({ length: options.rooms }, (_, i) => `room${i}`)
    const producer = yield* client(connection, sharding, options.tag)
    const subscribers: Array<SyncFanoutQueue.SyncFanoutQueue["Service"]> = []
    for (let i = 0; i < options.subscribers; i++) {
      const id = options.durable === true ? `${options.tag}-s${i}` : undefined
      subscribers.push(yield* client(connection, sharding, options.tag, id))
    }
    const total = options.rooms * options.perRoom * options.subscribers
    let received = 0
    const done = yield* Deferred.make<void>()
    const cycles: Array<number> = []
    let last = 0
    // the first message of each room is released to members at once; hold it back with a gate
    // member until everything is queued, so both sides start from a full queue
    const gate = yield* client(connection, sharding, options.tag)
    const gateScope = yield* Scope.make()
    yield* Effect.forEach(rooms, (room) => gate.subscribe(room), { discard: true }).pipe(Scope.provide(gateScope))
    for (const [index, sub] of subscribers.entries()) {
      /** counts a delivery (message 0 is the gate's, not counted) */
      const count = (d: Delivery.Delivery) => {
        if ((d.data as { readonly n: number }).n === 0) return
        if (index === 0 && options.rooms === 1) {
          const now = performance.now()
          if ((d.data as { readonly n: number }).n >= 2) cycles.push(now - last)
          last = now
        }
        if (++received === total) Deferred.doneUnsafe(done, Effect.void)
      }
      const consume = (stream: Stream.Stream<Delivery.Delivery, unknown>) =>
        stream.pipe(
          Stream.runForEach((d) => {
            count(d)
            return d.ack
          }),
          Effect.forkScoped
        )
      if (options.worker === true) {
        // the worker acks each delivery once its handler succeeded
        yield* RoomWorker.make(rooms, (d) => {
          count(d)
          return Effect.void
        }).pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, sub))
      } else if (options.streamPerRoom === true) {
        for (const room of rooms) yield* consume(yield* sub.subscribe(room))
      } else {
        yield* consume(yield* sub.subscribeMany(rooms))
      }
    }
    yield* Effect.forEach(rooms, (room) =>
      Effect.forEach(
        Array.from({ length: options.perRoom + 1 }, (_, k) => k),
        (k) => producer.send(room, { n: k }),
        { discard: true }
      ), { concurrency: 8, discard: true })
    // the gate holds message 0 of each room until everything is queued
    yield* Effect.promise(options.probe.start)
    const start = performance.now()
    yield* Scope.close(gateScope, Exit.void) // the gate leaves: message 1 of every room is released (S6)
    yield* Deferred.await(done)
    const elapsedMs = performance.now() - start
    yield* Effect.promise(options.probe.stop)
    return { elapsedMs, cycles }
  }))

/** out-of-band fan-out of `count` messages to `subscribers` async subscribers. */
export const lockstepOutOfBand = (
  connection: ConnectionLayer,
  options: FanOutOptions
): Effect.Effect<RawResult, unknown> =>
  Effect.scoped(Effect.gen(function*() {
    const producer = yield* client(connection, ShardLayer.single, options.tag)
    const total = options.count * options.subscribers
    let received = 0
    const done = yield* Deferred.make<void>()
    for (let i = 0; i < options.subscribers; i++) {
      const sub = yield* client(connection, ShardLayer.single, options.tag)
      const stream = yield* sub.subscribe("oob", { mode: "async" })
      yield* stream.pipe(
        Stream.runForEach(() => Effect.sync(() => ++received === total && Deferred.doneUnsafe(done, Effect.void))),
        Effect.forkScoped
      )
    }
    yield* Effect.promise(options.probe.start)
    const start = performance.now()
    // `concurrency` producer fibers taking the next number in turn, as the raw baseline's workers do
    let next = 0
    const worker = Effect.whileLoop({
      while: () => next < options.count,
      body: () => producer.sendOutOfBand("oob", { n: next++ }),
      step: () => {}
    })
    yield* Effect.all(Array.from({ length: options.concurrency }, () => worker), {
      concurrency: "unbounded",
      discard: true
    })
    yield* Deferred.await(done)
    const elapsedMs = performance.now() - start
    yield* Effect.promise(options.probe.stop)
    return { elapsedMs, cycles: [] }
  }))

/**
 * B6 (proxy): one upstream sync client with a RoomProxy serving `locals` local clients in one
 * room, each acking at once; a direct sync subscriber alongside, so the room waits for both.
 */
export const lockstepProxy = (
  connection: ConnectionLayer,
  options: { readonly locals: number; readonly count: number; readonly tag: string; readonly probe: CpuProbe }
): Effect.Effect<RawResult, unknown> =>
  Effect.scoped(Effect.gen(function*() {
    const producer = yield* client(connection, ShardLayer.single, options.tag)
    const upstream = yield* client(connection, ShardLayer.single, options.tag)
    const proxy = yield* ProxyLayer.make().pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, upstream))
    const total = options.count * options.locals
    let received = 0
    const done = yield* Deferred.make<void>()
    const cycles: Array<number> = []
    let last = 0
    for (let i = 0; i < options.locals; i++) {
      const local = yield* proxy.addClient
      yield* local.join("proxied")
      yield* local.deliveries.pipe(
        Stream.runForEach((d) => {
          if (i === 0) {
            const now = performance.now()
            if (last > 0) cycles.push(now - last)
            last = now
          }
          if (++received === total) Deferred.doneUnsafe(done, Effect.void)
          return d.ack
        }),
        Effect.forkScoped
      )
    }
    yield* Effect.promise(options.probe.start)
    const start = performance.now()
    yield* Effect.forEach(
      Array.from({ length: options.count }, (_, k) => k),
      (k) => producer.send("proxied", { n: k }),
      { discard: true }
    )
    yield* Deferred.await(done)
    const elapsedMs = performance.now() - start
    yield* Effect.promise(options.probe.stop)
    return { elapsedMs, cycles }
  }))
