/**
 * `TypedQueue` counts what its schema cannot decode in the metrics of the client it reads from
 * (S16), also when that client reaches it wrapped (a decorator made by spreading the service).
 */
import { describe, expect, it } from "@effect/vitest"
import { MemoryLayer, SyncFanoutQueue, TypedQueue } from "@lockstep/core"
import { Effect, Schema, Stream } from "effect"

const Item = Schema.Struct({ n: Schema.Number })

describe("TypedQueue", () => {
  it.effect("undecodable deliveries count in the client's metrics, through a wrapper of the service too", () =>
    Effect.gen(function*() {
      const broker = yield* MemoryLayer.makeBroker
      const client = MemoryLayer.make({ keyPrefix: "typed" }).pipe(
        Effect.provideService(MemoryLayer.MemoryBroker, broker),
        Effect.orDie
      )
      const [producer, consumer] = yield* Effect.all([client, client])
      const sends: Array<string> = []
      // a decorator, as an application might write one
      const wrapped: SyncFanoutQueue.SyncFanoutQueue["Service"] = {
        ...consumer,
        send: (room, data, options) =>
          Effect.andThen(Effect.sync(() => sends.push(room)), consumer.send(room, data, options))
      }
      const typed = yield* TypedQueue.make(Item).pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, wrapped))
      const deliveries = yield* typed.subscribe("r", { mode: "async" })
      yield* producer.send("r", { n: "not a number" })
      yield* producer.send("r", "not an object")
      yield* producer.send("r", { n: 1 })
      const [first] = yield* Stream.runCollect(Stream.take(deliveries, 1))
      expect(first!.data).toEqual({ n: 1 })
      expect((yield* consumer.metrics()).invalid).toBe(2)
      yield* typed.send("r", { n: 2 })
      expect(sends).toEqual(["r"]) // the wrapper is the service the typed view uses
    }))
})
