/**
 * The subscription buffer behind every delivery stream (and the proxy's local clients).
 */
import { describe, expect, it } from "@effect/vitest"
import { type Delivery, QueueError } from "@lockstep/core"
import { Effect, Fiber, Result, Stream } from "effect"
import { Buffer, End, toStream } from "../src/internal/deliveryStream.js"

const delivery = (n: number) => ({ id: `p:${n}`, data: n }) as unknown as Delivery.Delivery
const ejected = new QueueError.ClientEjected({ room: "r", clientId: "c", reason: "slow-consumer" })
const data = (deliveries: ReadonlyArray<Delivery.Delivery>) => deliveries.map((d) => d.data)

describe("DeliveryStream.Buffer", () => {
  it.effect("delivers in order, batched, then ends after what was buffered", () =>
    Effect.gen(function*() {
      const buffer = new Buffer()
      buffer.offer(delivery(1))
      buffer.offer(delivery(2))
      buffer.end(End)
      buffer.offer(delivery(3)) // after the end: ignored
      const got = yield* Stream.runCollect(toStream(buffer))
      expect(data(got)).toEqual([1, 2])
    }))

  it.effect("a reader interrupted while waiting loses nothing: the next run gets what came after", () =>
    Effect.gen(function*() {
      const buffer = new Buffer()
      const first = yield* Effect.forkChild(Stream.runCollect(toStream(buffer)))
      yield* Effect.yieldNow // the reader is waiting now
      yield* Fiber.interrupt(first)
      buffer.offer(delivery(1)) // wakes the interrupted reader, which ignores it
      buffer.offer(delivery(2))
      buffer.end(End)
      expect(data(yield* Stream.runCollect(toStream(buffer)))).toEqual([1, 2])
    }))

  it.effect("end(ejected) fails every run; fail(ejected) fails one run, and the buffer goes on", () =>
    Effect.gen(function*() {
      const once = new Buffer()
      once.offer(delivery(1))
      once.fail(ejected)
      once.offer(delivery(2))
      const firstRun = yield* Stream.runCollect(toStream(once)).pipe(Effect.result)
      expect(firstRun).toEqual(Result.fail(ejected))
      once.end(End)
      expect(data(yield* Stream.runCollect(toStream(once)))).toEqual([2])

      const forGood = new Buffer()
      forGood.offer(delivery(1))
      forGood.end(ejected)
      const collect = Stream.runCollect(toStream(forGood)).pipe(Effect.result)
      const [a, b] = [yield* collect, yield* collect]
      expect(a).toEqual(Result.fail(ejected))
      expect(b).toEqual(Result.fail(ejected))
    }))

  it.effect("the size counts what is buffered and not taken", () =>
    Effect.gen(function*() {
      const buffer = new Buffer()
      buffer.offer(delivery(1))
      buffer.fail(ejected)
      expect(buffer.size).toBe(2)
      // a pull: the deliveries before the failure as one batch, then the failure
      expect(data(yield* buffer.take)).toEqual([1])
      expect(buffer.size).toBe(1)
      expect(yield* Effect.flip(buffer.take)).toBe(ejected)
      expect(buffer.size).toBe(0)
    }))

  it.effect("with maxChunkSize 1, what a consumer did not take stays for the next run", () =>
    Effect.gen(function*() {
      const buffer = new Buffer()
      for (const n of [1, 2, 3]) buffer.offer(delivery(n))
      const one = Stream.runCollect(Stream.take(toStream(buffer, { maxChunkSize: 1 }), 1))
      expect(data(yield* one)).toEqual([1])
      expect(data(yield* one)).toEqual([2])
      // unbounded chunks: the rest of the batch goes with the consumer that stopped
      buffer.offer(delivery(4))
      expect(data(yield* Stream.runCollect(Stream.take(toStream(buffer), 1)))).toEqual([3])
      expect(buffer.size).toBe(0)
    }))

  it.effect("readers interrupted on an idle buffer do not pile up, and take nothing", () =>
    Effect.gen(function*() {
      const buffer = new Buffer()
      for (let i = 0; i < 200; i++) {
        const reader = yield* Effect.forkChild(Stream.runCollect(toStream(buffer, { maxChunkSize: 1 })))
        yield* Effect.yieldNow
        yield* Fiber.interrupt(reader)
      }
      expect((Reflect.get(buffer, "waiters") as ReadonlyArray<unknown>).length).toBeLessThanOrEqual(32)
      buffer.offer(delivery(1))
      buffer.end(End)
      expect(data(yield* Stream.runCollect(toStream(buffer)))).toEqual([1])
    }))
})
