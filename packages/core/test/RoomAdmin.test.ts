/**
 * `RoomAdmin` on the memory engine (S29, S30): what the client does (validation, cursors,
 * decoding, logging and the metric, redrive ids from the sender's sequence) and quick checks of
 * the engine. The shared semantics of S27–S30 on every engine are in `@lockstep/engine-suite`.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  type Delivery,
  MemoryLayer,
  QueueConfig,
  type QueueError,
  QueueMetrics,
  RoomAdmin,
  SyncFanoutQueue
} from "@lockstep/core"
import { Effect, Exit, Fiber, Logger, Metric, Option, Queue, References, Scope, Stream } from "effect"
import * as TestClock from "effect/testing/TestClock"

type Client = {
  readonly queue: SyncFanoutQueue.SyncFanoutQueue["Service"]
  readonly admin: RoomAdmin.RoomAdmin["Service"]
}

const connect = (broker: MemoryLayer.MemoryBroker["Service"], config: Partial<QueueConfig.QueueConfig> = {}) =>
  MemoryLayer.makeClient({ keyPrefix: "test", clientTimeout: "1 minute", ...config }).pipe(
    Effect.provideService(MemoryLayer.MemoryBroker, broker),
    Effect.orDie
  )

/** A sync subscription whose deliveries are taken one by one. */
const inbox = (client: Client, room: string) =>
  Effect.gen(function*() {
    const stream = yield* client.queue.subscribe(room)
    const box = yield* Queue.unbounded<Delivery.Delivery>()
    yield* stream.pipe(Stream.runForEach((d) => Queue.offer(box, d)), Effect.forkScoped)
    return { next: Queue.take(box), size: Queue.size(box) }
  })

/** Let forked fibers run (no time passes). */
const settle = Effect.repeat(Effect.yieldNow, { times: 20 })

const setup = (config: Partial<QueueConfig.QueueConfig> = {}) =>
  Effect.gen(function*() {
    const broker = yield* MemoryLayer.makeBroker
    const a = yield* connect(broker, config)
    const b = yield* connect(broker, config)
    return { broker, a, b }
  })

/** `n` messages sent to `room` and each rejected by `consumer`: n letters, the newest last. */
const rejectAll = (
  producer: Client,
  consumer: { readonly next: Effect.Effect<Delivery.Delivery> },
  room: string,
  n: number
) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* producer.queue.send(room, { i })
    for (let i = 0; i < n; i++) yield* Effect.flatMap(consumer.next, (d) => d.reject(`r${i}`))
  })

describe("RoomAdmin", () => {
  describe("validation", () => {
    it.effect("a bad room is InvalidRoom for every action; nothing is done", () =>
      Effect.gen(function*() {
        const { a } = yield* setup()
        const actions: ReadonlyArray<Effect.Effect<unknown, QueueError.QueueError>> = [
          a.admin.eject("", "c"),
          a.admin.pause("x".repeat(257)),
          a.admin.resume("\uD800"),
          a.admin.skip(""),
          a.admin.purge(""),
          a.admin.deadLetters(""),
          a.admin.redrive("", "p:1" as never),
          a.admin.dropDeadLetters("")
        ]
        for (const action of actions) expect((yield* Effect.flip(action))._tag).toBe("InvalidRoom")
        expect((yield* a.queue.roomState("x")).paused).toBe(false)
      }))

    it.effect("a bad client id, message id or limit is InvalidArgument", () =>
      Effect.gen(function*() {
        const { a } = yield* setup()
        for (const id of ["", "a:b", "x".repeat(65), "é", 7 as unknown as string]) {
          const error = yield* Effect.flip(a.admin.eject("r", id))
          expect(error._tag).toBe("InvalidArgument")
          expect(error.message).toContain("clientId must be")
        }
        for (const id of ["", "p", "p:", ":1", "p:01", "p:-1", "p:1.5", "p:99999999999999999", "\uD800:1"]) {
          const error = yield* Effect.flip(a.admin.redrive("r", id as never))
          expect(error._tag).toBe("InvalidArgument")
          expect(error.message).toContain(`a message id is "<producer>:<sequence>"`)
        }
        for (const limit of [0, 1001, 1.5]) {
          const error = yield* Effect.flip(a.admin.deadLetters("r", { limit }))
          expect(error._tag).toBe("InvalidArgument")
          expect(error.message).toContain("limit must be an integer from 1 to 1000")
        }
      }))

    it.effect("a cursor that is garbage, a rooms cursor, or one of another prefix or room is InvalidArgument", () =>
      Effect.gen(function*() {
        const { a, b, broker } = yield* setup()
        const consumer = yield* inbox(b, "r")
        yield* rejectAll(a, consumer, "r", 3)
        yield* a.admin.pause("other-room")
        yield* a.queue.send("other-room", 1) // queued: an active room besides "r"
        const page = yield* a.admin.deadLetters("r", { limit: 1 })
        const cursor = Option.getOrThrow(page.cursor)
        // the cursor works for its room and prefix
        expect((yield* a.admin.deadLetters("r", { cursor, limit: 5 })).letters.map((l) => l.message.data))
          .toEqual([{ i: 1 }, { i: 0 }])
        const roomsCursor = Option.getOrThrow((yield* a.queue.rooms({ limit: 1 })).cursor)
        const foreign = yield* connect(broker, { keyPrefix: "elsewhere" })
        const refused = [
          a.admin.deadLetters("r", { cursor: "" }),
          a.admin.deadLetters("r", { cursor: "%%%" }),
          a.admin.deadLetters("r", { cursor: "bm90IGpzb24" }),
          a.admin.deadLetters("r", { cursor: roomsCursor }),
          a.admin.deadLetters("r2", { cursor }),
          foreign.admin.deadLetters("r", { cursor })
        ]
        const messages: Array<string> = []
        for (const action of refused) {
          const error = yield* Effect.flip(action)
          expect(error._tag).toBe("InvalidArgument")
          messages.push(error.message)
        }
        expect(messages[4]).toContain("it was made for another room")
        expect(messages[5]).toContain("it was made by a client of another keyPrefix")
      }))
  })

  describe("dead letters (S29)", () => {
    it.effect("a walk pages through the letters newest first, each once", () =>
      Effect.gen(function*() {
        const { a, b } = yield* setup()
        const consumer = yield* inbox(b, "r")
        yield* rejectAll(a, consumer, "r", 5)
        const seen: Array<unknown> = []
        let cursor: string | undefined = undefined
        do {
          const page: RoomAdmin.DeadLetterOptions = cursor === undefined ? { limit: 2 } : { cursor, limit: 2 }
          const result = yield* a.admin.deadLetters("r", page)
          seen.push(...result.letters.map((l) => [l.message.data, l.reason, l.member, l.attempts]))
          cursor = Option.getOrUndefined(result.cursor)
        } while (cursor !== undefined)
        expect(seen).toEqual([4, 3, 2, 1, 0].map((i) => [{ i }, `r${i}`, b.queue.clientId, 1]))
      }))

    it.effect("a room keeps at most deadLetterLimit letters, for deadLetterRetention; then nothing is left (S18)", () =>
      Effect.gen(function*() {
        const { a, b } = yield* setup({ deadLetterLimit: 2, deadLetterRetention: "10 seconds" })
        const consumer = yield* inbox(b, "r")
        yield* rejectAll(a, consumer, "r", 3)
        const page = yield* a.admin.deadLetters("r")
        expect(page.letters.map((l) => l.message.data)).toEqual([{ i: 2 }, { i: 1 }])
        expect(page.letters[0]!.at.getTime()).toBe(yield* Effect.clockWith((c) => c.currentTimeMillis))
        yield* TestClock.adjust("6 seconds")
        yield* rejectAll(a, consumer, "r", 1) // drops the oldest (limit); none has expired yet
        yield* TestClock.adjust("5 seconds") // the one written first is past retention, not the last
        // a read changes nothing: the next write drops what is past retention
        expect((yield* a.admin.deadLetters("r")).letters.map((l) => l.message.data)).toEqual([{ i: 0 }, { i: 2 }])
        yield* rejectAll(a, consumer, "r", 1)
        expect((yield* a.admin.deadLetters("r")).letters.map((l) => l.message.data)).toEqual([{ i: 0 }, { i: 0 }])
        yield* TestClock.adjust("10 seconds")
        expect((yield* a.admin.deadLetters("r")).letters).toEqual([])
        expect(yield* a.admin.dropDeadLetters("r")).toBe(0)
      }))

    it.effect("redrive queues a copy with a new id from the client's send sequence (S7), the same data and priority", () =>
      Effect.gen(function*() {
        const { a, b } = yield* setup()
        const consumer = yield* inbox(b, "r")
        const id = yield* a.queue.send("r", { big: "data" }, { priority: 4 })
        const first = yield* consumer.next
        yield* first.reject()
        const copy = Option.getOrThrow(yield* a.admin.redrive("r", id))
        expect(copy).toBe(`${a.queue.clientId}:2`)
        expect(yield* a.queue.send("r", "after")).toBe(`${a.queue.clientId}:3`)
        const redriven = yield* consumer.next // the room was idle: released at once (S2)
        expect([redriven.id, redriven.data, redriven.priority, redriven.attempt]).toEqual([copy, { big: "data" }, 4, 1])
        expect((yield* a.admin.deadLetters("r")).letters).toEqual([])
        expect(yield* a.admin.redrive("r", id)).toEqual(Option.none())
      }))

    it.effect("dropDeadLetters answers the count and leaves none", () =>
      Effect.gen(function*() {
        const { a, b } = yield* setup()
        const consumer = yield* inbox(b, "r")
        yield* rejectAll(a, consumer, "r", 3)
        expect(yield* a.admin.dropDeadLetters("r")).toBe(3)
        expect((yield* a.admin.deadLetters("r")).letters).toEqual([])
      }))
  })

  describe("operator actions (S30)", () => {
    it.effect("pause holds the backlog while the in-flight message completes; resume releases the next", () =>
      Effect.gen(function*() {
        const { a, b } = yield* setup()
        const consumer = yield* inbox(b, "r")
        yield* a.queue.send("r", 1)
        const first = yield* consumer.next
        expect(yield* a.admin.pause("r")).toBe(true)
        expect(yield* a.admin.pause("r")).toBe(false)
        yield* a.queue.send("r", 2)
        yield* first.ack
        yield* settle
        expect(yield* consumer.size).toBe(0)
        const paused = yield* a.queue.roomState("r")
        expect([paused.paused, paused.backlog, Option.isNone(paused.inFlight)]).toEqual([true, 1, true])
        expect(yield* a.admin.resume("r")).toBe(true)
        expect(yield* a.admin.resume("r")).toBe(false)
        expect((yield* consumer.next).data).toBe(2)
        expect((yield* a.queue.roomState("r")).paused).toBe(false)
      }))

    it.effect("the paused flag outlives the room's members and state", () =>
      Effect.gen(function*() {
        const { a, b } = yield* setup()
        yield* a.admin.pause("r")
        yield* a.queue.send("r", "queued")
        yield* a.admin.purge("r") // the room is empty again: its state is gone, not the flag
        yield* a.queue.send("r", "still queued")
        const consumer = yield* inbox(b, "r")
        yield* settle
        expect(yield* consumer.size).toBe(0)
        yield* a.admin.resume("r")
        expect((yield* consumer.next).data).toBe("still queued")
      }))

    it.effect("skip dead-letters the in-flight message for each member that holds it and releases the next", () =>
      Effect.gen(function*() {
        const { a, b, broker } = yield* setup()
        const c = yield* connect(broker)
        const one = yield* inbox(b, "r")
        const two = yield* inbox(c, "r")
        const id = yield* a.queue.send("r", "poison")
        yield* a.queue.send("r", "next")
        yield* (yield* one.next).ack
        yield* two.next
        expect(yield* a.admin.skip("r")).toEqual(Option.some(id))
        expect((yield* one.next).data).toBe("next")
        expect((yield* two.next).data).toBe("next")
        const letters = (yield* a.admin.deadLetters("r")).letters
        expect(letters.map((l) => [l.message.id, l.member, l.reason, l.attempts])).toEqual([
          [id, c.queue.clientId, "skipped", 1]
        ])
        yield* a.admin.purge("r")
      }))

    it.effect("skip with nothing in flight, purge of the backlog", () =>
      Effect.gen(function*() {
        const { a } = yield* setup()
        expect(yield* a.admin.skip("r")).toEqual(Option.none())
        for (let i = 0; i < 3; i++) yield* a.queue.send("r", i) // no member: the first is released, gone (S7)
        yield* a.admin.pause("r")
        for (let i = 0; i < 3; i++) yield* a.queue.send("r", i)
        expect(yield* a.admin.purge("r")).toBe(3)
        expect((yield* a.queue.roomState("r")).backlog).toBe(0)
        expect(yield* a.admin.purge("r")).toBe(0)
      }))

    it.effect("eject ends the membership (ClientEjected operator) and releases what it held", () =>
      Effect.gen(function*() {
        const { a, b, broker } = yield* setup()
        const c = yield* connect(broker)
        const stream = yield* b.queue.subscribe("r")
        const ended = yield* stream.pipe(Stream.runDrain, Effect.flip, Effect.forkScoped)
        const other = yield* inbox(c, "r")
        yield* a.queue.send("r", 1)
        yield* a.queue.send("r", 2)
        yield* (yield* other.next).ack
        expect(yield* a.admin.eject("r", b.queue.clientId)).toBe(true)
        expect(yield* a.admin.eject("r", b.queue.clientId)).toBe(false)
        const error = yield* Fiber.join(ended)
        expect([error._tag, error.reason]).toEqual(["ClientEjected", "operator"])
        expect((yield* other.next).data).toBe(2) // b no longer held 1
      }))

    it.effect("an ejected durable id does not resume: a later join is a fresh one", () =>
      Effect.gen(function*() {
        const { a, broker } = yield* setup()
        const scope = yield* Scope.make()
        const first = yield* Scope.provide(connect(broker, { clientId: "edge", onClose: "detach" }), scope)
        const sub = yield* Scope.provide(inbox(first, "r"), scope)
        yield* a.queue.send("r", 1)
        yield* sub.next
        yield* Scope.close(scope, Exit.interrupt()) // detaches: kept for a successor (S24)
        expect(yield* a.admin.eject("r", "edge")).toBe(true)
        const successor = yield* connect(broker, { clientId: "edge" })
        expect(yield* successor.queue.memberships).toEqual([])
        const resumed = yield* inbox(successor, "r")
        yield* settle
        expect(yield* resumed.size).toBe(0) // not handed 1 again: a fresh join (S5)
      }))
  })

  describe("logging and metrics", () => {
    it.effect("every action is logged at info with the acting client id, the room and the action, and counted", () =>
      Effect.gen(function*() {
        const lines: Array<{ level: string; message: string; annotations: Record<string, unknown> }> = []
        const capture = Logger.make(({ fiber, logLevel, message }) => {
          lines.push({
            level: logLevel,
            message: Array.isArray(message) ? message.join(" ") : String(message),
            annotations: fiber.getRef(References.CurrentLogAnnotations)
          })
        })
        const { a } = yield* setup()
        const count = (action: string) =>
          Effect.map(
            Metric.value(Metric.withAttributes(QueueMetrics.adminActionsTotal, { action })),
            (state) => state.count
          )
        const before = yield* count("pause")
        yield* a.admin.pause("r").pipe(Effect.provideService(References.CurrentLoggers, new Set([capture])))
        yield* a.admin.pause("r").pipe(Effect.provideService(References.CurrentLoggers, new Set([capture])))
        yield* a.admin.deadLetters("r").pipe(Effect.provideService(References.CurrentLoggers, new Set([capture])))
        expect((yield* count("pause")) - before).toBe(2)
        expect(lines.map((l) => [l.level, l.message, l.annotations])).toEqual([
          ["Info", `lockstep: pause on room "r": paused`, { clientId: a.queue.clientId, room: "r", action: "pause" }],
          [
            "Info",
            `lockstep: pause on room "r": was paused already`,
            { clientId: a.queue.clientId, room: "r", action: "pause" }
          ]
        ])
      }))
  })

  it.effect("MemoryLayer.layer provides RoomAdmin next to SyncFanoutQueue, of the same client", () =>
    Effect.gen(function*() {
      const queue = yield* SyncFanoutQueue.SyncFanoutQueue
      const admin = yield* RoomAdmin.RoomAdmin
      yield* admin.pause("r")
      expect((yield* queue.roomState("r")).paused).toBe(true)
      yield* queue.send("r", 1)
      const copy = yield* admin.redrive("r", `${queue.clientId}:1` as never)
      expect(copy).toEqual(Option.none()) // no letter: nothing queued, but the id was taken
      expect(yield* queue.send("r", 2)).toBe(`${queue.clientId}:3`)
    }).pipe(Effect.provide(MemoryLayer.layer({ keyPrefix: "demo" }))))
})
