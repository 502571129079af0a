/**
 * S12: resync after a connection blip.
 *
 * A part of the semantic suite, declared in order by `semanticSuite` (`../semantics.ts`).
 */
import { describe, expect } from "@effect/vitest"
import { Deferred, Effect, Option, Schedule } from "effect"
import { sorted, type SuiteGroup } from "../harness.js"

/** Declare the tests of S12. */
export const resync = ({ test }: SuiteGroup): void => {
  // ---------------------------------------------------------------- S12
  describe("S12 resync", () => {
    test(
      "S12: a member that missed m during a cut gets m after the reconnect, and its ack moves the room",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const room = "s12"
          const ia = yield* h.listen(a, room)
          const ib = yield* h.listen(b, room)
          yield* fx.cut(b.clientId)
          const m1 = yield* a.send(room, "m1")
          const m2 = yield* a.send(room, "m2")
          const a1 = yield* h.next(ia)
          expect(a1.id).toBe(m1)
          yield* a1.ack
          yield* h.nothing(ib)
          expect(yield* h.state(a, room)).toEqual({
            room,
            backlog: 1,
            members: sorted([a.clientId, b.clientId]),
            acked: [a.clientId],
            inFlight: m1
          })
          yield* fx.restore(b.clientId)
          // well before the default clientTimeout (15 s)
          const b1 = yield* h.next(ib, "3 seconds")
          expect(b1.id).toBe(m1)
          expect(b1.data).toBe("m1")
          yield* b1.ack
          expect((yield* h.next(ia, "3 seconds")).id).toBe(m2)
          expect((yield* h.next(ib, "3 seconds")).id).toBe(m2)
          expect(yield* Deferred.isDone(ib.done)).toBe(false)
        })
    )

    test("S12: a member that got m before a cut can ack it after the reconnect", (fx, h) =>
      Effect.gen(function*() {
        // an ack caught by the cut fails within b's operationTimeout; the retry then goes through
        const [a, b] = yield* Effect.all([fx.client(), fx.client({ operationTimeout: "500 millis" })])
        const room = "s12-acked-late"
        const ia = yield* h.listen(a, room)
        const ib = yield* h.listen(b, room)
        const m1 = yield* a.send(room, "m1")
        const m2 = yield* a.send(room, "m2")
        const [a1, b1] = yield* Effect.all([h.next(ia), h.next(ib)])
        yield* a1.ack
        yield* fx.cut(b.clientId)
        yield* fx.restore(b.clientId)
        // the ack goes through once the connection is back (a live engine may need a moment)
        yield* fx.within("3 seconds", Effect.retry(b1.ack, Schedule.spaced("50 millis")))
        yield* h.eventually(
          "3 seconds",
          Effect.map(a.roomState(room), (s) => Option.getOrNull(s.inFlight)?.id === m2)
        )
        // a re-delivery, if any, carries the same id so it can be de-duplicated
        let d = yield* h.next(ib, "3 seconds")
        while (d.id === m1) d = yield* h.next(ib, "3 seconds")
        expect(d.id).toBe(m2)
      }))

    test(
      "S12: an ack lost during a cut is repeated by the client after the reconnect",
      (fx, h) =>
        Effect.gen(function*() {
          // b's operations give up quickly while cut, well within its clientTimeout
          const [a, b] = yield* Effect.all([fx.client(), fx.client({ operationTimeout: "300 millis" })])
          const room = "s12-lost-ack"
          const ia = yield* h.listen(a, room)
          const ib = yield* h.listen(b, room)
          const m1 = yield* a.send(room, "m1")
          const m2 = yield* a.send(room, "m2")
          const [a1, b1] = yield* Effect.all([h.next(ia), h.next(ib)])
          yield* a1.ack
          yield* fx.cut(b.clientId)
          // the consumer acks while the connection is down: the ack does not wait for the server,
          // so it succeeds, and is lost in transit: m1 stays in flight, held by b
          yield* b1.ack
          yield* h.settle
          expect(yield* h.state(a, room)).toMatchObject({ acked: [a.clientId], inFlight: m1 })
          yield* fx.restore(b.clientId)
          // the client itself repeats the ack after the reconnect, so the room moves on
          yield* h.eventually(
            "5 seconds",
            Effect.map(a.roomState(room), (s) => Option.getOrNull(s.inFlight)?.id === m2)
          )
          expect((yield* h.next(ib, "3 seconds")).id).toBe(m2)
        })
    )
  })
}
