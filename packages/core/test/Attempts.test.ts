/**
 * The client's side of attempts and rejects (S27, S28) on the memory engine: `Delivery.attempt`
 * from publications, resumed joins and resyncs, `JoinOptions.handed`, `maxDeliveries`, and
 * `Delivery.reject` (validation, settling, no-ops). The shared semantics on every engine are in
 * `@lockstep/engine-suite`.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  Backend,
  type Delivery,
  MemoryLayer,
  QueueConfig,
  QueueError,
  type RoomAdmin,
  type SyncFanoutQueue
} from "@lockstep/core"
import { Effect, Exit, Option, Queue, Scope, Stream } from "effect"
import * as TestClock from "effect/testing/TestClock"

interface Client {
  readonly queue: SyncFanoutQueue.SyncFanoutQueue["Service"]
  readonly admin: RoomAdmin.RoomAdmin["Service"]
}

/** A client on `broker`, its engine connection changed by `wrap`. */
const connect = (
  broker: MemoryLayer.MemoryBroker["Service"],
  config: Partial<QueueConfig.QueueConfig> = {},
  wrap: (backend: Backend.BackendClient) => Backend.BackendClient = (backend) => backend
): Effect.Effect<Client, never, Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* QueueConfig.resolve({ keyPrefix: "test", clientTimeout: "1 minute", ...config })
    return yield* Backend.makeClient(
      (clientId) => Effect.map(broker.connect({ keyPrefix: resolved.keyPrefix, clientId }), wrap),
      resolved
    )
  }).pipe(Effect.orDie)

/** A subscription of `client` to `room` whose deliveries are taken one by one. */
const inbox = (client: Client, room: string, mode: "sync" | "async" = "sync") =>
  Effect.gen(function*() {
    const stream = yield* client.queue.subscribe(room, { mode })
    const box = yield* Queue.unbounded<Delivery.Delivery>()
    yield* stream.pipe(Stream.runForEach((d) => Queue.offer(box, d)), Effect.forkScoped)
    return { next: Queue.take(box), size: Queue.size(box) }
  })

/** Let forked fibers run (no time passes). */
const settle = Effect.repeat(Effect.yieldNow, { times: 20 })

/** A process of durable id `id` in a scope of its own, subscribed to `room`, that detaches when shut down (S24). */
const process = (broker: MemoryLayer.MemoryBroker["Service"], id: string, room: string, config = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const client = yield* Scope.provide(connect(broker, { clientId: id, onClose: "detach", ...config }), scope)
    const box = yield* Scope.provide(inbox(client, room), scope)
    return { client, box, shutdown: Scope.close(scope, Exit.interrupt()) }
  })

/** A process of durable id "edge" that was handed "m" in room "r" (attempt 1), then shut down. */
const handedOnce = (broker: MemoryLayer.MemoryBroker["Service"], producer: Client) =>
  Effect.gen(function*() {
    const first = yield* process(broker, "edge", "r")
    const id = yield* producer.queue.send("r", "m")
    expect((yield* first.box.next).attempt).toBe(1)
    yield* first.shutdown
    return id
  })

const setup = Effect.gen(function*() {
  const broker = yield* MemoryLayer.makeBroker
  const producer = yield* connect(broker)
  return { broker, producer }
})

describe("attempts (S27)", () => {
  it.effect("a message reaching a durable id again through resumed joins counts one more each time", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* setup
      const id = yield* handedOnce(broker, producer)
      const second = yield* process(broker, "edge", "r")
      const again = yield* second.box.next
      expect([again.id, again.attempt]).toEqual([id, 2])
      yield* second.shutdown
      const third = yield* process(broker, "edge", "r")
      expect((yield* third.box.next).attempt).toBe(3)
      yield* third.shutdown
    }))

  it.effect("a message released while the id was detached reaches its successor as attempt 1", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* setup
      const first = yield* process(broker, "edge", "r")
      yield* first.shutdown
      yield* producer.queue.send("r", "m")
      const second = yield* process(broker, "edge", "r")
      expect((yield* second.box.next).attempt).toBe(1)
    }))

  it.effect("a join repeated after an answer that never reached the consumer does not count again (handed)", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* setup
      yield* handedOnce(broker, producer)
      // the next process's first join runs on the server, but its answer is lost
      let lose = true
      const client = yield* connect(broker, { clientId: "edge", onClose: "detach" }, (backend) => ({
        ...backend,
        join: (room, options) =>
          Effect.flatMap(backend.join(room, options), (answer) => {
            if (!lose) return Effect.succeed(answer)
            lose = false
            return Effect.fail(new QueueError.EngineError({ engine: "memory", operation: "join", cause: "lost" }))
          })
      }))
      expect((yield* Effect.flip(Effect.scoped(client.queue.subscribe("r"))))._tag).toBe("EngineError")
      const scope = yield* Scope.make()
      const box = yield* Scope.provide(inbox(client, "r"), scope)
      expect((yield* box.next).attempt).toBe(2) // not 3: the lost answer was never handed out
      yield* Scope.close(scope, Exit.interrupt()) // detach; the consumer had it: the next join counts it
      const again = yield* inbox(client, "r")
      expect((yield* again.next).attempt).toBe(3)
    }))

  it.effect("a resync after a blip carries the attempt of the last hand-over, and counts nothing", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* setup
      yield* handedOnce(broker, producer)
      // a process whose frames are lost: the resumed join's answer reaches it, later a resync
      const second = yield* process(broker, "edge", "r")
      expect((yield* second.box.next).attempt).toBe(2)
      const backend = yield* broker.connect({ keyPrefix: "test", clientId: "edge" })
      expect(yield* backend.resync("r")).toMatchObject({ attempt: 2 })
      expect(yield* backend.resync("r")).toMatchObject({ attempt: 2 })
    }))

  it.effect("async members are always at attempt 1, also when they resume (S25)", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* setup
      const client = yield* connect(broker)
      const box = yield* inbox(client, "r", "async")
      yield* producer.queue.send("r", "m")
      expect((yield* box.next).attempt).toBe(1)
    }))
})

describe("maxDeliveries (S28)", () => {
  it.effect("a resumed member past maxDeliveries dead-letters the message and goes on with the next", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* setup
      const config = { maxDeliveries: 2 }
      const first = yield* process(broker, "edge", "r", config)
      const id = yield* producer.queue.send("r", "poison")
      yield* producer.queue.send("r", "next")
      yield* first.box.next
      yield* first.shutdown
      const second = yield* process(broker, "edge", "r", config)
      expect((yield* second.box.next).attempt).toBe(2)
      yield* second.shutdown
      const third = yield* process(broker, "edge", "r", config)
      const next = yield* third.box.next
      expect([next.data, next.attempt]).toEqual(["next", 1])
      const letters = (yield* producer.admin.deadLetters("r")).letters
      expect(letters.map((l) => [l.message.id, l.member, l.attempts, l.reason])).toEqual([
        [id, "edge", 2, "max-deliveries"]
      ])
    }))
})

describe("reject (S28)", () => {
  it.effect("reject settles the message as a dead letter; the room moves on; again it is a no-op", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* setup
      const consumer = yield* connect(broker)
      const box = yield* inbox(consumer, "r")
      const id = yield* producer.queue.send("r", "bad")
      yield* producer.queue.send("r", "good")
      const bad = yield* box.next
      yield* bad.reject("cannot parse")
      expect((yield* box.next).data).toBe("good")
      yield* bad.reject()
      yield* bad.ack
      const letters = (yield* producer.admin.deadLetters("r")).letters
      expect(letters.map((l) => [l.message.id, l.message.data, l.member, l.attempts, l.reason])).toEqual([
        [id, "bad", consumer.queue.clientId, 1, "cannot parse"]
      ])
    }))

  it.effect("the default reason is \"rejected\"; a reason that is not 1–256 characters of text is InvalidArgument", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* setup
      const consumer = yield* connect(broker)
      const box = yield* inbox(consumer, "r")
      yield* producer.queue.send("r", "m")
      const d = yield* box.next
      for (const reason of ["", "x".repeat(257), "\uD800", 3 as unknown as string]) {
        expect((yield* Effect.flip(d.reject(reason)))._tag).toBe("InvalidArgument")
      }
      expect(Option.isSome((yield* producer.queue.roomState("r")).inFlight)).toBe(true) // nothing settled
      yield* d.reject()
      expect((yield* producer.admin.deadLetters("r")).letters.map((l) => l.reason)).toEqual(["rejected"])
    }))

  it.effect("a reject after an ack, or of an async or out-of-band delivery, writes no letter", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* setup
      const consumer = yield* connect(broker)
      const sync = yield* inbox(consumer, "r")
      const async = yield* inbox(yield* connect(broker), "r", "async")
      yield* producer.queue.send("r", "m")
      yield* producer.queue.sendOutOfBand("r", "o")
      const acked = yield* sync.next
      yield* acked.ack
      yield* acked.reject()
      yield* (yield* sync.next).reject() // out-of-band
      yield* (yield* async.next).reject()
      yield* (yield* async.next).reject()
      expect((yield* producer.admin.deadLetters("r")).letters).toEqual([])
    }))

  it.effect("once rejected, an ack of the message lost in transit is not repeated", () =>
    Effect.gen(function*() {
      const { broker, producer } = yield* setup
      const acks: Array<string> = []
      const consumer = yield* connect(broker, {}, (backend) => ({
        ...backend,
        ack: (room, id, onFailure) => {
          acks.push(id)
          onFailure(room, id, new QueueError.EngineError({ engine: "memory", operation: "ack", cause: "refused" }))
        }
      }))
      const box = yield* inbox(consumer, "r")
      yield* producer.queue.send("r", "m")
      const d = yield* box.next
      yield* d.ack // refused: repeated after a delay
      yield* d.reject()
      yield* TestClock.adjust("10 seconds")
      yield* settle
      expect(acks).toEqual([d.id])
      expect((yield* producer.admin.deadLetters("r")).letters.map((l) => l.message.id)).toEqual([d.id])
    }))
})
