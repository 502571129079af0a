/**
 * A consumer that stops pulling its stream while out-of-band messages flood in. A subscription
 * buffers at most `subscriberBuffer` deliveries; one more and the subscription is ejected with
 * reason "slow-consumer" and leaves the room (packages/core README, "Slow consumers").
 */
import { describe, expect, layer } from "@effect/vitest"
import { type Delivery, QueueError } from "@lockstep/core"
import { RedisTestServer } from "@lockstep/redis/testing"
import { Cause, Deferred, Effect, Exit, Fiber, Option, Stream } from "effect"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { connect, eventually, freshPrefix, makeClient, subscribe } from "../utils/redisProbe.js"

v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void

const heapAfterGc = Effect.sync(() => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
})

const quiet = { clientTimeout: "60 seconds" } as const

describe("faults: slow consumers", () => {
  layer(RedisTestServer.layer(), { excludeTestServices: true })((it) => {
    it.effect(
      "a sync subscriber that stops pulling is ejected as slow-consumer once its buffer is full; " +
        "the room moves on for the others and memory stays bounded",
      () =>
        Effect.gen(function*() {
          const { port } = yield* RedisTestServer.RedisTestServer
          const prefix = freshPrefix("slow")
          const buffer = 16
          const slow = yield* makeClient(yield* connect(port, "slow"), {
            keyPrefix: prefix,
            ...quiet,
            subscriberBuffer: buffer
          })
          const fast = yield* makeClient(yield* connect(port, "fast"), { keyPrefix: prefix, ...quiet })
          const producer = yield* makeClient(yield* connect(port, "producer"), { keyPrefix: prefix, ...quiet })
          const room = "room"

          // the slow consumer takes the first delivery and then blocks in its handler: the stream
          // is not pulled any more, so deliveries pile up in the subscription's buffer
          const gate = yield* Deferred.make<void>()
          const first = yield* Deferred.make<Delivery.Delivery>()
          let handled = 0
          const slowStream = yield* slow.subscribe(room)
          const slowFiber = yield* slowStream.pipe(
            Stream.runForEach((d) =>
              Effect.gen(function*() {
                handled++
                if (handled === 1) {
                  yield* Deferred.succeed(first, d)
                  yield* Deferred.await(gate)
                }
              })
            ),
            Effect.exit,
            Effect.forkScoped
          )
          const f = yield* subscribe(fast, room)

          const m1 = yield* producer.send(room, "m1")
          const m2 = yield* producer.send(room, "m2")
          expect((yield* Deferred.await(first)).id).toBe(m1)
          const f1 = yield* f.next()
          expect(f1.id).toBe(m1)
          yield* f1.ack // the slow one never acks m1: the room waits for it

          const heapBefore = yield* heapAfterGc
          const flood = 2000
          const payload = "x".repeat(10_000) // 20 MB in total: retained, it would show
          for (let i = 0; i < flood; i++) yield* producer.sendOutOfBand(room, { i, payload })

          // the fast subscriber gets every out-of-band message in order, and m2 once the slow one left
          const oob: Array<number> = []
          let d2: Delivery.Delivery | undefined
          while (oob.length < flood || d2 === undefined) {
            const d = yield* f.next("10 seconds")
            if (d.kind === "out-of-band") oob.push((d.data as { i: number }).i)
            else if (d.id === m2) d2 = d
            else expect.fail(`unexpected delivery ${d.id}`)
          }
          expect(oob).toEqual(Array.from({ length: flood }, (_, i) => i))
          yield* eventually(
            producer.roomState(room).pipe(Effect.orDie),
            (s) => s.members.length === 1,
            "the slow subscriber to leave the room"
          )
          expect(yield* producer.roomState(room)).toMatchObject({
            members: [fast.clientId],
            inFlight: Option.some({ id: m2 })
          })

          // bounded: with the handler still blocked, the buffer holds at most `buffer` deliveries
          // (160 kB of payload), not the 20 MB that went by
          const growth = (yield* heapAfterGc) - heapBefore
          yield* Effect.log(`heap growth after the flood: ${(growth / 1e6).toFixed(1)} MB`)
          expect(growth).toBeLessThan(8e6)

          // released, the slow handler sees exactly what was buffered, then the ejection
          yield* Deferred.succeed(gate, undefined)
          const exit = yield* Fiber.join(slowFiber)
          if (Exit.isSuccess(exit)) return expect.fail("expected the slow stream to fail with ClientEjected")
          const error = Cause.findErrorOption(exit.cause)
          expect(Option.getOrUndefined(error)).toBeInstanceOf(QueueError.ClientEjected)
          expect(Option.getOrUndefined(error)).toMatchObject({ room, clientId: slow.clientId, reason: "slow-consumer" })
          expect(handled).toBe(1 + buffer)
          expect((yield* slow.metrics()).subscribedRooms).toBe(0)

          // the room is not stalled: lock-step goes on for the fast subscriber
          yield* d2.ack
          const m3 = yield* producer.send(room, "m3")
          expect((yield* f.next()).id).toBe(m3)
        }),
      60_000
    )
  })
})
