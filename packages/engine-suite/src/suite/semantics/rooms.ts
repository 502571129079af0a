/**
 * S1 rooms and S2 send: which names are rooms (each one isolated, bad ones a typed error that
 * writes nothing), and the order of delivery (priority, then FIFO).
 *
 * A part of the semantic suite, declared in order by `semanticSuite` (`../semantics.ts`).
 */
import { assert, describe, expect } from "@effect/vitest"
import { QueueError } from "@lockstep/core"
import { Effect } from "effect"
import { failure, type Inbox, type SuiteGroup } from "../harness.js"

/** Declare the tests of S1 and S2. */
export const roomsAndSend = ({ test }: SuiteGroup): void => {
  // ---------------------------------------------------------------- S1
  describe("S1 rooms", () => {
    test(
      "S1: an invalid room (empty, 257 code units, not a string) is InvalidRoom and writes nothing",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const long = "r".repeat(257)
          const near = long.slice(0, 256)
          const watch = yield* h.listen(b, near, { mode: "async" })
          const bad: ReadonlyArray<unknown> = ["", long, "🎉".repeat(128) + "x", 42, null, undefined, { room: "x" }]
          for (const room of bad) {
            const r = room as string
            const errors = [
              yield* failure(a.send(r, "x")),
              yield* failure(a.send(r, "x", { priority: 1 })),
              yield* failure(a.sendOutOfBand(r, "x")),
              yield* failure(a.subscribe(r)),
              yield* failure(a.subscribe(r, { mode: "async" })),
              yield* failure(a.peek(r)),
              yield* failure(a.roomState(r))
            ]
            for (const error of errors) {
              expect(error).toBeInstanceOf(QueueError.InvalidRoom)
              expect(error.message).toContain("invalid room")
            }
          }
          const metrics = yield* a.metrics()
          expect(metrics.knownRooms).toBe(0)
          expect(metrics.subscribedRooms).toBe(0)
          expect(yield* h.state(a, near)).toEqual({ room: near, backlog: 0, members: [], acked: [], inFlight: null })
          expect(yield* a.peek(near)).toEqual([])
          yield* h.nothing(watch)
          // the client still works after all that
          const id = yield* a.send(near, "ok")
          const d = yield* h.next(watch)
          expect(d.id).toBe(id)
          expect(d.data).toBe("ok")
        })
    )

    test(
      "S1: 256 code units, emoji, braces, colons, bars and spaces are valid and isolated rooms",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const rooms = [
            "x".repeat(256),
            "x".repeat(255),
            "🎉".repeat(128),
            "🎉",
            "{room}",
            "room",
            "{",
            "}{",
            "a:b",
            "a",
            "a b",
            " ",
            "a|b",
            "ключ",
            "1|{\"k\":\"q\"}"
          ]
          const boxes: Array<Inbox> = []
          for (const room of rooms) boxes.push(yield* h.listen(b, room))
          const ids: Array<string> = []
          for (let i = 0; i < rooms.length; i++) ids.push(yield* a.send(rooms[i]!, { i }))
          for (let i = 0; i < rooms.length; i++) {
            const d = yield* h.next(boxes[i]!)
            expect(d.room).toBe(rooms[i])
            expect(d.data).toEqual({ i })
            expect(d.id).toBe(ids[i])
          }
          yield* h.nothing(...boxes)
          for (let i = 0; i < rooms.length; i++) {
            expect(yield* h.state(a, rooms[i]!)).toEqual({
              room: rooms[i],
              backlog: 0,
              members: [b.clientId],
              acked: [],
              inFlight: ids[i]
            })
          }
          // a second message queues per room, independently
          yield* a.send(rooms[0]!, "second")
          for (let i = 1; i < rooms.length; i++) expect((yield* a.roomState(rooms[i]!)).backlog).toBe(0)
          expect((yield* a.roomState(rooms[0]!)).backlog).toBe(1)
          expect(yield* a.peek(rooms[1]!)).toEqual([])
        })
    )

    test(
      "S1: a room with a lone surrogate is InvalidRoom and writes nothing; its U+FFFD namesake is a room of its own",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          // what a UTF-8 encoder (ioredis) turns each of these into: "lone-\uFFFD"
          const replaced = "lone-\uFFFD"
          const watch = yield* h.listen(b, replaced)
          const lone = ["lone-\uD800", "lone-\uDC00", "lone-\uDBFF", "lone-\uDC00\uD800", "lone-\uD800\uD800\uDC00"]
          for (const room of lone) {
            const errors = [
              yield* failure(a.send(room, "x")),
              yield* failure(a.sendOutOfBand(room, "x")),
              yield* failure(a.subscribe(room)),
              yield* failure(a.subscribe(room, { mode: "async" })),
              // all joined or none: the valid room listed first is not joined either
              yield* failure(a.subscribeMany(["fine", room])),
              yield* failure(a.peek(room)),
              yield* failure(a.roomState(room))
            ]
            for (const error of errors) {
              expect(error).toBeInstanceOf(QueueError.InvalidRoom)
              assert(error instanceof QueueError.InvalidRoom)
              expect(error.room).toBe(room)
              expect(error.reason).toContain("lone surrogate")
              expect(error.message).toContain("well-formed UTF-16")
            }
          }
          // nothing written: no room but the one b listens to, no backlog, nobody joined
          expect((yield* a.rooms()).rooms).toEqual([replaced])
          expect(yield* h.state(a, replaced)).toEqual({
            room: replaced,
            backlog: 0,
            members: [b.clientId],
            acked: [],
            inFlight: null
          })
          expect(yield* h.state(a, "fine")).toEqual({
            room: "fine",
            backlog: 0,
            members: [],
            acked: [],
            inFlight: null
          })
          const metrics = yield* a.metrics()
          expect(metrics.knownRooms).toBe(0)
          expect(metrics.subscribedRooms).toBe(0)
          expect(metrics.stalled).toEqual([])
          yield* h.nothing(watch)
          // the namesake and a well-formed pair (U+10000) are rooms of their own
          const pair = "lone-\uD800\uDC00"
          const other = yield* h.listen(a, pair)
          const m1 = yield* a.send(replaced, "to the replacement")
          const m2 = yield* b.send(pair, "to the pair")
          expect((yield* h.next(watch)).id).toBe(m1)
          expect((yield* h.next(other)).id).toBe(m2)
          yield* h.nothing(watch, other)
          expect((yield* a.roomState(replaced)).members).toEqual([b.clientId])
          expect((yield* a.roomState(pair)).members).toEqual([a.clientId])
        })
    )
  })

  // ---------------------------------------------------------------- S2
  describe("S2 send", () => {
    test(
      "S2: lower priority is delivered first, equal priorities in strict FIFO order, default 0",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const room = "s2"
          const box = yield* h.listen(b, room)
          yield* a.send(room, "gate")
          const gate = yield* h.next(box)
          expect(gate.data).toBe("gate")
          expect(gate.priority).toBe(0)
          const sends: ReadonlyArray<readonly [string, number | undefined]> = [
            ["p5a", 5],
            ["m1a", -1],
            ["d0a", undefined],
            ["p5b", 5],
            ["m1b", -1],
            ["d0b", 0],
            ["max", Number.MAX_SAFE_INTEGER],
            ["min", Number.MIN_SAFE_INTEGER],
            ["d0c", undefined],
            ["p5c", 5],
            ["m1c", -1]
          ]
          for (const [data, priority] of sends) {
            yield* a.send(room, data, priority === undefined ? undefined : { priority })
          }
          const expected = ["min", "m1a", "m1b", "m1c", "d0a", "d0b", "d0c", "p5a", "p5b", "p5c", "max"]
          const peeked = yield* a.peek(room)
          expect(peeked.map((m) => m.data)).toEqual(expected)
          const delivered = yield* h.drain(box, gate, expected.length)
          expect(delivered.map((d) => d.data)).toEqual(expected)
          expect(delivered.map((d) => d.priority)).toEqual([
            Number.MIN_SAFE_INTEGER,
            -1,
            -1,
            -1,
            0,
            0,
            0,
            5,
            5,
            5,
            Number.MAX_SAFE_INTEGER
          ])
          yield* h.nothing(box)
        })
    )

    test("S2: equal priorities from several producers keep arrival order", (fx, h) =>
      Effect.gen(function*() {
        const [a, b, c] = yield* Effect.all([fx.client(), fx.client(), fx.client()])
        const room = "s2-producers"
        const box = yield* h.listen(b, room)
        yield* a.send(room, "gate")
        const gate = yield* h.next(box)
        const expected: Array<string> = []
        for (let i = 0; i < 6; i++) {
          yield* a.send(room, `a${i}`, { priority: 1 })
          yield* c.send(room, `c${i}`, { priority: 1 })
          expected.push(`a${i}`, `c${i}`)
        }
        yield* c.send(room, "urgent", { priority: 0 })
        const delivered = yield* h.drain(box, gate, expected.length + 1)
        expect(delivered.map((d) => d.data)).toEqual(["urgent", ...expected])
        for (const d of delivered) expect(d.producer).toBe(String(d.data).startsWith("a") ? a.clientId : c.clientId)
      }))

    test(
      "S2: a priority that is not a safe integer is InvalidArgument and sends nothing",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const room = "s2-invalid"
          const box = yield* h.listen(b, room)
          yield* a.send(room, "gate")
          yield* h.next(box)
          const before = yield* h.state(a, room)
          const bad: ReadonlyArray<unknown> = [1.5, Number.NaN, 2 ** 60, 2 ** 53, Infinity, -Infinity, "1", null]
          for (const priority of bad) {
            const error = yield* failure(a.send(room, "bad", { priority: priority as number }))
            expect(error).toBeInstanceOf(QueueError.InvalidArgument)
            expect(error.message).toContain("priority")
          }
          expect(yield* h.state(a, room)).toEqual(before)
          expect(before.backlog).toBe(0)
          expect(yield* a.peek(room)).toEqual([])
          yield* h.nothing(box)
        })
    )
  })
}
