/**
 * `RoomWorker` on the in-memory engine, with TestClock: the shared worker suite, and what only
 * this engine shows cheaply (option checks, the concurrency bound, the default schedules, a
 * defect, a rejoin schedule that ends, a join or a reject while the engine is out of reach).
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { type Delivery, MemoryLayer, QueueError, QueueMetrics, RoomWorker, SyncFanoutQueue } from "@lockstep/core"
import { type EngineFixture, memoryFixture, workerSuite } from "@lockstep/engine-suite"
import {
  Cause,
  Clock,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Metric,
  Option,
  Queue,
  Result,
  Schedule,
  Scope
} from "effect"
import { reasonOf } from "../src/internal/roomWorker.js"

workerSuite(memoryFixture, "test-clock")

type Client = SyncFanoutQueue.SyncFanoutQueue["Service"]

class Boom extends Data.TaggedError("Boom")<{ readonly message: string }> {}

const run = <E>(
  client: Client,
  rooms: ReadonlyArray<string>,
  handler: (delivery: Delivery.Delivery) => Effect.Effect<void, E>,
  options?: RoomWorker.Options<E>
) => RoomWorker.run(rooms, handler, options).pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, client))

const members = (client: Client, room: string) => Effect.map(client.roomState(room), (s) => s.members)

/** poll `check` until it holds, within `budget` of TestClock time */
const eventually = <E>(fx: EngineFixture, check: Effect.Effect<boolean, E>, budget: Duration.Input = "10 seconds") =>
  fx.within(budget, Effect.repeat(check, { until: (ok) => ok, schedule: Schedule.spaced("20 millis") }))

const joined = (fx: EngineFixture, observer: Client, room: string, clientId: string) =>
  eventually(fx, Effect.map(members(observer, room), (m) => m.includes(clientId)))

/** Clients with their `RoomAdmin`, on one fresh broker (the fixture's clients have none). */
const clientsWithAdmin = Effect.map(
  MemoryLayer.makeBroker,
  (broker) => (config: { readonly clientId?: string }) =>
    MemoryLayer.makeClient({ keyPrefix: "test", ...config }).pipe(
      Effect.provideService(MemoryLayer.MemoryBroker, broker),
      Effect.orDie
    )
)

const failureOf = <E>(exit: Exit.Exit<never, E>) => {
  if (Exit.isSuccess(exit)) return assert.fail("a worker never succeeds")
  return exit.cause
}

describe("RoomWorker (memory)", () => {
  it.effect("bad rooms or options fail before anything is joined", () =>
    Effect.gen(function*() {
      const fx = yield* memoryFixture
      const client = yield* fx.client()
      const handler = () => Effect.void
      const failure = (effect: Effect.Effect<never, unknown>) => Effect.flip(effect)
      expect(yield* failure(run(client, [], handler))).toBeInstanceOf(QueueError.InvalidArgument)
      const twice = yield* failure(run(client, ["ok", "ok"], handler))
      expect(twice).toBeInstanceOf(QueueError.InvalidArgument)
      expect((twice as QueueError.InvalidArgument).message).toContain("twice")
      expect(yield* failure(run(client, ["ok", ""], handler))).toBeInstanceOf(QueueError.InvalidRoom)
      expect(yield* failure(run(client, ["ok", "x".repeat(257)], handler))).toBeInstanceOf(QueueError.InvalidRoom)
      for (const concurrency of [0, -1, 1.5, Number.NaN]) {
        const error = yield* failure(run(client, ["ok"], handler, { concurrency }))
        expect(error).toBeInstanceOf(QueueError.InvalidArgument)
        expect((error as QueueError.InvalidArgument).message).toContain("concurrency")
      }
      const onFailure = "drop" as unknown as RoomWorker.OnFailure
      expect(yield* failure(run(client, ["ok"], handler, { onFailure }))).toBeInstanceOf(QueueError.InvalidArgument)
      expect(yield* members(client, "ok")).toEqual([])
    }))

  it.effect("concurrency bounds the handlers running at once over all rooms", () =>
    Effect.gen(function*() {
      const fx = yield* memoryFixture
      const worker = yield* fx.client()
      const producer = yield* fx.client()
      const seen = yield* Queue.unbounded<unknown>()
      const release = yield* Deferred.make<void>()
      yield* run(worker, ["c-a", "c-b"], (d) =>
        Queue.offer(seen, d.data).pipe(
          Effect.andThen(d.data === "a1" ? Deferred.await(release) : Effect.void)
        ), { concurrency: 1 }).pipe(Effect.forkScoped)
      yield* joined(fx, producer, "c-a", worker.clientId)
      yield* joined(fx, producer, "c-b", worker.clientId)
      yield* producer.send("c-a", "a1")
      expect(yield* fx.within("1 second", Queue.take(seen))).toBe("a1")
      yield* producer.send("c-b", "b1")
      yield* fx.advance("5 seconds")
      expect(yield* Queue.size(seen)).toBe(0) // b1 waits for the only permit
      yield* Deferred.succeed(release, undefined)
      expect(yield* fx.within("1 second", Queue.take(seen))).toBe("b1")
    }))

  it.effect("the default retry runs a failing handler 3 more times, 100, 200 and 400 ms apart", () =>
    Effect.gen(function*() {
      const fx = yield* memoryFixture
      const worker = yield* fx.client()
      const producer = yield* fx.client()
      const room = "retry-default"
      const times: Array<number> = []
      const seen = yield* Queue.unbounded<unknown>()
      const ackedBefore = (yield* Metric.value(
        Metric.withAttributes(QueueMetrics.workerFailuresTotal, { outcome: "ack" })
      )).count
      yield* run(worker, [room], (d) =>
        d.data === "bad"
          ? Effect.flatMap(Clock.currentTimeMillis, (t) => {
            times.push(t)
            return Effect.fail(new Boom({ message: "bad" }))
          })
          : Queue.offer(seen, d.data), { onFailure: "ack" }).pipe(Effect.forkScoped)
      yield* joined(fx, producer, room, worker.clientId)
      yield* producer.send(room, "bad")
      yield* producer.send(room, "next")
      // onFailure "ack": the room moves on without a dead letter
      expect(yield* fx.within("5 seconds", Queue.take(seen))).toBe("next")
      expect(times.map((t) => t - times[0]!)).toEqual([0, 100, 300, 700])
      expect(
        (yield* Metric.value(
          Metric.withAttributes(QueueMetrics.workerFailuresTotal, { outcome: "ack" })
        )).count - ackedBefore
      ).toBe(1)
    }))

  it.effect("the default rejoin backs off exponentially from 500 ms to at most 30 s, with jitter, forever", () =>
    Effect.gen(function*() {
      const step = yield* Schedule.toStep(RoomWorker.defaultRejoin)
      const delays: Array<number> = []
      for (let i = 0; i < 20; i++) {
        const [, delay] = yield* step(0, undefined)
        delays.push(Duration.toMillis(delay))
      }
      expect(delays[0]).toBeGreaterThanOrEqual(400)
      expect(delays[0]).toBeLessThanOrEqual(600)
      expect(delays[1]).toBeGreaterThanOrEqual(800)
      expect(delays[1]).toBeLessThanOrEqual(1200)
      for (const delay of delays) expect(delay).toBeLessThanOrEqual(36_000)
      expect(delays[19]).toBeGreaterThanOrEqual(24_000)
    }))

  it.effect("a defect of the handler stops the worker with it, and its rooms are left", () =>
    Effect.gen(function*() {
      const fx = yield* memoryFixture
      const worker = yield* fx.client()
      const producer = yield* fx.client()
      const room = "defect"
      const fiber = yield* run(worker, [room, "defect-other"], () => Effect.die(new Error("bug"))).pipe(
        Effect.forkScoped
      )
      yield* joined(fx, producer, room, worker.clientId)
      yield* producer.send(room, "m1")
      const cause = failureOf(yield* fx.within("5 seconds", Fiber.await(fiber)))
      expect(Cause.hasDies(cause)).toBe(true)
      const defect = Cause.findDefect(cause)
      expect(Result.isSuccess(defect) && defect.success).toMatchObject({ message: "bug" })
      yield* eventually(fx, Effect.map(members(producer, room), (m) => m.length === 0))
      expect(yield* members(producer, "defect-other")).toEqual([])
    }))

  it.effect("a rejoin schedule that ends stops the worker with the ejection", () =>
    Effect.gen(function*() {
      const fx = yield* memoryFixture
      const worker = yield* fx.client({ ackTimeout: "1 second" })
      const producer = yield* fx.client()
      const room = "no-rejoin"
      const fiber = yield* run(worker, [room], () => Effect.sleep("3 seconds"), { rejoin: Schedule.recurs(0) }).pipe(
        Effect.forkScoped
      )
      yield* joined(fx, producer, room, worker.clientId)
      yield* producer.send(room, "slow")
      const cause = failureOf(yield* fx.within("10 seconds", Fiber.await(fiber)))
      const error = Cause.findErrorOption(cause)
      expect(Option.getOrThrow(error)).toBeInstanceOf(QueueError.ClientEjected)
      expect(Option.getOrThrow(error)).toMatchObject({ room, reason: "ack-timeout" })
    }))

  it.effect("joins that fail while the engine is out of reach are tried again per rejoin", () =>
    Effect.gen(function*() {
      const fx = yield* memoryFixture
      const worker = yield* fx.client()
      const producer = yield* fx.client()
      const room = "late-join"
      const seen = yield* Queue.unbounded<unknown>()
      yield* fx.cut(worker.clientId)
      yield* run(worker, [room], (d) => Queue.offer(seen, d.data), { rejoin: Schedule.spaced("1 second") }).pipe(
        Effect.forkScoped
      )
      yield* fx.advance("3 seconds")
      expect(yield* members(producer, room)).toEqual([])
      yield* fx.restore(worker.clientId)
      yield* joined(fx, producer, room, worker.clientId)
      yield* producer.send(room, "m1")
      expect(yield* fx.within("5 seconds", Queue.take(seen))).toBe("m1")
    }))

  it.effect("a reject that cannot reach the engine is tried again per rejoin; the room waits for it (S3, S28)", () =>
    Effect.gen(function*() {
      const fx = yield* memoryFixture
      const worker = yield* fx.client()
      const producer = yield* fx.client()
      const room = "late-reject"
      const seen = yield* Queue.unbounded<unknown>()
      /** what the rejoin schedule was stepped with, and when */
      const steps: Array<readonly [string, number]> = []
      const spaced: Schedule.Schedule<number, RoomWorker.RejoinCause> = Schedule.spaced("1 second")
      const rejoin = spaced.pipe(
        Schedule.tap((meta) =>
          Effect.map(Clock.currentTimeMillis, (t) => {
            steps.push([meta.input._tag, t])
          })
        )
      )
      yield* run(worker, [room], (d) =>
        d.data === "bad"
          // the engine goes out of reach while the handler runs: its reject cannot get through
          ? Effect.andThen(fx.cut(worker.clientId), Effect.fail(new Boom({ message: "bad" })))
          : Queue.offer(seen, d.data), { retry: Schedule.recurs(0), rejoin }).pipe(Effect.forkScoped)
      yield* joined(fx, producer, room, worker.clientId)
      yield* producer.send(room, "bad")
      yield* producer.send(room, "next")
      yield* fx.advance("3500 millis")
      // tried at once, then 1 s apart: the room waits meanwhile (S3)
      expect(steps.length).toBeGreaterThanOrEqual(3)
      for (const [tag] of steps) expect(["EngineError", "OperationTimeout"]).toContain(tag)
      const gaps = steps.slice(1).map(([, t], i) => t - steps[i]![1])
      for (const gap of gaps) expect(gap).toBe(1000)
      expect(yield* Queue.size(seen)).toBe(0)
      yield* fx.restore(worker.clientId)
      // the reject gets through: the room moves on
      expect(yield* fx.within("5 seconds", Queue.take(seen))).toBe("next")
    }))

  it.effect("a reject that cannot reach the engine stops the worker with its failure once rejoin ends", () =>
    Effect.gen(function*() {
      const fx = yield* memoryFixture
      const worker = yield* fx.client()
      const producer = yield* fx.client()
      const room = "lost-reject"
      const fiber = yield* run(
        worker,
        [room],
        () => Effect.andThen(fx.cut(worker.clientId), Effect.fail(new Boom({ message: "bad" }))),
        {
          retry: Schedule.recurs(0),
          rejoin: Schedule.recurs(1)
        }
      ).pipe(Effect.forkScoped)
      yield* joined(fx, producer, room, worker.clientId)
      yield* producer.send(room, "bad")
      const cause = failureOf(yield* fx.within("10 seconds", Fiber.await(fiber)))
      expect(["EngineError", "OperationTimeout"]).toContain(Option.getOrThrow(Cause.findErrorOption(cause))._tag)
    }))

  it.effect("onFailure \"fail\" on a durable client with onClose \"detach\" keeps the membership and the message for a successor (S22, S24)", () =>
    Effect.gen(function*() {
      const fx = yield* memoryFixture
      const config = { clientId: "fail-detach", onClose: "detach" } as const
      const worker = yield* fx.client(config)
      const producer = yield* fx.client()
      const room = "fail-detach"
      const fiber = yield* run(worker, [room], () => Effect.fail(new Boom({ message: "stop" })), {
        onFailure: "fail",
        retry: Schedule.recurs(0)
      }).pipe(Effect.forkScoped)
      yield* joined(fx, producer, room, worker.clientId)
      const id = yield* producer.send(room, "m1")
      const cause = failureOf(yield* fx.within("5 seconds", Fiber.await(fiber)))
      expect(Option.getOrThrow(Cause.findErrorOption(cause))).toBeInstanceOf(Boom)
      yield* fx.advance("1 second")
      const state = yield* producer.roomState(room)
      expect(state.members).toEqual(["fail-detach"])
      expect(Option.map(state.inFlight, (f) => f.id)).toEqual(Option.some(id))
      expect(state.acked).toEqual([])
    }))

  it.effect("a rejected delivery is a dead letter with the error's message and the delivery's attempt (S28, S29)", () =>
    Effect.gen(function*() {
      const fx = yield* memoryFixture // for its TestClock helpers
      const connect = yield* clientsWithAdmin
      const worker = yield* connect({})
      const operator = yield* connect({})
      const room = "dead-letters"
      const seen = yield* Queue.unbounded<unknown>()
      yield* run(worker.queue, [room], (d) =>
        d.data === "bad"
          ? Effect.fail(new Boom({ message: "card declined" }))
          : Queue.offer(seen, d.data), { retry: Schedule.recurs(1) }).pipe(Effect.forkScoped)
      yield* joined(fx, operator.queue, room, worker.queue.clientId)
      const bad = yield* operator.queue.send(room, "bad")
      yield* operator.queue.send(room, "good")
      expect(yield* fx.within("5 seconds", Queue.take(seen))).toBe("good")
      const { letters } = yield* operator.admin.deadLetters(room)
      expect(letters).toHaveLength(1)
      expect(letters[0]).toMatchObject({
        member: worker.queue.clientId,
        reason: "card declined",
        attempts: 1, // retries within one delivery are not attempts (S27)
        message: { id: bad, data: "bad" }
      })
    }))

  it.effect("after an operator's eject the worker joins the room again (S30)", () =>
    Effect.gen(function*() {
      const fx = yield* memoryFixture
      const connect = yield* clientsWithAdmin
      // a durable id too: the eject ends its membership for good, the worker's join is a fresh one
      const worker = yield* connect({ clientId: "op-worker" })
      const operator = yield* connect({})
      const rooms = ["op-a", "op-b"]
      const seen = yield* Queue.unbounded<readonly [string, unknown]>()
      const rejoins = Metric.withAttributes(QueueMetrics.workerRejoinsTotal, { reason: "operator" })
      const before = (yield* Metric.value(rejoins)).count
      const running = yield* RoomWorker.make(rooms, (d) => Queue.offer(seen, [d.room, d.data] as const), {
        rejoin: Schedule.spaced("1 second")
      }).pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, worker.queue))
      // make returns once every room is joined
      for (const room of rooms) expect(yield* members(operator.queue, room)).toEqual(["op-worker"])
      expect(yield* running.rejoining).toEqual([])
      expect(yield* operator.admin.eject("op-a", "op-worker")).toBe(true)
      expect(yield* members(operator.queue, "op-a")).toEqual([])
      yield* eventually(fx, Effect.map(running.rejoining, (r) => r.length === 1 && r[0] === "op-a"), "500 millis")
      // the other room is untouched meanwhile
      yield* operator.queue.send("op-b", 1)
      expect(yield* fx.within("500 millis", Queue.take(seen))).toEqual(["op-b", 1])
      yield* joined(fx, operator.queue, "op-a", "op-worker")
      expect(yield* running.rejoining).toEqual([])
      expect((yield* Metric.value(rejoins)).count - before).toBe(1)
      yield* operator.queue.send("op-a", 2)
      expect(yield* fx.within("1 second", Queue.take(seen))).toEqual(["op-a", 2])
    }))

  it.effect("closing make's scope leaves the rooms; await is interrupted then", () =>
    Effect.gen(function*() {
      const fx = yield* memoryFixture
      const worker = yield* fx.client()
      const producer = yield* fx.client()
      const scope = yield* Scope.make()
      const running = yield* RoomWorker.make(["close-a", "close-b"], () => Effect.void).pipe(
        Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, worker),
        Scope.provide(scope)
      )
      expect(yield* members(producer, "close-a")).toEqual([worker.clientId])
      yield* Scope.close(scope, Exit.void)
      yield* eventually(fx, Effect.map(members(producer, "close-a"), (m) => m.length === 0))
      yield* eventually(fx, Effect.map(members(producer, "close-b"), (m) => m.length === 0))
      const exit = yield* fx.within("1 second", Effect.exit(running.await))
      expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
    }))

  it("the reason of a rejected delivery: the error's message, else its tag, bounded and well-formed", () => {
    expect(reasonOf(new Boom({ message: "card declined" }))).toBe("card declined")
    expect(reasonOf(new Boom({ message: "" }))).toBe("Boom")
    expect(reasonOf("plain text")).toBe("plain text")
    expect(reasonOf(undefined)).toBe("handler failed")
    expect(reasonOf({})).toBe("handler failed")
    const long = reasonOf(new Error("x".repeat(1000)))
    expect(long.length).toBe(256)
    expect(long.endsWith("…")).toBe(true)
    // never a lone surrogate: none in the text, none made by the cut
    expect(reasonOf(new Error("a\uD800b"))).toBe("a\uFFFDb")
    const pairs = reasonOf(new Error("x" + "🎉".repeat(300)))
    expect(pairs.length).toBeLessThanOrEqual(256)
    expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(pairs)).toBe(false)
  })
})
