/**
 * Ejection of members that stop: S10 liveness (clientTimeout) and S11 ack deadline (ackTimeout).
 *
 * A part of the semantic suite, declared in order by `semanticSuite` (`../semantics.ts`).
 */
import { describe, expect } from "@effect/vitest"
import { QueueError } from "@lockstep/core"
import { Deferred, Effect, Fiber } from "effect"
import { sorted, type SuiteGroup } from "../harness.js"

/** Declare the tests of S10 and S11. */
export const liveness = ({ test, runner }: SuiteGroup): void => {
  // ---------------------------------------------------------------- S10
  describe("S10 liveness", () => {
    test(
      "S10: a client not heard from for clientTimeout is ejected from all rooms and the room moves on",
      (fx, h) =>
        Effect.gen(function*() {
          const a = yield* fx.client({ clientTimeout: "1 second" })
          const b = yield* fx.client({ clientTimeout: "1 second" })
          const room = "s10"
          const other = "s10-other"
          const ia = yield* h.listen(a, room)
          const ib = yield* h.listen(b, room)
          const ib2 = yield* h.listen(b, other)
          yield* a.send(room, "m1")
          const m2 = yield* a.send(room, "m2")
          const [a1] = yield* Effect.all([h.next(ia), h.next(ib)])
          yield* a1.ack
          expect((yield* a.metrics()).knownClients).toBe(2)
          yield* fx.cut(b.clientId)
          const a2 = yield* h.next(ia, "6 seconds")
          expect(a2.id).toBe(m2)
          expect(yield* h.state(a, room)).toMatchObject({ members: [a.clientId], inFlight: m2 })
          // on a cluster the other room's shard is cleaned by a second call of the same run
          expect((yield* h.stateWhen(a, other, (st) => st.members.length === 0)).members).toEqual([])
          // the cut client fails its own streams, without being told
          for (const [box, r] of [[ib, room], [ib2, other]] as const) {
            const error = yield* h.ejection(box, "6 seconds")
            expect(error).toBeInstanceOf(QueueError.ClientEjected)
            expect(error).toMatchObject({ room: r, clientId: b.clientId, reason: "keepalive-timeout" })
            expect(error.message).toContain("keepalive-timeout")
          }
          yield* h.eventually("3 seconds", Effect.map(a.metrics(), (m) => m.knownClients === 1))
          expect((yield* a.metrics()).subscribedRooms).toBe(1)
        })
    )

    test("S10: a live client is not ejected however long the room waits", (fx, h) =>
      Effect.gen(function*() {
        const a = yield* fx.client({ clientTimeout: "1 second" })
        const b = yield* fx.client({ clientTimeout: "1 second" })
        const room = "s10-alive"
        const ia = yield* h.listen(a, room)
        const ib = yield* h.listen(b, room)
        const m1 = yield* a.send(room, "m1")
        yield* Effect.all([h.next(ia), h.next(ib)])
        yield* fx.advance(runner === "test-clock" ? "10 seconds" : "2500 millis")
        expect(yield* Deferred.isDone(ib.done)).toBe(false)
        expect(yield* Deferred.isDone(ia.done)).toBe(false)
        expect(yield* h.state(a, room)).toMatchObject({ members: sorted([a.clientId, b.clientId]), inFlight: m1 })
      }))

    test(
      "S10, S6: a subscription ejected while its join is in flight leaves the membership that join made",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client({ clientTimeout: "1 second" })
          const room = "s10-joining"
          /** the engine does not hear a's keepalives: it forgets a (S10) */
          let silent = false
          /** a's joins wait for `gate` */
          let hold = false
          const joining = yield* Deferred.make<void>()
          const gate = yield* Deferred.make<void>()
          const forgotten = yield* Deferred.make<void>()
          const a = yield* fx.client({ clientTimeout: "1 second" }, {
            wrapBackend: (backend) => ({
              ...backend,
              keepalive: (rooms, timeoutMs) =>
                silent
                  ? Effect.fail(
                    new QueueError.EngineError({
                      engine: fx.name,
                      operation: "keepalive",
                      cause: "silenced by the test"
                    })
                  )
                  : backend.keepalive(rooms, timeoutMs).pipe(
                    Effect.tap((known) => known || !hold ? Effect.void : Deferred.succeed(forgotten, undefined))
                  ),
              join: (r, options) =>
                hold
                  ? Deferred.succeed(joining, undefined).pipe(
                    Effect.andThen(Deferred.await(gate)),
                    Effect.andThen(backend.join(r, options))
                  )
                  : backend.join(r, options)
            })
          })
          silent = true
          yield* h.eventually("10 seconds", Effect.map(producer.metrics(), (m) => m.knownClients === 1))
          // a joins; before its join runs, a hears that the engine forgot it and ejects its
          // subscriptions (or gives the engine up itself): the joining one too
          hold = true
          const subscribing = yield* Effect.forkChild(h.listen(a, room))
          yield* fx.within("5 seconds", Deferred.await(joining))
          silent = false
          yield* fx.within("5 seconds", Deferred.await(forgotten))
          yield* Deferred.succeed(gate, undefined)
          const ia = yield* fx.within("5 seconds", Fiber.join(subscribing))
          expect(yield* h.ejection(ia)).toMatchObject({ room, reason: "keepalive-timeout" })
          // the join ran after that: nobody listens to the membership it made, which must not
          // hold the room (S6): it is left once the engine answers a's keepalive
          yield* fx.advance("2 seconds")
          expect((yield* h.state(producer, room)).members).not.toContain(a.clientId)
          const ip = yield* h.listen(producer, room)
          yield* producer.send(room, "m1")
          yield* producer.send(room, "m2")
          yield* (yield* h.next(ip)).ack
          expect(yield* h.nextData(ip)).toBe("m2")
        })
    )
  })

  // ---------------------------------------------------------------- S11
  describe("S11 ack deadline", () => {
    test(
      "S11: a member that does not ack within ackTimeout is ejected from that room only",
      (fx, h) =>
        Effect.gen(function*() {
          const a = yield* fx.client()
          const b = yield* fx.client({ ackTimeout: "1 second" })
          const room = "s11"
          const other = "s11-other"
          const ia = yield* h.listen(a, room)
          const ib = yield* h.listen(b, room)
          const ib2 = yield* h.listen(b, other)
          yield* a.send(room, "m1")
          const m2 = yield* a.send(room, "m2")
          const [a1] = yield* Effect.all([h.next(ia), h.next(ib)])
          yield* a1.ack
          const a2 = yield* h.next(ia, "5 seconds")
          expect(a2.id).toBe(m2)
          const error = yield* h.ejection(ib)
          expect(error).toBeInstanceOf(QueueError.ClientEjected)
          expect(error).toMatchObject({ room, clientId: b.clientId, reason: "ack-timeout" })
          expect(yield* h.state(a, room)).toMatchObject({ members: [a.clientId], inFlight: m2 })
          // b's other subscription is untouched
          expect(yield* Deferred.isDone(ib2.done)).toBe(false)
          yield* a.send(other, "x")
          const x = yield* h.next(ib2)
          expect(x.data).toBe("x")
          expect((yield* b.metrics()).subscribedRooms).toBe(1)
          // and b may join the room again
          const ib3 = yield* h.listen(b, room)
          yield* a2.ack
          yield* a.send(room, "m3")
          expect(yield* h.nextData(ib3)).toBe("m3")
          yield* x.ack
        })
    )

    test("S11: a member that acks within ackTimeout stays", (fx, h) =>
      Effect.gen(function*() {
        const [a, b] = yield* Effect.all([fx.client(), fx.client({ ackTimeout: "1 second" })])
        const room = "s11-in-time"
        const ib = yield* h.listen(b, room)
        yield* a.send(room, "m1")
        yield* a.send(room, "m2")
        const b1 = yield* h.next(ib)
        yield* fx.advance("500 millis")
        yield* b1.ack
        const b2 = yield* h.next(ib)
        expect(b2.data).toBe("m2")
        yield* b2.ack
        yield* fx.advance(runner === "test-clock" ? "10 seconds" : "1500 millis")
        expect(yield* Deferred.isDone(ib.done)).toBe(false)
        expect((yield* a.roomState(room)).members).toEqual([b.clientId])
      }))
  })
}
