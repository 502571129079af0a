/**
 * The basics on a standalone Redis: send with priorities, subscribe, ack, an out-of-band message,
 * peek and roomState.
 *
 * Redis: `LOCKSTEP_REDIS_URL` if set, else a `redis-server` spawned on a free loopback port (it is
 * stopped on exit). Run: `pnpm --filter @lockstep/examples standalone`.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import type { Delivery } from "@lockstep/core"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Engine from "./internal/engine.js"
import { ms } from "./internal/format.js"
import { runMain } from "./internal/main.js"

const ROOM = "orders"

const show = (d: Delivery.Delivery) =>
  `${d.kind === "queued" ? `p${d.priority}` : "oob"} ${JSON.stringify(d.data)} (id ${d.id}, after ${
    ms(Duration.toMillis(d.latency))
  })`

const main = Effect.gen(function*() {
  const engine = yield* Engine.acquire({ requireRedis: true })
  yield* Console.log(`engine: ${engine.description}`)
  const keyPrefix = `lockstep-standalone-${process.pid}`

  // two separate clients, as two processes would be: each has its own id, keepalive and connections
  const consumer = yield* engine.client({ keyPrefix })
  const producer = yield* engine.client({ keyPrefix })

  // the subscription is live (channel subscribed, membership registered) once this succeeds
  const deliveries = yield* consumer.queue.subscribe(ROOM, { mode: "sync" })
  yield* Console.log(`consumer ${consumer.queue.clientId} joined ${JSON.stringify(ROOM)} as a sync member`)

  // the first message is released at once (nothing is in flight); the rest queue up behind it,
  // lower priority number first, FIFO among equals (S2)
  const orders = [
    { order: 1, priority: 5 },
    { order: 2, priority: 1 },
    { order: 3, priority: 1 },
    { order: 4, priority: 0 },
    { order: 5, priority: 9 }
  ]
  for (const { order, priority } of orders) {
    const id = yield* producer.queue.send(ROOM, { order }, { priority })
    yield* Console.log(`sent  order ${order} with priority ${priority} → ${id}`)
  }

  const queued = yield* producer.queue.peek(ROOM)
  yield* Console.log(
    `peek  ${queued.length} queued (not yet released), in delivery order: ${
      queued.map((m) => `order ${(m.data as { order: number }).order} (p${m.priority})`).join(", ")
    }`
  )
  const before = yield* producer.queue.roomState(ROOM)
  yield* Console.log(
    `state backlog ${before.backlog}, sync members ${before.members.length}, in flight ${
      Option.match(before.inFlight, { onNone: () => "nothing", onSome: (f) => f.id })
    } (waiting for the consumer's ack, S3)`
  )

  // out-of-band: delivered at once to every subscriber, never queued, no ack (S9)
  yield* producer.queue.sendOutOfBand(ROOM, { notice: "prices change at noon" })
  yield* Console.log("sent  an out-of-band notice")

  // consume: each ack releases the next queued message (S3)
  yield* deliveries.pipe(
    Stream.take(orders.length + 1),
    Stream.runForEach((d) =>
      Effect.andThen(
        Console.log(`got   ${show(d)}${d.kind === "queued" ? " → ack" : ""}`),
        d.ack
      )
    )
  )

  const after = yield* producer.queue.roomState(ROOM)
  const metrics = yield* consumer.queue.metrics()
  yield* Console.log(
    `state backlog ${after.backlog}, in flight ${Option.isSome(after.inFlight) ? after.inFlight.value.id : "nothing"}`
  )
  yield* Console.log(
    `consumer metrics: received ${metrics.received}, invalid ${metrics.invalid}, latency p50 ${
      ms(Duration.toMillis(metrics.latency.p50))
    } p99 ${ms(Duration.toMillis(metrics.latency.p99))}`
  )
  yield* Console.log("done: closing the clients leaves the room (S20)")
}).pipe(Effect.scoped, Effect.provide(NodeServices.layer))

runMain(main)
