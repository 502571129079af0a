/**
 * The lock-step barrier: S3 sync fan-out, S4 ack identity, S5 joining and S6 leaving.
 *
 * A part of the semantic suite, declared in order by `semanticSuite` (`../semantics.ts`).
 */
import { describe, expect } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Scope } from "effect"
import { sorted, type SuiteGroup } from "../harness.js"

/** Declare the tests of S3–S6. */
export const barrier = ({ test, aWhile }: SuiteGroup): void => {
  // ---------------------------------------------------------------- S3
  describe("S3 sync fan-out", () => {
    test("S3: the next message waits for every sync member's ack", (fx, h) =>
      Effect.gen(function*() {
        const [a, b, c] = yield* Effect.all([fx.client(), fx.client(), fx.client()])
        const room = "s3"
        const ia = yield* h.listen(a, room)
        const ib = yield* h.listen(b, room)
        const ic = yield* h.listen(c, room)
        const m1 = yield* a.send(room, "m1")
        const m2 = yield* a.send(room, "m2")
        const m3 = yield* a.send(room, "m3")
        const [da, db, dc] = yield* Effect.all([h.next(ia), h.next(ib), h.next(ic)])
        for (const d of [da, db, dc]) {
          expect(d.id).toBe(m1)
          expect(d.data).toBe("m1")
          expect(d.kind).toBe("queued")
          expect(d.producer).toBe(a.clientId)
          expect(d.room).toBe(room)
        }
        expect(yield* h.state(a, room)).toEqual({
          room,
          backlog: 2,
          members: sorted([a.clientId, b.clientId, c.clientId]),
          acked: [],
          inFlight: m1
        })
        yield* da.ack
        yield* db.ack
        expect(yield* h.stateWhen(b, room, (s) => s.acked.length === 2)).toEqual({
          room,
          backlog: 2,
          members: sorted([a.clientId, b.clientId, c.clientId]),
          acked: sorted([a.clientId, b.clientId]),
          inFlight: m1
        })
        yield* h.nothing(ia, ib, ic)
        // without an ackTimeout a member that never acks holds the room indefinitely
        yield* fx.advance(aWhile)
        expect((yield* h.state(a, room)).inFlight).toBe(m1)
        yield* h.nothing(ia, ib, ic)
        yield* dc.ack
        const second = yield* Effect.all([h.next(ia), h.next(ib), h.next(ic)])
        for (const d of second) expect(d.id).toBe(m2)
        expect(yield* h.state(c, room)).toMatchObject({ backlog: 1, acked: [], inFlight: m2 })
        yield* h.nothing(ia, ib, ic)
        for (const d of second) yield* d.ack
        const third = yield* Effect.all([h.next(ia), h.next(ib), h.next(ic)])
        for (const d of third) expect(d.id).toBe(m3)
        for (const d of third) yield* d.ack
        expect(yield* h.stateWhen(a, room, (s) => s.inFlight === null)).toMatchObject({
          backlog: 0,
          acked: [],
          inFlight: null
        })
        yield* h.nothing(ia, ib, ic)
      }))
  })

  // ---------------------------------------------------------------- S4
  describe("S4 ack identity", () => {
    test("S4: duplicate, stale and foreign acks have no effect", (fx, h) =>
      Effect.gen(function*() {
        const [a, b, d] = yield* Effect.all([fx.client(), fx.client(), fx.client()])
        const room = "s4"
        const ia = yield* h.listen(a, room)
        const ib = yield* h.listen(b, room)
        const id = yield* h.listen(d, room, { mode: "async" })
        const m1 = yield* a.send(room, "m1")
        const m2 = yield* a.send(room, "m2")
        yield* a.send(room, "m3")
        const [a1, b1, d1] = yield* Effect.all([h.next(ia), h.next(ib), h.next(id)])
        // duplicate
        yield* a1.ack
        yield* a1.ack
        yield* a1.ack
        const held = {
          room,
          backlog: 2,
          members: sorted([a.clientId, b.clientId]),
          acked: [a.clientId],
          inFlight: m1
        }
        expect(yield* h.state(a, room)).toEqual(held)
        yield* h.nothing(ia, ib, id)
        // foreign: an async member's ack, and acks of out-of-band deliveries
        yield* d1.ack
        yield* b.sendOutOfBand(room, "oob")
        const oobs = yield* Effect.all([h.next(ia), h.next(ib), h.next(id)])
        for (const o of oobs) {
          expect(o.kind).toBe("out-of-band")
          yield* o.ack
        }
        expect(yield* h.state(a, room)).toEqual(held)
        yield* h.nothing(ia, ib, id)
        // the last holder's ack releases m2
        yield* b1.ack
        const [a2, b2] = yield* Effect.all([h.next(ia), h.next(ib)])
        expect(a2.id).toBe(m2)
        expect(b2.id).toBe(m2)
        expect((yield* h.next(id)).id).toBe(m2)
        // stale: acks of m1 do not count for m2
        yield* a1.ack
        yield* b1.ack
        expect(yield* h.state(a, room)).toEqual({ ...held, backlog: 1, acked: [], inFlight: m2 })
        yield* h.nothing(ia, ib, id)
        yield* a2.ack
        yield* b1.ack
        expect(yield* h.state(a, room)).toEqual({ ...held, backlog: 1, acked: [a.clientId], inFlight: m2 })
        yield* h.nothing(ia, ib, id)
        yield* b2.ack
        expect((yield* h.next(ia)).data).toBe("m3")
      }))

    test("S4: an ack from a subscription that left and came back does not count", (fx, h) =>
      Effect.gen(function*() {
        const [a, b] = yield* Effect.all([fx.client(), fx.client()])
        const room = "s4-rejoin"
        const ia = yield* h.listen(a, room)
        const scope1 = yield* Scope.make()
        const ib1 = yield* h.listen(b, room, undefined, scope1)
        const m1 = yield* a.send(room, "m1")
        yield* a.send(room, "m2")
        const [a1, b1] = yield* Effect.all([h.next(ia), h.next(ib1)])
        yield* Scope.close(scope1, Exit.void)
        yield* h.ended(ib1)
        const ib2 = yield* h.listen(b, room)
        // b rejoined while m1 is in flight: not a holder of m1 (S5), its old ack is not an ack of anything
        yield* b1.ack
        expect(yield* h.state(a, room)).toEqual({
          room,
          backlog: 1,
          members: sorted([a.clientId, b.clientId]),
          acked: [],
          inFlight: m1
        })
        yield* h.nothing(ia, ib2)
        yield* a1.ack
        expect((yield* h.next(ia)).data).toBe("m2")
        expect((yield* h.next(ib2)).data).toBe("m2")
      }))
  })

  // ---------------------------------------------------------------- S5
  describe("S5 joining", () => {
    test(
      "S5: a sync member joining while m is in flight does not block m, does not get m, gets the next",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const room = "s5"
          const ia = yield* h.listen(a, room)
          const m1 = yield* a.send(room, "m1")
          const m2 = yield* a.send(room, "m2")
          yield* a.send(room, "m3")
          const a1 = yield* h.next(ia)
          const ib = yield* h.listen(b, room)
          expect(yield* h.state(b, room)).toEqual({
            room,
            backlog: 2,
            members: sorted([a.clientId, b.clientId]),
            acked: [],
            inFlight: m1
          })
          yield* h.nothing(ib)
          yield* a1.ack
          const [a2, b2] = yield* Effect.all([h.next(ia), h.next(ib)])
          expect(a2.id).toBe(m2)
          expect(b2.id).toBe(m2)
          // the joiner is a holder of m2
          yield* a2.ack
          expect(yield* h.state(a, room)).toMatchObject({ acked: [a.clientId], inFlight: m2, backlog: 1 })
          yield* h.nothing(ia, ib)
          yield* b2.ack
          expect((yield* h.next(ib)).data).toBe("m3")
          expect((yield* h.next(ia)).data).toBe("m3")
          yield* h.nothing(ia, ib)
        })
    )

    test(
      "S5: a frame released before the join is dropped even when the room was garbage-collected in between",
      (fx, h) =>
        Effect.gen(function*() {
          const room = "s5-gc"
          const [a, producer] = yield* Effect.all([fx.client(), fx.client()])
          // b's join waits for the gate; its channel is live before (frames arrive while joining)
          const listening = yield* Deferred.make<void>()
          const gate = yield* Deferred.make<void>()
          let heard = 0
          const b = yield* fx.client({}, {
            wrapBackend: (backend) => ({
              ...backend,
              listen: (r, deliver) =>
                backend.listen(r, (frame) => {
                  heard++
                  deliver(frame)
                }).pipe(Effect.andThen(Deferred.succeed(listening, undefined))),
              join: (r, options) => Effect.andThen(Deferred.await(gate), backend.join(r, options))
            })
          })
          const aScope = yield* Scope.make()
          const ia = yield* h.listen(a, room, undefined, aScope)
          const joining = yield* Effect.forkChild(h.listen(b, room))
          yield* fx.within("5 seconds", Deferred.await(listening))
          // m1 is released to a while b is still joining: b's channel hears it
          const m1 = yield* producer.send(room, "m1")
          expect((yield* h.next(ia)).id).toBe(m1)
          yield* h.eventually("5 seconds", Effect.sync(() => heard >= 1))
          // a leaves: no member, nothing queued, nothing in flight: the room is garbage-collected
          yield* Scope.close(aScope, Exit.void)
          yield* h.eventually(
            "5 seconds",
            Effect.map(h.state(producer, room), (s) => s.members.length === 0 && s.inFlight === null)
          )
          // b joins only now; m1 was released before, so b must not receive it (S5)
          yield* Deferred.succeed(gate, undefined)
          const ib = yield* fx.within("5 seconds", Fiber.join(joining))
          const m2 = yield* producer.send(room, "m2")
          expect((yield* h.next(ib)).id).toBe(m2)
        })
    )
  })

  // ---------------------------------------------------------------- S6
  describe("S6 leaving", () => {
    test(
      "S6: closing the subscription's scope leaves at once and releases the next message",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const room = "s6"
          const ia = yield* h.listen(a, room)
          const scope = yield* Scope.make()
          const ib = yield* h.listen(b, room, undefined, scope)
          yield* a.send(room, "m1")
          const m2 = yield* a.send(room, "m2")
          const [a1] = yield* Effect.all([h.next(ia), h.next(ib)])
          yield* a1.ack
          yield* h.nothing(ia)
          expect((yield* b.metrics()).subscribedRooms).toBe(1)
          yield* Scope.close(scope, Exit.void)
          const a2 = yield* h.next(ia)
          expect(a2.id).toBe(m2)
          yield* h.ended(ib)
          expect(yield* h.state(a, room)).toEqual({
            room,
            backlog: 0,
            members: [a.clientId],
            acked: [],
            inFlight: m2
          })
          expect((yield* b.metrics()).subscribedRooms).toBe(0)
          // b may join again: it joins while m2 is in flight, so it does not hold m2
          const ib2 = yield* h.listen(b, room)
          yield* h.nothing(ib2)
          yield* a2.ack
          yield* a.send(room, "m3")
          expect((yield* h.next(ib2)).data).toBe("m3")
        })
    )

    test(
      "S6: when the last holder leaves, the room moves on even if the others acked already",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b, c] = yield* Effect.all([fx.client(), fx.client(), fx.client()])
          const room = "s6-last"
          const ia = yield* h.listen(a, room)
          const ib = yield* h.listen(b, room)
          const scope = yield* Scope.make()
          const ic = yield* h.listen(c, room, undefined, scope)
          yield* a.send(room, "m1")
          yield* a.send(room, "m2")
          const [a1, b1] = yield* Effect.all([h.next(ia), h.next(ib), h.next(ic)])
          yield* a1.ack
          yield* b1.ack
          yield* h.nothing(ia, ib)
          yield* Scope.close(scope, Exit.void)
          expect((yield* h.next(ia)).data).toBe("m2")
          expect((yield* h.next(ib)).data).toBe("m2")
          expect((yield* a.roomState(room)).members).toEqual(sorted([a.clientId, b.clientId]))
        })
    )
  })
}
