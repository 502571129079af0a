/**
 * Typed messages (S16): `TypedQueue.make(schema)` encodes on send and decodes on receive with an
 * `effect/Schema`. A value the schema cannot encode is refused before anything is sent
 * (`InvalidArgument`); a delivery that does not decode (here: sent by an untyped client) is counted
 * as invalid, acked so the room does not stall, and skipped; the typed stream never fails on it.
 *
 * Engine: `LOCKSTEP_REDIS_URL`, else a spawned `redis-server` when installed, else the in-memory
 * engine. Run: `pnpm --filter @lockstep/examples typed`.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { QueueMetrics, SyncFanoutQueue, TypedQueue } from "@lockstep/core"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Engine from "./internal/engine.js"
import { runMain } from "./internal/main.js"

const ROOM = "orders"

class Order extends Schema.Class<Order>("Order")({
  id: Schema.Number,
  item: Schema.NonEmptyString,
  quantity: Schema.Int.check(Schema.isGreaterThan(0)),
  placedAt: Schema.DateFromString // a Date in memory, an ISO string on the wire
}) {}

const main = Effect.gen(function*() {
  const engine = yield* Engine.acquire()
  yield* Console.log(`engine: ${engine.description}`)
  const keyPrefix = `lockstep-typed-${process.pid}`
  const consumer = yield* engine.client({ keyPrefix })
  const producer = yield* engine.client({ keyPrefix })

  // typed views over each client's SyncFanoutQueue
  const orders = yield* TypedQueue.make(Order).pipe(
    Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, consumer.queue)
  )
  const send = yield* TypedQueue.make(Order).pipe(
    Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, producer.queue)
  )

  const deliveries = yield* orders.subscribe(ROOM)
  yield* Console.log(`consumer subscribed to ${JSON.stringify(ROOM)} with Schema ${Order.name}`)

  yield* send.send(ROOM, new Order({ id: 1, item: "espresso", quantity: 2, placedAt: new Date() }))
  yield* Console.log("sent  order 1 (typed)")

  // an untyped client sends something that is not an Order: the typed consumer will skip it
  yield* producer.queue.send(ROOM, { id: "two", item: "", quantity: -1 })
  yield* Console.log(`sent  ${JSON.stringify({ id: "two", item: "", quantity: -1 })} (untyped, not an Order)`)

  // a value the schema cannot encode is refused before anything is sent
  // (`disableChecks` skips the constructor's own validation, as a bug elsewhere might)
  const bad = new Order({ id: 3, item: "tea", quantity: 0, placedAt: new Date() }, { disableChecks: true })
  const refused = yield* Effect.flip(send.send(ROOM, bad))
  yield* Console.log(`refused order 3 (nothing sent): ${refused._tag}\n  ${refused.message.split("\n").join("\n  ")}`)

  yield* send.send(ROOM, new Order({ id: 4, item: "croissant", quantity: 1, placedAt: new Date() }))
  yield* Console.log("sent  order 4 (typed)")

  // the typed stream yields Orders only: order 1, then order 4 (the invalid one was acked and skipped)
  yield* deliveries.pipe(
    Stream.take(2),
    Stream.runForEach((d) =>
      Effect.andThen(
        Console.log(
          `got   order ${d.data.id}: ${d.data.quantity} × ${d.data.item}, placed at ${d.data.placedAt.toISOString()} ` +
            `(decoded: ${d.data instanceof Order ? "an Order" : "?"}, placedAt ${
              d.data.placedAt instanceof Date ? "a Date" : "?"
            }) → ack`
        ),
        d.ack
      )
    )
  )

  const metrics = yield* consumer.queue.metrics()
  const invalidTotal = yield* Metric.value(QueueMetrics.invalidTotal)
  yield* Console.log(`consumer metrics: received ${metrics.received}, invalid ${metrics.invalid}`)
  yield* Console.log(`Effect metric lockstep_messages_invalid_total = ${invalidTotal.count}`)
  const state = yield* producer.queue.roomState(ROOM)
  yield* Console.log(`room ${JSON.stringify(ROOM)}: backlog ${state.backlog}, the undecodable message did not stall it`)
}).pipe(Effect.scoped, Effect.provide(NodeServices.layer))

runMain(main)
