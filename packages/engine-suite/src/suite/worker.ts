/**
 * The `RoomWorker` suite, written once against `EngineFixture` and run on every engine, as
 * `semantics.ts` is: the worker acks in order, runs rooms independently, retries then rejects
 * (S28), rejoins a room it was ejected from while the others flow (S10, S11), stops when fenced
 * (S21), and leaves or detaches on interruption (S6, S24).
 *
 * A worker runs in the test's scope over one client (`RoomWorker.make`, which returns once every
 * room is joined; `RoomWorker.run` in a fiber where the test interrupts it); what its handler sees
 * goes to a queue the test takes from with `fx.within`, and a handler that must hold a message
 * waits on a `Deferred` the test completes.
 */
import { assert, describe, expect } from "@effect/vitest"
import { type Delivery, QueueError, QueueMetrics, RoomWorker, SyncFanoutQueue } from "@lockstep/core"
import { Cause, Data, Deferred, Effect, Exit, Fiber, Metric, Option, Queue, Schedule, type Scope } from "effect"
import type { EngineFixture } from "../EngineFixture.js"
import { failure, type Harness, type SemanticSuiteOptions, suiteTest } from "./harness.js"

type Client = SyncFanoutQueue.SyncFanoutQueue["Service"]

/** A handler's failure in these tests. */
class Boom extends Data.TaggedError("Boom")<{ readonly message: string }> {}

/** Rejoins quickly, so that a test on real time does not wait for the default backoff. */
const rejoin = Schedule.spaced("100 millis")

/** Start a worker over `client` in the test's scope; every room is joined when it returns. */
const start = <E>(
  client: Client,
  rooms: ReadonlyArray<string>,
  handler: (delivery: Delivery.Delivery) => Effect.Effect<void, E>,
  options?: RoomWorker.Options<E>
) =>
  RoomWorker.make(rooms, handler, { rejoin, ...options }).pipe(
    Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, client)
  )

/** Run a worker over `client` in a fiber of the test's scope, for the test to interrupt. */
const fork = <E>(
  client: Client,
  rooms: ReadonlyArray<string>,
  handler: (delivery: Delivery.Delivery) => Effect.Effect<void, E>
) =>
  RoomWorker.run(rooms, handler, { rejoin }).pipe(
    Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, client),
    Effect.forkScoped
  )

/** A handler that puts every delivery in a queue, and the queue. */
const recorder = Effect.map(Queue.unbounded<Delivery.Delivery>(), (seen) => ({
  seen,
  record: (delivery: Delivery.Delivery) => Effect.asVoid(Queue.offer(seen, delivery))
}))

/** whether `clientId` is a member of `room`, as `observer` sees it */
const isMember = (observer: Client, room: string, clientId: string) =>
  Effect.map(observer.roomState(room), (state) => state.members.includes(clientId))

/** Wait until `clientId` is (or, with `member: false`, is no longer) a member of every room. */
const membership = (
  h: Harness,
  observer: Client,
  rooms: ReadonlyArray<string>,
  clientId: string,
  member = true
) =>
  Effect.forEach(rooms, (room) =>
    h.eventually(
      "10 seconds",
      Effect.map(isMember(observer, room, clientId), (is) => is === member)
    ), { discard: true })

/** Take `n` deliveries from a recorder's queue, as [room, data] pairs. */
const take = (fx: EngineFixture, seen: Queue.Queue<Delivery.Delivery>, n: number) =>
  Effect.gen(function*() {
    const out: Array<readonly [string, unknown]> = []
    for (let i = 0; i < n; i++) {
      const d = yield* fx.within("10 seconds", Queue.take(seen))
      out.push([d.room, d.data])
    }
    return out
  })

/**
 * Wait until the worker handles what is sent to `room`: send probes, one a second, until one is
 * handled (a probe released while the worker was not listening is released again by its leave, S6).
 */
const flowing = (fx: EngineFixture, producer: Client, seen: Queue.Queue<Delivery.Delivery>, room: string) =>
  fx.within(
    "20 seconds",
    Effect.gen(function*() {
      for (let n = 1;; n++) {
        const probe = `probe-${n}`
        yield* producer.send(room, probe)
        const handled = Queue.take(seen).pipe(
          Effect.repeat({ until: (d) => d.room === room && d.data === probe }),
          Effect.timeoutOption("1 second")
        )
        if (Option.isSome(yield* handled)) return
      }
    })
  )

/** The count of a worker metric for one value of its attribute. */
const count = (metric: typeof QueueMetrics.workerRejoinsTotal, attributes: Record<string, string>) =>
  Effect.map(Metric.value(Metric.withAttributes(metric, attributes)), (state) => state.count)

/** The failure a worker stopped with. */
const stopped = <E>(fx: EngineFixture, worker: RoomWorker.RoomWorker<E>) =>
  Effect.gen(function*() {
    const exit = yield* fx.within("10 seconds", Effect.exit(worker.await))
    if (Exit.isSuccess(exit)) return assert.fail("a worker never succeeds")
    const error = Cause.findErrorOption(exit.cause)
    if (Option.isNone(error)) return assert.fail(`expected a failure, got ${Cause.pretty(exit.cause)}`)
    return error.value
  })

/**
 * Declare the worker suite for one engine (see `semanticSuite` for the parameters).
 */
export const workerSuite = <R = never>(
  fixture: Effect.Effect<EngineFixture, never, Scope.Scope | R>,
  runner: "test-clock" | "live",
  options?: SemanticSuiteOptions<R>
): void => {
  const test = suiteTest(fixture, runner, options)

  describe(`RoomWorker (${runner})`, () => {
    test(
      "RoomWorker: acks each delivery its handler succeeded on; a room's deliveries in order (S3)",
      (fx, h) =>
        Effect.gen(function*() {
          const worker = yield* fx.client()
          const producer = yield* fx.client()
          const rooms = ["w-order-a", "w-order-b"]
          const { record, seen } = yield* recorder
          yield* start(worker, rooms, record)
          // live when make returns: every room has the worker as a member (S3)
          for (const room of rooms) expect(yield* isMember(producer, room, worker.clientId)).toBe(true)
          for (const i of [1, 2, 3]) {
            for (const room of rooms) yield* producer.send(room, i)
          }
          const handled = yield* take(fx, seen, 6)
          for (const room of rooms) {
            expect(handled.filter(([r]) => r === room).map(([, data]) => data)).toEqual([1, 2, 3])
          }
          // every message acked: both rooms idle, nothing handled twice
          for (const room of rooms) {
            const state = yield* h.stateWhen(producer, room, (s) => s.inFlight === null)
            expect(state).toMatchObject({ backlog: 0, inFlight: null, members: [worker.clientId] })
          }
          yield* h.settle
          expect(yield* Queue.size(seen)).toBe(0)
        })
    )

    test(
      "RoomWorker: make fails when a room cannot be joined, and leaves the rooms it joined",
      (fx, h) =>
        Effect.gen(function*() {
          const worker = yield* fx.client()
          const producer = yield* fx.client()
          const { record } = yield* recorder
          yield* h.listen(worker, "w-taken") // this client holds a subscription to it already
          const error = yield* failure(start(worker, ["w-free", "w-taken"], record))
          expect(error).toBeInstanceOf(QueueError.AlreadySubscribed)
          expect(error).toMatchObject({ room: "w-taken" })
          yield* membership(h, producer, ["w-free"], worker.clientId, false)
          expect(yield* isMember(producer, "w-taken", worker.clientId)).toBe(true)
        })
    )

    test(
      "RoomWorker: rooms run independently: a handler held in one room does not hold another",
      (fx, h) =>
        Effect.gen(function*() {
          const worker = yield* fx.client()
          const producer = yield* fx.client()
          const [slow, fast] = ["w-slow", "w-fast"]
          const { record, seen } = yield* recorder
          const held = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          yield* start(worker, [slow, fast], (d) =>
            d.data === "hold"
              ? Effect.andThen(Deferred.succeed(held, undefined), Deferred.await(release)).pipe(
                Effect.andThen(record(d))
              )
              : record(d))
          yield* producer.send(slow, "hold")
          yield* producer.send(slow, "after")
          yield* fx.within("10 seconds", Deferred.await(held))
          yield* producer.send(fast, 1)
          yield* producer.send(fast, 2)
          expect(yield* take(fx, seen, 2)).toEqual([[fast, 1], [fast, 2]])
          // the held room waits for its handler (S3): nothing of it was handled, "after" queued
          yield* h.settle
          expect(yield* Queue.size(seen)).toBe(0)
          expect((yield* h.state(producer, slow)).backlog).toBe(1)
          yield* Deferred.succeed(release, undefined)
          expect(yield* take(fx, seen, 2)).toEqual([[slow, "hold"], [slow, "after"]])
        })
    )

    test(
      "RoomWorker: a failing handler runs again per retry, then the message is rejected and the room moves on (S28)",
      (fx, h) =>
        Effect.gen(function*() {
          const worker = yield* fx.client()
          const producer = yield* fx.client()
          const room = "w-reject"
          const { record, seen } = yield* recorder
          let calls = 0
          const rejectedBefore = yield* count(QueueMetrics.workerFailuresTotal, { outcome: "reject" })
          yield* start(worker, [room], (d) => {
            if (d.data !== "bad") return record(d)
            calls++
            return Effect.fail(new Boom({ message: "no good" }))
          }, { retry: Schedule.spaced("50 millis").pipe(Schedule.upTo({ times: 2 })) })
          yield* producer.send(room, "bad")
          yield* producer.send(room, "good")
          expect(yield* take(fx, seen, 1)).toEqual([[room, "good"]])
          expect(calls).toBe(3) // the first run and 2 retries
          expect((yield* count(QueueMetrics.workerFailuresTotal, { outcome: "reject" })) - rejectedBefore).toBe(1)
          // the rejected message is settled: the room is idle, and it is not handed out again
          const state = yield* h.stateWhen(producer, room, (s) => s.inFlight === null)
          expect(state).toMatchObject({ backlog: 0, inFlight: null })
          yield* h.settle
          expect(calls).toBe(3)
        })
    )

    test(
      "RoomWorker: onFailure \"fail\" stops the worker with the handler's error, the message unsettled",
      (fx, h) =>
        Effect.gen(function*() {
          const worker = yield* fx.client()
          const producer = yield* fx.client()
          const peer = yield* fx.client()
          const room = "w-fail"
          const inbox = yield* h.listen(peer, room)
          const running = yield* start(worker, [room], () => Effect.fail(new Boom({ message: "stop here" })), {
            retry: Schedule.recurs(0),
            onFailure: "fail"
          })
          const id = yield* producer.send(room, "m1")
          const error = yield* stopped(fx, running)
          expect(error).toBeInstanceOf(Boom)
          expect(error).toMatchObject({ message: "stop here" })
          // the worker left (a plain client, S6): the peer's ack alone completes the message
          yield* membership(h, producer, [room], worker.clientId, false)
          const d = yield* h.next(inbox)
          expect(d.id).toBe(id)
          yield* d.ack
          expect((yield* h.stateWhen(producer, room, (s) => s.inFlight === null)).inFlight).toBeNull()
        })
    )

    test(
      "RoomWorker: rejoins a room after an ack-timeout ejection while its other rooms keep flowing (S11)",
      (fx, h) =>
        Effect.gen(function*() {
          const worker = yield* fx.client({ ackTimeout: "1 second" })
          const producer = yield* fx.client()
          const [stuck, flowing] = ["w-stuck", "w-flowing"]
          const { record, seen } = yield* recorder
          const held = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          const rejoinsBefore = yield* count(QueueMetrics.workerRejoinsTotal, { reason: "ack-timeout" })
          yield* start(worker, [stuck, flowing], (d) =>
            d.data === "hold"
              ? Effect.andThen(Deferred.succeed(held, undefined), Deferred.await(release))
              : record(d))
          yield* producer.send(stuck, "hold")
          yield* fx.within("10 seconds", Deferred.await(held))
          // past the ack deadline the worker is ejected from that room only (S11)
          yield* membership(h, producer, [stuck], worker.clientId, false)
          expect(yield* isMember(producer, flowing, worker.clientId)).toBe(true)
          yield* producer.send(flowing, 1)
          expect(yield* take(fx, seen, 1)).toEqual([[flowing, 1]])
          // once its handler returns, the worker joins the room again (a fresh membership, S5)
          yield* Deferred.succeed(release, undefined)
          yield* membership(h, producer, [stuck], worker.clientId)
          yield* producer.send(stuck, "again")
          yield* producer.send(flowing, 2)
          const handled = yield* take(fx, seen, 2)
          expect(handled).toEqual(expect.arrayContaining([[stuck, "again"], [flowing, 2]]))
          expect((yield* count(QueueMetrics.workerRejoinsTotal, { reason: "ack-timeout" })) - rejoinsBefore).toBe(1)
        })
    )

    test(
      "RoomWorker: rejoins every room after a partition past clientTimeout (S10)",
      (fx, h) =>
        Effect.gen(function*() {
          const worker = yield* fx.client({ clientTimeout: "2 seconds" })
          const producer = yield* fx.client()
          const rooms = ["w-cut-a", "w-cut-b"]
          const { record, seen } = yield* recorder
          const rejoinsBefore = yield* count(QueueMetrics.workerRejoinsTotal, { reason: "keepalive-timeout" })
          yield* start(worker, rooms, record)
          yield* fx.cut(worker.clientId)
          // the client gives its rooms up after clientTimeout without an answer; joins fail meanwhile
          yield* fx.advance("3 seconds")
          yield* fx.restore(worker.clientId)
          yield* h.eventually(
            "15 seconds",
            Effect.map(
              count(QueueMetrics.workerRejoinsTotal, { reason: "keepalive-timeout" }),
              (n) => n - rejoinsBefore >= rooms.length
            )
          )
          // the rooms flow again; the room state cannot show it: a join the client ejected while
          // it ran may leave a membership nobody listens to until it is left (S6), so probe each room
          for (const room of rooms) yield* flowing(fx, producer, seen, room)
        })
    )

    test(
      "RoomWorker: a fenced durable client's worker stops with ClientSuperseded (S21)",
      (fx) =>
        Effect.gen(function*() {
          const worker = yield* fx.client({ clientId: "w-fenced", clientTimeout: "3 seconds" })
          const room = "w-fenced"
          const { record } = yield* recorder
          const running = yield* start(worker, [room], record)
          yield* fx.client({ clientId: "w-fenced", clientTimeout: "3 seconds" })
          const error = yield* stopped(fx, running)
          expect(error).toBeInstanceOf(QueueError.ClientSuperseded)
          expect(error).toMatchObject({ clientId: "w-fenced" })
        })
    )

    test(
      "RoomWorker: interrupted, a plain client's worker leaves its rooms and releases what it held (S6)",
      (fx, h) =>
        Effect.gen(function*() {
          const worker = yield* fx.client()
          const producer = yield* fx.client()
          const rooms = ["w-leave-a", "w-leave-b"]
          const held = yield* Deferred.make<void>()
          const fiber = yield* fork(
            worker,
            rooms,
            () => Effect.andThen(Deferred.succeed(held, undefined), Effect.never)
          )
          yield* membership(h, producer, rooms, worker.clientId)
          yield* producer.send(rooms[0]!, "held")
          yield* fx.within("10 seconds", Deferred.await(held))
          yield* Fiber.interrupt(fiber)
          yield* membership(h, producer, rooms, worker.clientId, false)
          expect(
            (yield* h.stateWhen(producer, rooms[0]!, (s) => s.inFlight === null)).inFlight
          ).toBeNull()
        })
    )

    test(
      "RoomWorker: interrupted, a durable client with onClose \"detach\" keeps its memberships; the successor's worker gets the unsettled message again (S22, S24, S27)",
      (fx, h) =>
        Effect.gen(function*() {
          const config = { clientId: "w-detach", clientTimeout: "3 seconds", onClose: "detach" } as const
          const worker = yield* fx.client(config)
          const producer = yield* fx.client()
          const room = "w-detach"
          const held = yield* Deferred.make<void>()
          const fiber = yield* fork(
            worker,
            [room],
            () => Effect.andThen(Deferred.succeed(held, undefined), Effect.never)
          )
          yield* membership(h, producer, [room], worker.clientId)
          const id = yield* producer.send(room, "unsettled")
          yield* fx.within("10 seconds", Deferred.await(held))
          yield* Fiber.interrupt(fiber)
          yield* h.settle
          expect(yield* h.state(producer, room)).toMatchObject({ members: ["w-detach"], inFlight: id, acked: [] })
          // a successor (a new process with the same id) runs the same worker: it resumes the membership
          const successor = yield* fx.client(config)
          const { record, seen } = yield* recorder
          yield* start(successor, [room], record)
          const again = yield* fx.within("10 seconds", Queue.take(seen))
          expect(again).toMatchObject({ id, data: "unsettled", attempt: 2 })
          expect(
            (yield* h.stateWhen(producer, room, (s) => s.inFlight === null)).inFlight
          ).toBeNull()
        })
    )
  })
}
