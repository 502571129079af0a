/**
 * S30 operator actions (`RoomAdmin`): eject, pause and resume, skip, purge; each idempotent,
 * and bad input a typed error. A part of the operations suite, declared in order by
 * `operationsSuite` (`../operations.ts`).
 */
import { describe, expect } from "@effect/vitest"
import { MessageId, QueueError } from "@lockstep/core"
import { Deferred, Effect, Exit, Option, Scope } from "effect"
import { crash, durable, nextAll, plain, scoped, shutdown } from "../durable/support.js"
import { failure, sorted } from "../harness.js"
import { allLetters, type OperationsGroup, scopedOperator, summary } from "./support.js"

/** Declare the tests of S30. */
export const admin = ({ test }: OperationsGroup): void => {
  describe("S30 operator actions", () => {
    test(
      "S30: eject ends the membership now: its stream fails with ClientEjected \"operator\", the room moves on, its other rooms are untouched; eject of a non-member is false",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const [a, b] = [yield* fx.client(plain), yield* fx.client(plain)]
          const [room, elsewhere] = ["s30-eject", "s30-eject-elsewhere"]
          const ia = yield* h.listen(a, room)
          const ib = yield* h.listen(b, room)
          const kept = yield* h.listen(b, elsewhere)
          yield* producer.send(room, "m1")
          const m2 = yield* producer.send(room, "m2")
          const [a1] = yield* nextAll(h, [ia, ib])
          yield* a1!.ack
          yield* h.stateWhen(producer, room, (s) => s.acked.length === 1)

          expect(yield* admin.eject(room, b.clientId)).toBe(true)
          const error = yield* h.ejection(ib)
          expect(error).toBeInstanceOf(QueueError.ClientEjected)
          expect(error).toMatchObject({ room, clientId: b.clientId, reason: "operator" })
          // what b held is released as for a leave (S6)
          expect(yield* h.next(ia)).toMatchObject({ id: m2, attempt: 1 })
          expect(yield* h.state(producer, room)).toMatchObject({ members: [a.clientId], inFlight: m2 })
          expect(yield* admin.eject(room, b.clientId)).toBe(false)
          expect(yield* admin.eject(room, "nobody")).toBe(false)
          expect(yield* admin.eject(elsewhere, a.clientId)).toBe(false)
          // b's other room and a's stream go on
          yield* producer.send(elsewhere, "e1")
          expect((yield* h.next(kept)).data).toBe("e1")
          expect(yield* Deferred.isDone(ia.done)).toBe(false)
        })
    )

    test(
      "S30: a durable id ejected by an operator does not resume: its successor's join is fresh (it does not get the in-flight message), whether a dead process or a detach (S24) held it",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const peer = yield* fx.client(plain)
          const room = "s30-eject-durable"
          const ip = yield* h.listen(peer, room)
          const dying = yield* scoped(fx, durable("edge-30a"))
          const detaching = yield* scoped(fx, durable("edge-30b", "detach"))
          const ia = yield* h.listen(dying.client, room, undefined, dying.scope)
          const ib = yield* h.listen(detaching.client, room, undefined, detaching.scope)
          const m1 = yield* producer.send(room, "m1")
          const m2 = yield* producer.send(room, "m2")
          const [, , p1] = yield* nextAll(h, [ia, ib, ip])
          yield* crash(fx, dying)
          yield* Scope.close(detaching.scope, shutdown)
          yield* h.ended(ib)
          expect(yield* h.state(peer, room)).toMatchObject({
            inFlight: m1,
            members: sorted(["edge-30a", "edge-30b", peer.clientId])
          })

          expect(yield* admin.eject(room, "edge-30a")).toBe(true)
          expect(yield* admin.eject(room, "edge-30b")).toBe(true)
          expect(yield* h.state(peer, room)).toMatchObject({ inFlight: m1, members: [peer.clientId], acked: [] })
          expect(yield* admin.eject(room, "edge-30a")).toBe(false)
          expect(yield* admin.eject(room, "edge-30b")).toBe(false)

          // m1 is still in flight (the peer holds it): a resumed membership would get it, a fresh join does not (S5)
          const successors = []
          for (const id of ["edge-30a", "edge-30b"]) {
            const successor = yield* fx.client(durable(id))
            expect(yield* successor.memberships).toEqual([])
            successors.push(yield* h.listen(successor, room))
          }
          yield* h.nothing(...successors)
          expect((yield* h.state(peer, room)).members).toEqual(sorted(["edge-30a", "edge-30b", peer.clientId]))
          yield* p1!.ack
          for (const box of [...successors, ip]) expect(yield* h.next(box)).toMatchObject({ id: m2, attempt: 1 })
        })
    )

    test(
      "S30: while paused sends queue and nothing is released; the in-flight message completes, out-of-band flows, RoomState.paused; a second pause is false",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const [a, b] = [yield* fx.client(plain), yield* fx.client(plain)]
          const room = "s30-pause"
          const boxes = [yield* h.listen(a, room), yield* h.listen(b, room)]
          const m1 = yield* producer.send(room, "m1")
          const held = yield* nextAll(h, boxes)
          expect((yield* producer.roomState(room)).paused).toBe(false)
          expect(yield* admin.pause(room)).toBe(true)
          expect(yield* admin.pause(room)).toBe(false)
          expect((yield* producer.roomState(room)).paused).toBe(true)
          yield* producer.send(room, "m2")
          yield* producer.send(room, "m3")
          expect(yield* h.state(producer, room)).toMatchObject({ inFlight: m1, backlog: 2 })
          // the acks of the in-flight message count: it completes, and nothing follows it
          for (const d of held) yield* d.ack
          const idle = yield* h.stateWhen(producer, room, (s) => s.inFlight === null)
          expect(idle).toMatchObject({ inFlight: null, backlog: 2, members: sorted([a.clientId, b.clientId]) })
          yield* h.nothing(...boxes)
          yield* producer.sendOutOfBand(room, "oob")
          for (const box of boxes) expect(yield* h.next(box)).toMatchObject({ kind: "out-of-band", data: "oob" })
          yield* h.nothing(...boxes)
          const after = yield* producer.roomState(room)
          expect(after.paused).toBe(true)
          expect(after.backlog).toBe(2)
          expect(Option.isNone(after.inFlight)).toBe(true)
        })
    )

    test(
      "S30: while paused, neither the leave nor the ejection of the last holders releases the next message",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const [a, b] = [yield* fx.client(plain), yield* fx.client(plain)]
          const room = "s30-pause-leave"
          const scope = yield* Scope.make()
          const ia = yield* h.listen(a, room, undefined, scope)
          const ib = yield* h.listen(b, room)
          const watcher = yield* h.listen(producer, room, { mode: "async" })
          const m1 = yield* producer.send(room, "m1")
          yield* producer.send(room, "m2")
          yield* nextAll(h, [ia, ib, watcher])
          expect(yield* admin.pause(room)).toBe(true)
          yield* Scope.close(scope, shutdown)
          yield* h.ended(ia)
          expect(yield* h.state(producer, room)).toMatchObject({ inFlight: m1, members: [b.clientId] })
          expect(yield* admin.eject(room, b.clientId)).toBe(true)
          yield* h.ejection(ib)
          expect(yield* h.state(producer, room)).toMatchObject({ inFlight: null, members: [], backlog: 1 })
          yield* h.nothing(watcher)
          // resumed without sync members: released at once to whoever listens (S7)
          expect(yield* admin.resume(room)).toBe(true)
          expect((yield* h.next(watcher)).data).toBe("m2")
        })
    )

    test(
      "S30: the pause is server state: it outlives the client that set it and another client sees it; resume releases the next; a second resume is false",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client(plain)
          const member = yield* fx.client(plain)
          const room = "s30-pause-outlives"
          const box = yield* h.listen(member, room)
          const setter = yield* scopedOperator(fx, plain)
          expect(yield* setter.admin.pause(room)).toBe(true)
          yield* setter.close
          // a send into the idle room is not released
          const m1 = yield* producer.send(room, "m1")
          const m2 = yield* producer.send(room, "m2")
          yield* h.nothing(box)
          const { admin } = yield* fx.operator(plain)
          const seen = yield* producer.roomState(room)
          expect(seen.paused).toBe(true)
          expect(seen.backlog).toBe(2)
          expect(yield* admin.pause(room)).toBe(false)

          expect(yield* admin.resume(room)).toBe(true)
          expect(yield* admin.resume(room)).toBe(false)
          expect((yield* producer.roomState(room)).paused).toBe(false)
          const d1 = yield* h.next(box)
          expect(d1).toMatchObject({ id: m1, attempt: 1 })
          yield* d1.ack
          expect((yield* h.next(box)).id).toBe(m2)
          expect(yield* admin.resume("s30-never-paused")).toBe(false)
        })
    )

    test(
      "S30: a paused room keeps what is sent or redriven to it even without members (S7 applies when it is released): resume releases it to whoever is a member then",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const room = "s30-pause-empty"
          // a letter to redrive, then the room is left empty
          const first = yield* scoped(fx, plain)
          const box0 = yield* h.listen(first.client, room, undefined, first.scope)
          const m0 = yield* producer.send(room, "m0")
          yield* (yield* h.next(box0)).reject()
          yield* Scope.close(first.scope, Exit.void)
          yield* h.stateWhen(producer, room, (s) => s.members.length === 0)

          expect(yield* admin.pause(room)).toBe(true)
          const m1 = yield* producer.send(room, "m1")
          const copy = yield* admin.redrive(room, m0)
          expect(Option.isSome(copy)).toBe(true)
          expect(yield* h.state(producer, room)).toMatchObject({ backlog: 2, inFlight: null, members: [] })
          expect((yield* producer.peek(room)).map((m) => m.id)).toEqual([m1, Option.getOrThrow(copy)])

          const member = yield* fx.client(plain)
          const box = yield* h.listen(member, room)
          yield* h.nothing(box)
          expect(yield* admin.resume(room)).toBe(true)
          const d1 = yield* h.next(box)
          expect(d1).toMatchObject({ id: m1, data: "m1", attempt: 1 })
          yield* d1.ack
          expect(yield* h.next(box)).toMatchObject({ id: Option.getOrThrow(copy), data: "m0", attempt: 1 })
        })
    )

    test(
      "S30: skip dead-letters the in-flight message (\"skipped\") for each sync member that had not acked it and releases the next; a late ack of it does nothing; none when idle",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const [a, b, c] = [yield* fx.client(plain), yield* fx.client(plain), yield* fx.client(plain)]
          const room = "s30-skip"
          const boxes = [yield* h.listen(a, room), yield* h.listen(b, room), yield* h.listen(c, room)]
          const watcher = yield* h.listen(producer, room, { mode: "async" })
          const m1 = yield* producer.send(room, "m1")
          const m2 = yield* producer.send(room, "m2")
          const firsts = yield* nextAll(h, boxes)
          yield* h.next(watcher)
          yield* firsts[0]!.ack
          yield* h.stateWhen(producer, room, (s) => s.acked.length === 1)

          expect(yield* admin.skip(room)).toEqual(Option.some(m1))
          const seconds = yield* nextAll(h, boxes)
          expect(seconds[0]!.id).toBe(m2)
          expect((yield* h.next(watcher)).id).toBe(m2)
          const letters = summary(yield* allLetters(admin, room))
          expect(sorted(letters.map((l) => l.member))).toEqual(sorted([b.clientId, c.clientId]))
          for (const l of letters) expect(l).toMatchObject({ id: m1, attempts: 1, reason: "skipped" })
          // settled for b and c: their late acks and a blip change nothing
          yield* firsts[1]!.ack
          yield* fx.cut(c.clientId)
          yield* fx.restore(c.clientId)
          yield* h.nothing(...boxes)
          expect(yield* h.state(producer, room)).toMatchObject({ inFlight: m2, acked: [] })

          for (const d of seconds) yield* d.ack
          yield* h.stateWhen(producer, room, (s) => s.inFlight === null)
          expect(yield* admin.skip(room)).toEqual(Option.none())
          expect(yield* admin.skip("s30-never-used")).toEqual(Option.none())
          expect((yield* allLetters(admin, room)).length).toBe(2)
        })
    )

    test(
      "S30: skip while paused releases nothing, and a second skip finds nothing in flight; resume releases the next",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const member = yield* fx.client(plain)
          const room = "s30-skip-paused"
          const box = yield* h.listen(member, room)
          const m1 = yield* producer.send(room, "m1")
          const m2 = yield* producer.send(room, "m2")
          expect((yield* h.next(box)).id).toBe(m1)
          expect(yield* admin.pause(room)).toBe(true)
          expect(yield* admin.skip(room)).toEqual(Option.some(m1))
          yield* h.nothing(box)
          expect(yield* h.state(producer, room)).toMatchObject({ inFlight: null, backlog: 1 })
          expect(yield* admin.skip(room)).toEqual(Option.none())
          expect(summary(yield* allLetters(admin, room))).toEqual([
            { id: m1, member: member.clientId, attempts: 1, reason: "skipped" }
          ])
          expect(yield* admin.resume(room)).toBe(true)
          expect((yield* h.next(box)).id).toBe(m2)
        })
    )

    test(
      "S30: purge drops the backlog, not the in-flight message, and answers the count",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const member = yield* fx.client(plain)
          const room = "s30-purge"
          const box = yield* h.listen(member, room)
          const m1 = yield* producer.send(room, "m1")
          yield* producer.send(room, "m2")
          yield* producer.send(room, "m3", { priority: -1 })
          const d1 = yield* h.next(box)
          expect(d1.id).toBe(m1)
          expect(yield* admin.purge(room)).toBe(2)
          expect(yield* admin.purge(room)).toBe(0)
          expect(yield* h.state(producer, room)).toMatchObject({ inFlight: m1, backlog: 0 })
          expect(yield* producer.peek(room)).toEqual([])
          yield* d1.ack
          yield* h.stateWhen(producer, room, (s) => s.inFlight === null)
          yield* h.nothing(box)
          const m4 = yield* producer.send(room, "m4")
          expect((yield* h.next(box)).id).toBe(m4)
          expect(yield* admin.purge("s30-never-used")).toBe(0)
        })
    )

    test(
      "S30: an invalid room is InvalidRoom for every action, and nothing changes",
      (fx) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const bad = "\ud800"
          const actions: ReadonlyArray<Effect.Effect<unknown, QueueError.QueueError>> = [
            admin.eject(bad, "someone"),
            admin.pause(bad),
            admin.resume(bad),
            admin.skip(bad),
            admin.purge(bad),
            admin.deadLetters(bad),
            admin.redrive(bad, MessageId.make("someone", 1)),
            admin.dropDeadLetters(bad),
            admin.eject("", "someone")
          ]
          for (const action of actions) expect(yield* failure(action)).toBeInstanceOf(QueueError.InvalidRoom)
          expect((yield* admin.deadLetters("ok")).letters).toEqual([])
        })
    )
  })
}
