/**
 * lockstep as separate processes: each subscriber process is one client (its own connection),
 * a sync member of every room, reading one `subscribe` stream per room (as most users write it)
 * or one `subscribeMany` stream, and acking each delivery on receipt, or consuming with a
 * `RoomWorker` whose handler succeeds at once (the worker acks); the producer process is one
 * client sending room by room, each send awaited.
 */
import { type Delivery, RoomWorker, SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer } from "@lockstep/redis"
import { Context, Deferred, Effect, Exit, Layer, Scope, Stream } from "effect"
import type { Report, WorkerSpec } from "./protocol.js"
import { deliveryCounter, now, roomName, section } from "./protocol.js"
import type { Worker } from "./rawWorker.js"

/** The client of this process, in `scope`. */
const client = (spec: WorkerSpec, scope: Scope.Closeable) =>
  Effect.map(
    Layer.buildWithScope(
      ClientLayer.standalone({ host: "127.0.0.1", port: spec.port }, {
        keyPrefix: spec.tag,
        clientTimeout: "30 seconds"
      }),
      scope
    ),
    (context) => Context.get(context, SyncFanoutQueue.SyncFanoutQueue)
  )

export const subscriber = (spec: WorkerSpec, report: (r: Report) => void): Promise<Worker> =>
  Effect.runPromise(Effect.gen(function*() {
    const scope = yield* Scope.make()
    const queue = yield* client(spec, scope)
    const rooms = Array.from({ length: spec.rooms }, (_, i) => roomName(spec.tag, i))
    const counter = deliveryCounter(spec, report)
    const finished = yield* Deferred.make<Report>()
    const onDelivery = (d: Delivery.Delivery): Effect.Effect<void, unknown> => {
      const done = counter.count()
      return done === undefined ? d.ack : Effect.andThen(d.ack, Deferred.succeed(finished, done))
    }
    const consume = (stream: Stream.Stream<Delivery.Delivery, unknown>) =>
      Effect.forkIn(Stream.runForEach(stream, onDelivery), scope)
    if (spec.mode === "worker") {
      // the worker acks each delivery once the handler succeeded
      yield* RoomWorker.make(rooms, () => {
        const done = counter.count()
        return done === undefined ? Effect.void : Deferred.succeed(finished, done)
      }).pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, queue), Scope.provide(scope))
    } else if (spec.mode === "many") {
      yield* consume(yield* queue.subscribeMany(rooms).pipe(Scope.provide(scope)))
    } else {
      for (const room of rooms) yield* consume(yield* queue.subscribe(room).pipe(Scope.provide(scope)))
    }
    const worker: Worker = {
      warmup: async () => {},
      go: () => {
        counter.start()
        return Effect.runPromise(Deferred.await(finished))
      },
      close: () => Effect.runPromise(Scope.close(scope, Exit.void))
    }
    return worker
  }))

export const producer = (spec: WorkerSpec): Promise<Worker> =>
  Effect.runPromise(Effect.gen(function*() {
    const scope = yield* Scope.make()
    const queue = yield* client(spec, scope)
    const run = Effect.runPromiseWith(yield* Effect.context<never>())
    const rooms = Array.from({ length: spec.rooms }, (_, i) => roomName(spec.tag, i))
    const sendAll = (count: number) =>
      Effect.forEach(
        rooms,
        (room) =>
          Effect.forEach(Array.from({ length: count }, (_, k) => k), (k) => queue.send(room, { n: k }), {
            discard: true
          }),
        { concurrency: "unbounded", discard: true }
      )
    const worker: Worker = {
      warmup: () => run(sendAll(spec.warmup)),
      go: () =>
        run(Effect.suspend(() => {
          const from = section()
          const at = now()
          return Effect.map(sendAll(spec.timed), (): Report => ({ t: "done", ...from.used(), at, cycles: [] }))
        })),
      close: () => Effect.runPromise(Scope.close(scope, Exit.void))
    }
    return worker
  }))
