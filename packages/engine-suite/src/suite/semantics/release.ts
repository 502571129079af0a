/**
 * Messages nobody holds back: S7 (no sync members), S8 (async subscribers) and S9 (out-of-band).
 *
 * A part of the semantic suite, declared in order by `semanticSuite` (`../semantics.ts`).
 */
import { describe, expect } from "@effect/vitest"
import { MessageId } from "@lockstep/core"
import { Effect, Exit, Scope } from "effect"
import { sorted, type SuiteGroup } from "../harness.js"

/** Declare the tests of S7–S9. */
export const release = ({ test }: SuiteGroup): void => {
  // ---------------------------------------------------------------- S7
  describe("S7 no sync members", () => {
    test("S7: without listeners a message is released at once and gone", (fx, h) =>
      Effect.gen(function*() {
        const [a, d] = yield* Effect.all([fx.client(), fx.client()])
        const room = "s7-nobody"
        yield* a.send(room, "lost-1")
        yield* a.send(room, "lost-2", { priority: -5 })
        expect(yield* h.state(a, room)).toEqual({ room, backlog: 0, members: [], acked: [], inFlight: null })
        expect(yield* a.peek(room)).toEqual([])
        expect((yield* a.metrics()).knownRooms).toBe(0)
        const box = yield* h.listen(d, room, { mode: "async" })
        yield* h.nothing(box)
        yield* a.send(room, "seen")
        expect(yield* h.nextData(box)).toBe("seen")
        yield* h.nothing(box)
      }))

    test(
      "S7: with only async subscribers every message is released at once to all of them",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, d, e] = yield* Effect.all([fx.client(), fx.client(), fx.client()])
          const room = "s7-async"
          const id = yield* h.listen(d, room, { mode: "async" })
          const ie = yield* h.listen(e, room, { mode: "async" })
          yield* a.send(room, "x", { priority: 9 })
          yield* a.send(room, "y", { priority: 1 })
          yield* a.send(room, "z")
          expect(yield* h.state(a, room)).toEqual({ room, backlog: 0, members: [], acked: [], inFlight: null })
          for (const box of [id, ie]) {
            const got = [yield* h.nextData(box), yield* h.nextData(box), yield* h.nextData(box)]
            expect(got).toEqual(["x", "y", "z"])
          }
          yield* h.nothing(id, ie)
        })
    )

    test(
      "S7: when the last sync member leaves, the backlog is released in priority/FIFO order",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, d] = yield* Effect.all([fx.client(), fx.client()])
          const room = "s7-drain"
          const scope = yield* Scope.make()
          const ia = yield* h.listen(a, room, undefined, scope)
          const id = yield* h.listen(d, room, { mode: "async" })
          yield* a.send(room, "first")
          yield* a.send(room, "low", { priority: 5 })
          yield* a.send(room, "high-1", { priority: 1 })
          yield* a.send(room, "high-2", { priority: 1 })
          yield* a.send(room, "top", { priority: -1 })
          expect(yield* h.nextData(ia)).toBe("first")
          expect(yield* h.nextData(id)).toBe("first")
          yield* h.nothing(id)
          expect((yield* a.roomState(room)).backlog).toBe(4)
          yield* Scope.close(scope, Exit.void)
          const got: Array<unknown> = []
          for (let i = 0; i < 4; i++) got.push(yield* h.nextData(id))
          expect(got).toEqual(["top", "high-1", "high-2", "low"])
          expect(yield* h.state(a, room)).toEqual({ room, backlog: 0, members: [], acked: [], inFlight: null })
        })
    )

    test(
      "S7: message ids are unique per producer and carry producer and sequence",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b, d] = yield* Effect.all([fx.client(), fx.client(), fx.client()])
          expect(a.clientId).not.toBe(b.clientId)
          const room = "s7-ids"
          const box = yield* h.listen(d, room, { mode: "async" })
          const sent: Array<string> = []
          for (let i = 0; i < 20; i++) {
            sent.push(yield* a.send(room, i))
            sent.push(yield* b.send(room, i))
            if (i % 5 === 0) sent.push(yield* a.sendOutOfBand(room, `oob-${i}`))
          }
          expect(new Set(sent).size).toBe(sent.length)
          const lastSequence = new Map<string, number>()
          for (let i = 0; i < sent.length; i++) {
            const delivery = yield* h.next(box)
            expect(delivery.id).toBe(sent[i])
            expect(delivery.id).toBe(MessageId.make(delivery.producer, delivery.sequence))
            expect(delivery.sequence).toBeGreaterThan(lastSequence.get(delivery.producer) ?? -1)
            lastSequence.set(delivery.producer, delivery.sequence)
          }
          expect([...lastSequence.keys()].sort()).toEqual(sorted([a.clientId, b.clientId]))
        })
    )
  })

  // ---------------------------------------------------------------- S8
  describe("S8 async subscribers", () => {
    test(
      "S8: async subscribers get every message, never block the room, and their ack is a no-op",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, d] = yield* Effect.all([fx.client(), fx.client()])
          const room = "s8"
          const ia = yield* h.listen(a, room)
          const id = yield* h.listen(d, room, { mode: "async" })
          expect((yield* a.roomState(room)).members).toEqual([a.clientId])
          const m1 = yield* a.send(room, "m1")
          yield* a.send(room, "m2")
          yield* a.send(room, "m3")
          const a1 = yield* h.next(ia)
          const d1 = yield* h.next(id)
          expect(d1.id).toBe(m1)
          yield* d1.ack
          expect(yield* h.state(a, room)).toEqual({
            room,
            backlog: 2,
            members: [a.clientId],
            acked: [],
            inFlight: m1
          })
          yield* h.nothing(id)
          yield* a.sendOutOfBand(room, "oob")
          expect(yield* h.next(id)).toMatchObject({ kind: "out-of-band", data: "oob" })
          expect(yield* h.next(ia)).toMatchObject({ kind: "out-of-band", data: "oob" })
          // d never acks anything; only a's acks move the room
          yield* a1.ack
          const a2 = yield* h.next(ia)
          expect(yield* h.nextData(id)).toBe("m2")
          yield* a2.ack
          expect(yield* h.nextData(ia)).toBe("m3")
          expect(yield* h.nextData(id)).toBe("m3")
          yield* h.nothing(ia, id)
        })
    )

    test(
      "S8: the config's mode is the default subscription mode, an explicit mode wins",
      (fx, h) =>
        Effect.gen(function*() {
          const a = yield* fx.client()
          const d = yield* fx.client({ mode: "async" })
          const s = yield* fx.client({ mode: "async" })
          const room = "s8-mode"
          yield* h.listen(d, room)
          yield* h.listen(s, room, { mode: "sync" })
          yield* h.listen(a, room, { mode: "async" })
          expect((yield* a.roomState(room)).members).toEqual([s.clientId])
        })
    )
  })

  // ---------------------------------------------------------------- S9
  describe("S9 out-of-band", () => {
    test(
      "S9: out-of-band reaches every subscriber at once despite a pending ack, and is never queued",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b, d, p] = yield* Effect.all([fx.client(), fx.client(), fx.client(), fx.client()])
          const room = "s9"
          const ia = yield* h.listen(a, room)
          const ib = yield* h.listen(b, room)
          const id = yield* h.listen(d, room, { mode: "async" })
          const m1 = yield* p.send(room, "m1")
          const m2 = yield* p.send(room, "m2")
          for (const box of [ia, ib, id]) expect((yield* h.next(box)).id).toBe(m1)
          const before = yield* h.state(p, room)
          const o1 = yield* p.sendOutOfBand(room, { alert: 1 })
          const o2 = yield* p.sendOutOfBand(room, { alert: 2 })
          for (const box of [ia, ib, id]) {
            const first = yield* h.next(box)
            const second = yield* h.next(box)
            expect(first).toMatchObject({ kind: "out-of-band", id: o1, data: { alert: 1 }, producer: p.clientId })
            expect(second).toMatchObject({ kind: "out-of-band", id: o2, data: { alert: 2 } })
            yield* first.ack
          }
          expect(yield* h.state(p, room)).toEqual(before)
          expect(before).toMatchObject({ backlog: 1, inFlight: m1, acked: [] })
          const peeked = yield* p.peek(room)
          expect(peeked.map((m) => m.id)).toEqual([m2])
          yield* h.nothing(ia, ib, id)
        })
    )

    test(
      "S9: out-of-band to a room without subscribers is dropped and leaves nothing",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const room = "s9-empty"
          yield* a.sendOutOfBand(room, "into the void")
          expect(yield* h.state(a, room)).toEqual({ room, backlog: 0, members: [], acked: [], inFlight: null })
          expect(yield* a.peek(room)).toEqual([])
          expect((yield* a.metrics()).knownRooms).toBe(0)
          const box = yield* h.listen(b, room)
          yield* h.nothing(box)
          yield* a.sendOutOfBand(room, "now")
          expect(yield* h.next(box)).toMatchObject({ kind: "out-of-band", data: "now" })
        })
    )
  })
}
