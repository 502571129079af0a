/**
 * The generic client over an engine (`Backend.makeQueue`): what it does on top of the server,
 * here the memory broker with an ack path that fails on demand while the connection stays up (a
 * timed-out or refused script call), which the cut/restore of the semantic suite cannot show.
 */
import { describe, expect, it } from "@effect/vitest"
import { Backend, type Delivery, MemoryLayer, QueueConfig, QueueError } from "@lockstep/core"
import { Deferred, Duration, Effect, Exit, Fiber, Option, Queue, Stream } from "effect"
import * as TestClock from "effect/testing/TestClock"

/** A fresh broker and a plain client on it, the producer of a test. */
const brokerAndProducer = Effect.gen(function*() {
  const broker = yield* MemoryLayer.makeBroker
  const producer = yield* MemoryLayer.make({ keyPrefix: "test" }).pipe(
    Effect.provideService(MemoryLayer.MemoryBroker, broker)
  )
  return { broker, producer }
})

/** A client on `broker` whose backend is changed by `wrap`. */
const clientWith = (
  broker: MemoryLayer.MemoryBroker["Service"],
  wrap: (backend: Backend.BackendClient) => Backend.BackendClient
) =>
  Effect.gen(function*() {
    const config = yield* QueueConfig.resolve({ keyPrefix: "test", clientTimeout: "1 minute" })
    return yield* Backend.makeQueue(
      (clientId) => Effect.map(broker.connect({ keyPrefix: config.keyPrefix, clientId }), wrap),
      config
    )
  })

/** A client on `broker` whose first `failures` ack deliveries fail in transit; counts the attempts. */
const flakyClient = (broker: MemoryLayer.MemoryBroker["Service"], failures: number) =>
  Effect.gen(function*() {
    const attempts: Array<string> = []
    const queue = yield* clientWith(broker, (backend) => ({
      ...backend,
      ack: (room, id, onFailure) => {
        attempts.push(id)
        if (attempts.length <= failures) {
          return onFailure(
            room,
            id,
            new QueueError.EngineError({ engine: "memory", operation: "ack", cause: new Error("refused") })
          )
        }
        backend.ack(room, id, onFailure)
      }
    }))
    return { queue, attempts }
  })

describe("Backend.makeQueue", () => {
  it.effect("an ack that could not be delivered is repeated, with a growing delay, until it is (S3, S4)", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* brokerAndProducer
      const { attempts, queue } = yield* flakyClient(broker, 3)
      const inbox = yield* Queue.unbounded<unknown>()
      const acked = yield* (yield* queue.subscribe("r")).pipe(
        Stream.runForEach((d) => Effect.andThen(Queue.offer(inbox, d.data), d.ack)),
        Effect.forkChild
      )
      yield* producer.send("r", "m1")
      const m2 = yield* producer.send("r", "m2")
      expect(yield* Queue.take(inbox)).toBe("m1")
      // the ack returned at once and failed in transit: m1 is still in flight
      expect(attempts).toHaveLength(1)
      const inFlight = () => Effect.map(producer.roomState("r"), (s) => Option.getOrNull(s.inFlight)?.id)
      expect(yield* inFlight()).not.toBe(m2)
      // repeated after 50, 100 and 200 ms: the fourth attempt gets through and m2 is released
      yield* TestClock.adjust(Duration.millis(49))
      expect(attempts).toHaveLength(1)
      yield* TestClock.adjust(Duration.millis(1))
      expect(attempts).toHaveLength(2)
      yield* TestClock.adjust(Duration.millis(100))
      expect(attempts).toHaveLength(3)
      expect(yield* inFlight()).not.toBe(m2)
      yield* TestClock.adjust(Duration.millis(200))
      expect(yield* Queue.take(inbox)).toBe("m2")
      // and nothing is repeated once delivered: four attempts for m1, then m2's own ack
      yield* TestClock.adjust(Duration.seconds(10))
      const m1 = attempts[0]!
      expect(attempts).toEqual([m1, m1, m1, m1, m2])
      yield* Fiber.interrupt(acked)
    }))

  it.effect("an ack never fails (typed Effect<void>): not in transit, not cut off, not after its subscription closed", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* brokerAndProducer
      const { queue } = yield* flakyClient(broker, 1)
      const inbox = yield* Queue.unbounded<Delivery.Delivery>()
      const fiber = yield* (yield* queue.subscribe("r")).pipe(
        Stream.runForEach((d) => Queue.offer(inbox, d)),
        Effect.forkChild
      )
      yield* producer.send("r", "m1")
      yield* producer.send("r", "m2")
      const d1 = yield* Queue.take(inbox)
      // the type says it: no error channel to handle (a QueueError here would not compile)
      const ack: Effect.Effect<void, never> = d1.ack
      expect(yield* Effect.exit(ack)).toEqual(Exit.void) // failed in transit: repeated, not reported
      yield* TestClock.adjust(Duration.millis(50))
      const d2 = yield* Queue.take(inbox)
      yield* broker.cut(queue.clientId)
      expect(yield* Effect.exit(d2.ack)).toEqual(Exit.void) // cut off
      yield* broker.restore(queue.clientId)
      yield* Fiber.interrupt(fiber)
      expect(yield* Effect.exit(d2.ack)).toEqual(Exit.void) // its subscription closed
    }))

  it.effect("S12: a resync answer older than the deliveries since does not deliver an old message again", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* brokerAndProducer
      // the resync's answer is read from the server when asked, and handed back only once the
      // gate opens: a reply that was on its way while newer messages arrived
      const gate = yield* Deferred.make<void>()
      const asked = yield* Deferred.make<void>()
      const queue = yield* clientWith(broker, (backend) => ({
        ...backend,
        resync: (room) =>
          Effect.flatMap(
            backend.resync(room),
            (answer) => Deferred.succeed(asked, undefined).pipe(Effect.andThen(Deferred.await(gate)), Effect.as(answer))
          )
      }))
      const seen = yield* Queue.unbounded<unknown>()
      const hold = yield* Deferred.make<void>()
      yield* (yield* queue.subscribe("r")).pipe(
        Stream.runForEach((d) =>
          Queue.offer(seen, d.data).pipe(
            Effect.andThen(d.data === "m1" ? Deferred.await(hold) : Effect.void),
            Effect.andThen(d.ack)
          )
        ),
        Effect.forkScoped
      )
      for (const m of ["m1", "m2", "m3"]) yield* producer.send("r", m)
      expect(yield* Queue.take(seen)).toBe("m1")
      // a blip while m1 is held and not acked: the client asks whether it holds a message (it
      // does: m1), and the answer is delayed
      yield* broker.cut(queue.clientId)
      yield* broker.restore(queue.clientId)
      yield* Deferred.await(asked)
      // meanwhile the consumer acks m1 and m2, and m3 arrives
      yield* Deferred.succeed(hold, undefined)
      expect(yield* Queue.take(seen)).toBe("m2")
      expect(yield* Queue.take(seen)).toBe("m3")
      // the stale answer ("you hold m1") arrives: m1 is not delivered again
      yield* Deferred.succeed(gate, undefined)
      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* Queue.clear(seen)).toHaveLength(0)
    }))

  it.effect("a subscribeMany that fails leaves at once the rooms it had joined (S6)", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* brokerAndProducer
      const queue = yield* clientWith(broker, (backend) => ({
        ...backend,
        join: (room, options) =>
          room === "r2"
            ? Effect.fail(
              new QueueError.EngineError({ engine: "memory", operation: "join", cause: new Error("refused") })
            )
            : backend.join(room, options)
      }))
      const error = yield* Effect.flip(Effect.scoped(queue.subscribeMany(["r1", "r2", "r3"])))
      expect(error._tag).toBe("EngineError")
      // no member is left behind to hold the rooms: not even until the next keepalive
      for (const room of ["r1", "r2", "r3"]) expect((yield* producer.roomState(room)).members).toEqual([])
      expect((yield* queue.metrics()).subscribedRooms).toBe(0)
      yield* producer.send("r1", "free")
      expect(Option.isNone((yield* producer.roomState("r1")).inFlight)).toBe(true)
    }))

  it.effect("an ack that no longer matters is not repeated: the subscription was closed", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* brokerAndProducer
      const { attempts, queue } = yield* flakyClient(broker, 100)
      const first = yield* Effect.scoped(
        Effect.gen(function*() {
          const deliveries = yield* queue.subscribe("r")
          yield* producer.send("r", "m1")
          const [d] = yield* Stream.runCollect(Stream.take(deliveries, 1))
          yield* d!.ack
          return d!
        })
      )
      expect(first.data).toBe("m1")
      // the scope closed: the leave released m1 (S6); the failed ack is not repeated
      yield* TestClock.adjust(Duration.seconds(10))
      expect(attempts).toHaveLength(1)
    }))
})
