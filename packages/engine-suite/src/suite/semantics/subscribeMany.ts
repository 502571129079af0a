/**
 * `subscribeMany`: one stream over several rooms, each room with its own order and barrier
 * (S3, S5, S6, S11).
 *
 * A part of the semantic suite, declared in order by `semanticSuite` (`../semantics.ts`).
 */
import { describe, expect } from "@effect/vitest"
import { type Delivery, QueueError } from "@lockstep/core"
import { Effect, Exit, Scope } from "effect"
import { failure, inbox, type SuiteGroup } from "../harness.js"

/** Declare the tests of `subscribeMany`. */
export const subscribeMany = ({ test }: SuiteGroup): void => {
  // ---------------------------------------------------------------- subscribeMany
  describe("subscribeMany (S3, S5, S6, S11)", () => {
    test(
      "S3/S6: subscribeMany joins every room at once: one stream, each room in its own order, one scope to leave them all",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const rooms = ["many-1", "many-2", "many-3"]
          const scope = yield* Scope.make()
          const ib = yield* inbox(yield* Scope.provide(b.subscribeMany(rooms), scope))
          const ia = yield* h.listen(a, "many-2") // a second sync member in one of them
          // live when it succeeded: b is a sync member of every room
          for (const room of rooms) expect((yield* a.roomState(room)).members).toContain(b.clientId)
          expect((yield* b.metrics()).subscribedRooms).toBe(3)
          for (const room of rooms) {
            yield* a.send(room, `${room}/1`)
            yield* a.send(room, `${room}/2`, { priority: -1 }) // queued behind /1 (in flight), then first
            yield* a.send(room, `${room}/3`, { priority: -1 })
          }
          // every room's first message, then each room moves as b acks it (S3)
          const firsts = [yield* h.next(ib), yield* h.next(ib), yield* h.next(ib)]
          expect(firsts.map((d) => d.data).sort()).toEqual(rooms.map((r) => `${r}/1`))
          yield* h.nothing(ib)
          const ids = new Set<string>()
          const seen = new Map<string, Array<unknown>>(rooms.map((r) => [r, []]))
          let pending = firsts
          while (pending.length > 0) {
            const next: Array<Delivery.Delivery> = []
            for (const d of pending) {
              expect(ids.has(d.id)).toBe(false)
              ids.add(d.id)
              seen.get(d.room)!.push(d.data)
              yield* d.ack
              if (d.room === "many-2") yield* (yield* h.next(ia)).ack // a holds many-2 too
            }
            for (const _ of pending) {
              if (seen.get(_.room)!.length < 3) next.push(yield* h.next(ib))
            }
            pending = next
          }
          for (const room of rooms) expect(seen.get(room)).toEqual([`${room}/1`, `${room}/2`, `${room}/3`])
          // one scope leaves them all (S6) and ends the stream
          yield* Scope.close(scope, Exit.void)
          yield* h.ended(ib)
          for (const room of rooms) {
            expect((yield* h.stateWhen(a, room, (st) => !st.members.includes(b.clientId))).members).not.toContain(
              b.clientId
            )
          }
          expect((yield* b.metrics()).subscribedRooms).toBe(0)
          // b may subscribe to them again, one by one
          const again = yield* h.listen(b, "many-1")
          yield* a.send("many-1", "after")
          expect(yield* h.nextData(again)).toBe("after")
        })
    )

    test(
      "subscribeMany: bad input (no room, a room twice, an invalid room, one already subscribed) is a typed error and joins nothing",
      (fx, h) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([fx.client(), fx.client()])
          const held = yield* h.listen(b, "bad-held")
          const empty = yield* failure(b.subscribeMany([]))
          expect(empty).toBeInstanceOf(QueueError.InvalidArgument)
          expect(empty.message).toContain("at least one room")
          const twice = yield* failure(b.subscribeMany(["bad-1", "bad-2", "bad-1"]))
          expect(twice).toBeInstanceOf(QueueError.InvalidArgument)
          expect(twice.message).toContain("twice")
          const invalid = yield* failure(b.subscribeMany(["bad-1", ""]))
          expect(invalid).toBeInstanceOf(QueueError.InvalidRoom)
          const already = yield* failure(b.subscribeMany(["bad-1", "bad-held"]))
          expect(already).toBeInstanceOf(QueueError.AlreadySubscribed)
          expect(already.message).toContain("bad-held")
          const mode = yield* failure(b.subscribeMany(["bad-1"], { mode: "bogus" as "sync" }))
          expect(mode).toBeInstanceOf(QueueError.InvalidArgument)
          // nothing was joined, nothing is subscribed but the room held before
          for (const room of ["bad-1", "bad-2"]) {
            expect(yield* h.state(a, room)).toEqual({ room, backlog: 0, members: [], acked: [], inFlight: null })
          }
          expect((yield* b.metrics()).subscribedRooms).toBe(1)
          // and all of them can be joined now
          const ib = yield* inbox(yield* b.subscribeMany(["bad-1", "bad-2"]))
          yield* a.send("bad-2", "ok")
          expect(yield* h.nextData(ib)).toBe("ok")
          yield* h.nothing(held)
        })
    )

    test(
      "S11: an ejection from one room of subscribeMany fails its stream once; run again, it goes on with the others",
      (fx, h) =>
        Effect.gen(function*() {
          const a = yield* fx.client()
          const b = yield* fx.client({ ackTimeout: "1 second" })
          const [r1, r2] = ["many-eject-1", "many-eject-2"]
          const stream = yield* b.subscribeMany([r1, r2])
          const first = yield* inbox(stream)
          yield* a.send(r1, "held")
          const held = yield* h.next(first)
          expect(held.room).toBe(r1)
          // b never acks it: ejected from r1 only (S11)
          const error = yield* h.ejection(first, "10 seconds")
          expect(error).toMatchObject({ room: r1, clientId: b.clientId, reason: "ack-timeout" })
          expect((yield* h.stateWhen(a, r1, (st) => st.members.length === 0)).members).toEqual([])
          expect((yield* a.roomState(r2)).members).toEqual([b.clientId])
          // the same stream, run again, goes on with r2
          const second = yield* inbox(stream)
          yield* a.send(r2, "still here")
          const d = yield* h.next(second)
          expect(d).toMatchObject({ room: r2, data: "still here" })
          yield* d.ack
          // the ejection from the last room ends it for good
          yield* a.send(r2, "never acked")
          expect((yield* h.next(second)).data).toBe("never acked")
          expect(yield* h.ejection(second, "10 seconds")).toMatchObject({ room: r2, reason: "ack-timeout" })
          const third = yield* inbox(stream)
          expect(yield* h.ejection(third)).toMatchObject({ room: r2, reason: "ack-timeout" })
          expect((yield* b.metrics()).subscribedRooms).toBe(0)
        })
    )

    test(
      "subscribeMany: each room keeps its own subscriberBuffer bound; the slow room is ejected, not its neighbours",
      (fx, h) =>
        Effect.gen(function*() {
          const a = yield* fx.client()
          const b = yield* fx.client({ subscriberBuffer: 2 })
          const [busy, calm] = ["bound-busy", "bound-calm"]
          const stream = yield* b.subscribeMany([busy, calm], { mode: "async" })
          // nobody reads the stream yet: busy fills its own two places, the third is one too many
          for (const n of [1, 2, 3]) yield* a.sendOutOfBand(busy, n)
          yield* h.eventually("3 seconds", Effect.map(b.metrics(), (m) => m.subscribedRooms === 1))
          yield* a.sendOutOfBand(calm, "still in")
          // read: busy's two, then its ejection; run again, calm goes on
          const first = yield* inbox(stream)
          expect([(yield* h.next(first)).data, (yield* h.next(first)).data]).toEqual([1, 2])
          expect(yield* h.ejection(first)).toMatchObject({ room: busy, reason: "slow-consumer" })
          const second = yield* inbox(stream)
          expect(yield* h.nextData(second)).toBe("still in")
        })
    )

    test(
      "S2, S8: ejecting a slow sync member releases the backlog after the message that overflowed it: an async member sees every message in order",
      (fx, h) =>
        Effect.gen(function*() {
          const a = yield* fx.client()
          const slow = yield* fx.client({ subscriberBuffer: 2 })
          const watcher = yield* fx.client()
          const room = "slow-order"
          // the slow member joins first (its listener is served first) and never reads its stream
          yield* slow.subscribe(room)
          const w = yield* h.listen(watcher, room, { mode: "async" })
          yield* a.send(room, "q1") // released: slow holds it (one of its two places)
          expect(yield* h.nextData(w)).toBe("q1")
          yield* a.send(room, "q2")
          yield* a.send(room, "q3") // queued behind q1
          yield* a.sendOutOfBand(room, "o1") // slow's second place
          expect(yield* h.nextData(w)).toBe("o1")
          // one too many for slow: it is ejected and leaves, which releases q2 and q3; they were
          // released after o2 was published, so everyone else sees o2 first
          yield* a.sendOutOfBand(room, "o2")
          const rest = [yield* h.nextData(w), yield* h.nextData(w), yield* h.nextData(w)]
          expect(rest).toEqual(["o2", "q2", "q3"])
          yield* h.eventually("3 seconds", Effect.map(slow.metrics(), (m) => m.subscribedRooms === 0))
        })
    )
  })
}
