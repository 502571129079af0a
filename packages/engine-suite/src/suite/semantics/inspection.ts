/**
 * What a client reads about rooms and itself: S13 peek, S14 room state, S15 metrics and spans.
 *
 * A part of the semantic suite, declared in order by `semanticSuite` (`../semantics.ts`).
 */
import { describe, expect } from "@effect/vitest"
import { type Delivery, MessageId, QueueError, QueueMetrics } from "@lockstep/core"
import { Duration, Effect, Metric, Option, Tracer } from "effect"
import { failure, type Inbox, sorted, type SuiteGroup } from "../harness.js"

/** Declare the tests of S13–S15. */
export const inspection = ({ test, runner }: SuiteGroup): void => {
  // ---------------------------------------------------------------- S13
  describe("S13 peek", () => {
    test(
      "S13: peek lists queued messages in delivery order, with offset and limit, and changes nothing",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const room = "s13"
          const box = yield* h.listen(b, room)
          const m0 = yield* a.send(room, "m0")
          const gate = yield* h.next(box)
          const ids = new Map<string, string>()
          for (const [data, priority] of [["p3", 3], ["p1a", 1], ["p2", 2], ["p1b", 1], ["p0", 0]] as const) {
            ids.set(data, yield* a.send(room, data, { priority }))
          }
          const order = ["p0", "p1a", "p1b", "p2", "p3"]
          const before = yield* h.state(a, room)
          expect(before).toMatchObject({ backlog: 5, inFlight: m0 })
          const all = yield* a.peek(room)
          expect(all.map((m) => m.data)).toEqual(order)
          for (const m of all) {
            expect(m.id).toBe(ids.get(m.data as string))
            expect(m.room).toBe(room)
            expect(m.producer).toBe(a.clientId)
            expect(m.id).toBe(MessageId.make(m.producer, m.sequence))
            expect(m.sentAt).toBeInstanceOf(Date)
            expect(m.priority).toBe(Number((m.data as string)[1]))
          }
          expect(yield* b.peek(room)).toEqual(all)
          expect((yield* a.peek(room, { offset: 1, limit: 2 })).map((m) => m.data)).toEqual(["p1a", "p1b"])
          expect((yield* a.peek(room, { limit: 1 })).map((m) => m.data)).toEqual(["p0"])
          expect((yield* a.peek(room, { offset: 4 })).map((m) => m.data)).toEqual(["p3"])
          expect(yield* a.peek(room, { offset: 5 })).toEqual([])
          expect(yield* a.peek(room, { offset: 1000, limit: 10_000 })).toEqual([])
          expect(yield* a.peek("s13-unknown")).toEqual([])
          for (
            const options of [
              { offset: -1 },
              { offset: 1.5 },
              { offset: Number.NaN },
              { limit: 0 },
              {
                limit: -1
              },
              { limit: 10_001 },
              { limit: 2.5 },
              { offset: "1" as unknown as number }
            ]
          ) {
            const error = yield* failure(a.peek(room, options))
            expect(error).toBeInstanceOf(QueueError.InvalidArgument)
          }
          expect(yield* h.state(a, room)).toEqual(before)
          yield* h.nothing(box)
          const delivered = yield* h.drain(box, gate, 5)
          expect(delivered.map((d) => d.data)).toEqual(order)
          expect(yield* a.peek(room)).toEqual([])
        })
    )
  })

  // ---------------------------------------------------------------- S14
  describe("S14 room state", () => {
    test(
      "S14: roomState reports backlog, sorted sync members, acked members and the in-flight id and age",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b, c, d] = yield* Effect.all([fx.client(), fx.client(), fx.client(), fx.client()])
          const room = "s14"
          const empty = yield* a.roomState(room)
          expect(empty).toEqual({ room, backlog: 0, members: [], acked: [], inFlight: Option.none(), paused: false })
          const ia = yield* h.listen(a, room)
          const ib = yield* h.listen(b, room)
          const ic = yield* h.listen(c, room)
          yield* h.listen(d, room, { mode: "async" })
          const members = sorted([a.clientId, b.clientId, c.clientId])
          expect(yield* h.state(d, room)).toEqual({ room, backlog: 0, members, acked: [], inFlight: null })
          const t0 = Date.now()
          const m1 = yield* a.send(room, "m1")
          const m2 = yield* a.send(room, "m2")
          yield* a.send(room, "m3")
          const [a1, b1, c1] = yield* Effect.all([h.next(ia), h.next(ib), h.next(ic)])
          const state = yield* a.roomState(room)
          expect(state.backlog).toBe(2)
          expect(state.members).toEqual(members)
          const inFlight = Option.getOrThrow(state.inFlight)
          expect(inFlight.id).toBe(m1)
          expect(inFlight.releasedAt).toBeInstanceOf(Date)
          if (runner === "live") expect(Math.abs(inFlight.releasedAt.getTime() - t0)).toBeLessThan(5_000)
          const wait = runner === "test-clock" ? Duration.seconds(2) : Duration.millis(300)
          yield* fx.advance(wait)
          const aged = Option.getOrThrow((yield* a.roomState(room)).inFlight)
          expect(Duration.toMillis(aged.age)).toBeGreaterThanOrEqual(Duration.toMillis(wait) - 50)
          if (runner === "test-clock") expect(Duration.toMillis(aged.age)).toBe(2000)
          expect(aged.releasedAt.getTime()).toBe(inFlight.releasedAt.getTime())
          yield* c1.ack
          expect((yield* h.stateWhen(a, room, (s) => s.acked.length === 1)).acked).toEqual([c.clientId])
          yield* a1.ack // a's own ack reaches the server before a's next operation
          expect((yield* a.roomState(room)).acked).toEqual(sorted([a.clientId, c.clientId]))
          yield* b1.ack
          yield* h.stateWhen(a, room, (s) => s.inFlight === m2)
          const after = yield* a.roomState(room)
          expect(after).toMatchObject({ backlog: 1, acked: [], members })
          expect(Option.getOrThrow(after.inFlight).id).toBe(m2)
        })
    )
  })

  // ---------------------------------------------------------------- S15
  describe("S15 metrics", () => {
    test(
      "S15: metrics report known rooms, top rooms, clients, subscriptions, counts and latency",
      (fx, h) =>
        Effect.gen(function*() {
          const receivedBefore = (yield* Metric.value(QueueMetrics.receivedTotal)).count
          const sentBefore = (yield* Metric.value(QueueMetrics.sentTotal)).count
          const latencyBefore = (yield* Metric.value(QueueMetrics.latencyMs)).count
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const initial = yield* a.metrics()
          expect(initial).toMatchObject({ knownRooms: 0, topRooms: [], knownClients: 2, subscribedRooms: 0 })
          expect(initial.received).toBe(0)
          expect(initial.invalid).toBe(0)
          expect(Duration.toMillis(initial.latency.max)).toBe(0)
          const boxes = new Map<string, Inbox>()
          for (const room of ["s15-r1", "s15-r2", "s15-r3", "s15-r4"]) boxes.set(room, yield* h.listen(b, room))
          for (const [room, n] of [["s15-r1", 4], ["s15-r2", 2], ["s15-r3", 3], ["s15-r4", 1]] as const) {
            for (let i = 0; i < n; i++) yield* a.send(room, `${room}-${i}`)
          }
          const firsts = new Map<string, Delivery.Delivery>()
          for (const [room, box] of boxes) firsts.set(room, yield* h.next(box))
          const top2 = yield* a.metrics({ topRooms: 2 })
          expect(top2.knownRooms).toBe(3)
          expect(top2.topRooms).toEqual([{ room: "s15-r1", backlog: 3 }, { room: "s15-r3", backlog: 2 }])
          expect(top2.knownClients).toBe(2)
          expect(top2.subscribedRooms).toBe(0)
          expect((yield* a.metrics()).topRooms).toEqual([
            { room: "s15-r1", backlog: 3 },
            { room: "s15-r3", backlog: 2 },
            { room: "s15-r2", backlog: 1 }
          ])
          expect((yield* a.metrics({ topRooms: 0 })).topRooms).toEqual([])
          for (const topRooms of [-1, 1.5, Number.NaN]) {
            expect(yield* failure(a.metrics({ topRooms }))).toBeInstanceOf(QueueError.InvalidArgument)
          }
          const mb = yield* b.metrics()
          expect(mb).toMatchObject({ subscribedRooms: 4, received: 4, invalid: 0, knownRooms: 3 })
          // a message that waited in the queue has a latency of at least the wait
          const wait = runner === "test-clock" ? Duration.millis(1500) : Duration.millis(300)
          yield* fx.advance(wait)
          yield* firsts.get("s15-r1")!.ack
          const second = yield* h.next(boxes.get("s15-r1")!)
          expect(second.data).toBe("s15-r1-1")
          expect(Duration.toMillis(second.latency)).toBeGreaterThanOrEqual(Duration.toMillis(wait) - 50)
          const { latency, received } = yield* b.metrics()
          expect(received).toBe(5)
          const ms = Duration.toMillis
          expect(ms(latency.max)).toBeGreaterThanOrEqual(ms(wait) - 50)
          expect(ms(latency.min)).toBeLessThanOrEqual(ms(latency.p50))
          expect(ms(latency.p50)).toBeLessThanOrEqual(ms(latency.p99))
          expect(ms(latency.p99)).toBeLessThanOrEqual(ms(latency.max))
          expect(ms(latency.avg)).toBeGreaterThanOrEqual(ms(latency.min))
          expect(ms(latency.avg)).toBeLessThanOrEqual(ms(latency.max))
          // r1 and r3 now tie at 2; the order among equal backlogs is not specified
          expect((yield* a.metrics()).topRooms.slice(0, 2)).toContainEqual({ room: "s15-r1", backlog: 2 })
          // the same figures as Effect Metrics (process-wide, so at least ours)
          expect((yield* Metric.value(QueueMetrics.receivedTotal)).count - receivedBefore).toBeGreaterThanOrEqual(5)
          expect((yield* Metric.value(QueueMetrics.sentTotal)).count - sentBefore).toBeGreaterThanOrEqual(10)
          expect((yield* Metric.value(QueueMetrics.latencyMs)).count - latencyBefore).toBeGreaterThanOrEqual(5)
        })
    )
    test("S15: operations run in spans when a tracer is installed", (fx, h) =>
      Effect.gen(function*() {
        const builtin = yield* Effect.tracer
        const names: Array<string> = []
        const recording = Tracer.make({
          span: (options) => {
            names.push(options.name)
            return builtin.span(options)
          },
          context: builtin.context
        })
        yield* Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const room = "s15-spans"
          const box = yield* h.listen(b, room)
          yield* a.send(room, 1)
          yield* (yield* h.next(box)).ack
          yield* a.sendOutOfBand(room, 2)
          yield* h.next(box)
          yield* a.peek(room)
          yield* a.roomState(room)
          yield* a.metrics()
        }).pipe(Effect.withTracer(recording))
        for (const op of ["subscribe", "send", "ack", "sendOutOfBand", "peek", "roomState", "metrics"]) {
          expect(names).toContain(`SyncFanoutQueue.${op}`)
        }
      }))
  })
}
