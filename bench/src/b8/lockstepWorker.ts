/**
 * B8's lockstep processes: each subscriber process is one client (its own connections), a sync
 * member of the room through one `subscribe` stream, noting the time of each delivery as its
 * consumer takes it and acking it there; the producer process is one client whose paced sends
 * each call `send` (not waiting for the one before). Effect only where lockstep's API is used;
 * the pacing, the receipts and the process plumbing are `protocol.ts`'s, shared with the raw loop.
 */
import { type Delivery, SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer } from "@lockstep/redis"
import { Context, Effect, Exit, Layer, Scope, Stream } from "effect"
import type { Report, Worker, WorkerSpec } from "./protocol.js"
import { now, producer as pacedProducer, receipts, roomName } from "./protocol.js"

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
    const received = receipts(spec, report)
    const stream = yield* queue.subscribe(roomName(spec.tag, 0)).pipe(Scope.provide(scope))
    yield* Effect.forkIn(
      Stream.runForEach(stream, (d: Delivery.Delivery) => {
        received.receive(now(), (d.data as { readonly n: number }).n)
        return d.ack
      }),
      scope
    )
    const worker: Worker = {
      warmup: async () => {},
      go: () => received.start(),
      close: () => Effect.runPromise(Scope.close(scope, Exit.void))
    }
    return worker
  }))

export const producer = (spec: WorkerSpec): Promise<Worker> =>
  Effect.runPromise(Effect.gen(function*() {
    const scope = yield* Scope.make()
    const queue = yield* client(spec, scope)
    const run = Effect.runPromiseWith(yield* Effect.context<never>())
    const room = roomName(spec.tag, 0)
    return pacedProducer(
      spec,
      (k) => run(queue.send(room, { n: k })),
      () => Effect.runPromise(Scope.close(scope, Exit.void))
    )
  }))
