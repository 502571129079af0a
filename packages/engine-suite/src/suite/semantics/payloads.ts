/**
 * S16 payloads (JSON, size, the typed API) and bad input (a typed error, no state changed).
 *
 * A part of the semantic suite, declared in order by `semanticSuite` (`../semantics.ts`).
 */
import { describe, expect } from "@effect/vitest"
import { QueueError, QueueMetrics, SyncFanoutQueue, TypedQueue } from "@lockstep/core"
import { Deferred, Effect, Exit, Metric, Schema, Scope } from "effect"
import { failure, inbox, type SuiteGroup } from "../harness.js"

/** Declare the tests of S16 and of bad input. */
export const payloads = ({ test }: SuiteGroup): void => {
  // ---------------------------------------------------------------- S16
  describe("S16 payloads", () => {
    const Item = Schema.Struct({
      n: Schema.NumberFromString.pipe(Schema.decodeTo(Schema.Int)),
      label: Schema.optional(Schema.String)
    })

    test("S16: the typed API encodes on send and decodes on receive", (fx, h) =>
      Effect.gen(function*() {
        const [a, b] = yield* Effect.all([fx.client(), fx.client()])
        const typedA = yield* TypedQueue.make(Item).pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, a))
        const typedB = yield* TypedQueue.make(Item).pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, b))
        const room = "s16-typed"
        const raw = yield* h.listen(a, room, { mode: "async" })
        const typed = yield* inbox(yield* typedB.subscribe(room))
        const id = yield* typedA.send(room, { n: 1, label: "one" })
        expect(yield* h.next(raw)).toMatchObject({ id, data: { n: "1", label: "one" } })
        const got = yield* h.next(typed)
        expect(got).toMatchObject({ id, data: { n: 1, label: "one" }, kind: "queued" })
        yield* typedA.sendOutOfBand(room, { n: 2 })
        expect(yield* h.next(typed)).toMatchObject({ kind: "out-of-band", data: { n: 2 } })
        yield* typedA.send(room, { n: 3 })
        expect((yield* typedA.peek(room)).map((m) => m.data)).toEqual([{ n: 3 }])
        yield* got.ack
        expect((yield* h.next(typed)).data).toEqual({ n: 3 })
      }))

    test(
      "S16: a value the schema cannot encode is InvalidArgument and nothing is sent",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const typedA = yield* TypedQueue.make(Item).pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, a))
          const room = "s16-encode"
          const box = yield* h.listen(b, room, { mode: "async" })
          for (const bad of [{ n: 1.5 }, { n: 1, label: 7 as unknown as string }]) {
            const e1 = yield* failure(typedA.send(room, bad))
            expect(e1).toBeInstanceOf(QueueError.InvalidArgument)
            expect(e1.message).toContain("cannot encode")
            expect(yield* failure(typedA.sendOutOfBand(room, bad))).toBeInstanceOf(QueueError.InvalidArgument)
          }
          expect(yield* h.state(a, room)).toEqual({ room, backlog: 0, members: [], acked: [], inFlight: null })
          yield* h.nothing(box)
        })
    )

    test(
      "S16: an undecodable delivery is counted invalid, acked and skipped; the stream goes on",
      (fx, h) =>
        Effect.gen(function*() {
          const invalidBefore = (yield* Metric.value(QueueMetrics.invalidTotal)).count
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const typedB = yield* TypedQueue.make(Item).pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, b))
          const room = "s16-decode"
          const box = yield* inbox(yield* typedB.subscribe(room))
          yield* a.send(room, { n: "not a number" })
          yield* a.send(room, "not even an object")
          const good = yield* a.send(room, { n: "7" })
          yield* a.send(room, { n: "8" })
          const d = yield* h.next(box)
          expect(d.id).toBe(good)
          expect(d.data).toEqual({ n: 7 })
          // the bad ones were acked by the typed stream, so the room moved on to `good`
          expect(yield* h.state(a, room)).toMatchObject({ inFlight: good, backlog: 1 })
          expect((yield* b.metrics()).invalid).toBe(2)
          expect((yield* Metric.value(QueueMetrics.invalidTotal)).count - invalidBefore).toBeGreaterThanOrEqual(2)
          yield* a.sendOutOfBand(room, 42)
          yield* d.ack
          expect((yield* h.next(box)).data).toEqual({ n: 8 })
          expect((yield* b.metrics()).invalid).toBe(3)
          expect(yield* Deferred.isDone(box.done)).toBe(false)
        })
    )

    test(
      "S16: a payload above maxPayloadBytes is PayloadTooLarge and nothing is sent",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client({ maxPayloadBytes: 64 }), fx.client()])
          const room = "s16-size"
          const box = yield* h.listen(b, room, { mode: "async" })
          const big = "x".repeat(100)
          const e = yield* failure(a.send(room, big))
          expect(e).toBeInstanceOf(QueueError.PayloadTooLarge)
          expect(e).toMatchObject({ limit: 64 })
          expect((e as QueueError.PayloadTooLarge).size).toBeGreaterThan(64)
          expect(e.message).toContain("maxPayloadBytes")
          expect(yield* failure(a.sendOutOfBand(room, big))).toBeInstanceOf(QueueError.PayloadTooLarge)
          // bytes, not UTF-16 code units: 32 × "é" is 34 characters of JSON but 66 bytes
          const wide = yield* failure(a.send(room, "é".repeat(32)))
          expect(wide).toMatchObject({ _tag: "PayloadTooLarge", size: 66, limit: 64 })
          yield* h.nothing(box)
          expect(yield* h.state(b, room)).toEqual({ room, backlog: 0, members: [], acked: [], inFlight: null })
          // data up to the limit is accepted
          yield* a.send(room, "é".repeat(31))
          yield* a.send(room, "y".repeat(62))
          expect(yield* h.nextData(box)).toBe("é".repeat(31))
          expect(yield* h.nextData(box)).toBe("y".repeat(62))
        })
    )

    test(
      "S16: data that is not JSON is InvalidArgument and nothing is sent",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const room = "s16-json"
          const box = yield* h.listen(b, room)
          const circular: Record<string, unknown> = {}
          circular.self = circular
          const bad: ReadonlyArray<unknown> = [BigInt(1), { n: BigInt(2) }, undefined, () => 1, Symbol("s"), circular]
          for (const data of bad) {
            expect(yield* failure(a.send(room, data))).toBeInstanceOf(QueueError.InvalidArgument)
            expect(yield* failure(a.sendOutOfBand(room, data))).toBeInstanceOf(QueueError.InvalidArgument)
          }
          expect(yield* h.state(a, room)).toEqual({
            room,
            backlog: 0,
            members: [b.clientId],
            acked: [],
            inFlight: null
          })
          yield* h.nothing(box)
          for (const data of [null, 0, "", [], {}, { nested: [1, { x: true }] }]) {
            yield* a.sendOutOfBand(room, data)
            expect(yield* h.nextData(box)).toEqual(data)
          }
        })
    )
  })

  // ---------------------------------------------------------------- subscriptions and bad input
  describe("subscriptions and bad input", () => {
    test(
      "AlreadySubscribed: a client holds at most one subscription per room at a time",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const room = "already"
          const scope = yield* Scope.make()
          const ia = yield* h.listen(a, room, undefined, scope)
          for (const mode of [undefined, "sync", "async"] as const) {
            const error = yield* failure(a.subscribe(room, mode === undefined ? undefined : { mode }))
            expect(error).toBeInstanceOf(QueueError.AlreadySubscribed)
            expect(error).toMatchObject({ room })
            expect(error.message).toContain("already subscribed")
          }
          expect((yield* a.metrics()).subscribedRooms).toBe(1)
          expect((yield* a.roomState(room)).members).toEqual([a.clientId])
          // the first subscription still works; another client may subscribe
          const ib = yield* h.listen(b, room)
          yield* b.send(room, "hello")
          expect(yield* h.nextData(ia)).toBe("hello")
          expect(yield* h.nextData(ib)).toBe("hello")
          yield* Scope.close(scope, Exit.void)
          yield* h.ended(ia)
          const again = yield* h.listen(a, room, { mode: "async" })
          yield* b.sendOutOfBand(room, "again")
          expect(yield* h.nextData(again)).toBe("again")
        })
    )

    test("bad input changes no state", (fx, h) =>
      Effect.gen(function*() {
        const [a, b] = yield* Effect.all([fx.client({ maxPayloadBytes: 1024 }), fx.client()])
        const room = "bad-input"
        const box = yield* h.listen(b, room)
        yield* a.send(room, "m1")
        yield* a.send(room, "m2", { priority: 2 })
        const first = yield* h.next(box)
        const state = yield* h.state(a, room)
        const peeked = yield* a.peek(room)
        // the figures that change with time alone are left out: latency, the in-flight age (S26)
        const figures = (m: QueueMetrics.QueueMetrics) => ({
          ...m,
          latency: null,
          stalled: m.stalled.map((r) => ({ ...r, age: null }))
        })
        const metricsA = figures(yield* a.metrics())
        const metricsB = figures(yield* b.metrics())
        const attempts: ReadonlyArray<Effect.Effect<unknown, unknown, Scope.Scope>> = [
          a.send("", 1),
          a.send(room, 1, { priority: 0.5 }),
          a.send(room, BigInt(1)),
          a.send(room, "z".repeat(2048)),
          a.sendOutOfBand("r".repeat(300), 1),
          a.sendOutOfBand(room, undefined),
          a.subscribe(room, { mode: "bogus" as "sync" }),
          a.subscribe(""),
          b.subscribe(room),
          a.peek(room, { limit: 0 }),
          a.roomState(""),
          a.metrics({ topRooms: -3 })
        ]
        for (const attempt of attempts) yield* failure(attempt)
        expect(yield* h.state(a, room)).toEqual(state)
        expect(yield* a.peek(room)).toEqual(peeked)
        expect(figures(yield* a.metrics())).toEqual(metricsA)
        expect(figures(yield* b.metrics())).toEqual(metricsB)
        yield* h.nothing(box)
        // a failed subscribe left no trace: the room can be joined
        const ia = yield* h.listen(a, room, { mode: "async" })
        yield* first.ack
        expect(yield* h.nextData(box)).toBe("m2")
        expect(yield* h.nextData(ia)).toBe("m2")
      }))
  })
}
