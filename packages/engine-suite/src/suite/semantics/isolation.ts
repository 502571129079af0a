/**
 * S19 isolation (one key prefix never sees another) and S20 shutdown.
 *
 * A part of the semantic suite, declared in order by `semanticSuite` (`../semantics.ts`).
 */
import { describe, expect } from "@effect/vitest"
import { Deferred, Effect, Exit, Scope } from "effect"
import { type Inbox, sorted, type SuiteGroup } from "../harness.js"

/** Declare the tests of S19 and S20. */
export const isolation = ({ test }: SuiteGroup): void => {
  // ---------------------------------------------------------------- S19
  describe("S19 isolation", () => {
    test(
      "S19: two prefixes on one engine never see each other: rooms, members, frames, discovery, durable claims",
      (fx, h) =>
        Effect.gen(function*() {
          const other = { keyPrefix: `${fx.keyPrefix}-b` }
          const [a, a2] = yield* Effect.all([fx.client(), fx.client()])
          const [b, b2] = yield* Effect.all([fx.client(other), fx.client(other)])
          const room = "shared"
          const inA = yield* h.listen(a2, room)
          const inB = yield* h.listen(b2, room)
          yield* h.listen(a2, "only-a")
          yield* h.listen(b2, "only-b")
          // frames: each prefix's message reaches its own member only, queued and out-of-band
          const ma = yield* a.send(room, "for a")
          yield* a.send(room, "queued in a")
          const mb = yield* b.send(room, "for b")
          expect(yield* h.nextData(inA)).toBe("for a")
          expect(yield* h.nextData(inB)).toBe("for b")
          yield* b.sendOutOfBand(room, "oob for b")
          expect(yield* h.nextData(inB)).toBe("oob for b")
          yield* h.nothing(inA, inB)
          // room state, peek, discovery and metrics: each prefix sees its own
          expect(yield* h.state(a, room)).toEqual({
            room,
            backlog: 1,
            members: [a2.clientId],
            acked: [],
            inFlight: ma
          })
          expect(yield* h.state(b, room)).toEqual({
            room,
            backlog: 0,
            members: [b2.clientId],
            acked: [],
            inFlight: mb
          })
          expect((yield* a.peek(room)).map((m) => m.data)).toEqual(["queued in a"])
          expect(yield* b.peek(room)).toEqual([])
          expect(sorted((yield* a.rooms()).rooms)).toEqual(["only-a", room])
          expect(sorted((yield* b.rooms()).rooms)).toEqual(["only-b", room])
          const [metricsA, metricsB] = [yield* a.metrics(), yield* b.metrics()]
          expect([metricsA.knownRooms, metricsA.topRooms]).toEqual([1, [{ room, backlog: 1 }]])
          expect([metricsB.knownRooms, metricsB.topRooms]).toEqual([0, []])
          expect(metricsA.stalled.map((r) => [r.room, r.inFlight, r.waitingFor])).toEqual([[room, ma, [a2.clientId]]])
          expect(metricsB.stalled.map((r) => [r.room, r.inFlight, r.waitingFor])).toEqual([[room, mb, [b2.clientId]]])
          expect(metricsA.knownClients).toBeLessThanOrEqual(2)
          expect(metricsB.knownClients).toBeLessThanOrEqual(2)

          // durable claims (S21): one id under two prefixes is two clients; neither fences the other
          const durable = { clientId: "edge-1", clientTimeout: "3 seconds" } as const
          const heldA = yield* Scope.make()
          const da = yield* Scope.provide(fx.client(durable), heldA)
          const db = yield* fx.client({ ...durable, ...other })
          const inDa = yield* h.listen(da, "durable", undefined, heldA)
          const inDb = yield* h.listen(db, "durable")
          yield* a.send("durable", "to edge-1 of a")
          yield* b.send("durable", "to edge-1 of b")
          expect(yield* h.nextData(inDa)).toBe("to edge-1 of a")
          const toDb = yield* h.next(inDb)
          expect(toDb.data).toBe("to edge-1 of b")
          yield* toDb.ack
          expect(yield* da.memberships).toEqual([{ room: "durable", mode: "sync" }])
          expect(yield* db.memberships).toEqual([{ room: "durable", mode: "sync" }])
          // a newer claim under a's prefix fences a's holder only
          yield* fx.client(durable)
          expect(yield* h.ejection(inDa, "10 seconds")).toMatchObject({ clientId: "edge-1", reason: "superseded" })
          yield* Scope.close(heldA, Exit.void)
          // b's holder keeps its claim past its next keepalive (1 s), where a fence would show
          yield* fx.advance("1500 millis")
          expect(yield* Deferred.isDone(inDb.done)).toBe(false)
          yield* b.send("durable", "still b's")
          expect(yield* h.nextData(inDb)).toBe("still b's")
          expect((yield* b.roomState("durable")).members).toEqual(["edge-1"])
        })
    )
  })

  // ---------------------------------------------------------------- S20
  describe("S20 shutdown", () => {
    test(
      "S20: closing a client's scope leaves all its rooms, so nobody waits for it",
      (fx, h) =>
        Effect.gen(function*() {
          const a = yield* fx.client()
          const scope = yield* Scope.make()
          const c = yield* Scope.provide(fx.client(), scope)
          const rooms = ["s20-1", "s20-2"]
          const mine: Array<Inbox> = []
          const theirs: Array<Inbox> = []
          for (const room of rooms) {
            mine.push(yield* h.listen(a, room))
            theirs.push(yield* h.listen(c, room, undefined, scope))
          }
          const next = new Map<string, string>()
          for (const room of rooms) {
            yield* a.send(room, `${room}-1`)
            next.set(room, yield* a.send(room, `${room}-2`))
          }
          for (let i = 0; i < rooms.length; i++) {
            const d = yield* h.next(mine[i]!)
            yield* h.next(theirs[i]!)
            yield* d.ack
          }
          yield* h.nothing(...mine)
          expect((yield* a.metrics()).knownClients).toBe(2)
          yield* Scope.close(scope, Exit.void)
          for (let i = 0; i < rooms.length; i++) {
            expect((yield* h.next(mine[i]!)).id).toBe(next.get(rooms[i]!))
            yield* h.ended(theirs[i]!)
            expect((yield* a.roomState(rooms[i]!)).members).toEqual([a.clientId])
          }
          yield* h.eventually("3 seconds", Effect.map(a.metrics(), (m) => m.knownClients === 1))
        })
    )
  })
}
