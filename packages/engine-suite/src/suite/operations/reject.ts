/**
 * S28 reject and poison messages: `delivery.reject` settles a message as a dead letter instead of
 * an ack; `maxDeliveries` bounds how often a resumed member receives one message. A part of the
 * operations suite, declared in order by `operationsSuite` (`../operations.ts`).
 */
import { describe, expect } from "@effect/vitest"
import { Clock, Effect, Option } from "effect"
import { crash, durable, nextAll, plain, scoped } from "../durable/support.js"
import { crashLoop, type OperationsGroup, summary } from "./support.js"

/** Declare the tests of S28. */
export const reject = ({ test }: OperationsGroup): void => {
  describe("S28 reject and poison messages", () => {
    test(
      "S28: reject counts as the member's ack (the room moves on, a blip does not bring the message back) and lists a letter {message, member, attempts, at, reason}",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const member = yield* fx.client(plain)
          const peer = yield* fx.client(plain)
          const room = "s28-reject"
          const im = yield* h.listen(member, room)
          const ip = yield* h.listen(peer, room)
          const before = yield* Clock.currentTimeMillis
          const m1 = yield* producer.send(room, { n: 1 }, { priority: 2 })
          const m2 = yield* producer.send(room, { n: 2 }, { priority: 2 })
          const [d1, p1] = yield* nextAll(h, [im, ip])
          yield* d1!.reject()
          const after = yield* Clock.currentTimeMillis
          // the barrier counts the reject as the member's ack: the peer alone holds m1
          expect(yield* h.state(peer, room)).toMatchObject({ inFlight: m1, acked: [member.clientId] })
          // settled for the member: a resync after a blip does not hand it out again
          yield* fx.cut(member.clientId)
          yield* fx.restore(member.clientId)
          yield* h.nothing(im)
          yield* p1!.ack
          const next = yield* nextAll(h, [im, ip])
          expect(next[0]!.id).toBe(m2)

          const page = yield* admin.deadLetters(room)
          expect(page.cursor).toEqual(Option.none())
          expect(page.letters.length).toBe(1)
          const letter = page.letters[0]!
          expect(letter).toMatchObject({ member: member.clientId, attempts: 1, reason: "rejected" })
          expect(letter.message).toEqual({
            id: m1,
            room,
            data: { n: 1 },
            priority: 2,
            producer: producer.clientId,
            sequence: d1!.sequence,
            sentAt: d1!.sentAt
          })
          expect(letter.at).toBeInstanceOf(Date)
          // server time (same machine for a live engine): within the test's window, with slack
          const slack = fx.time === "live" ? 1_000 : 0
          expect(letter.at.getTime()).toBeGreaterThanOrEqual(before - slack)
          expect(letter.at.getTime()).toBeLessThanOrEqual(after + slack)
        })
    )

    test(
      "S28: reject twice, or after an ack, is a no-op; a reject with a reason lists that reason",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const member = yield* fx.client(plain)
          const peer = yield* fx.client(plain)
          const room = "s28-idempotent"
          const im = yield* h.listen(member, room)
          const ip = yield* h.listen(peer, room)
          const ids = [
            yield* producer.send(room, "m1"),
            yield* producer.send(room, "m2"),
            yield* producer.send(room, "m3"),
            yield* producer.send(room, "m4")
          ]
          const [d1, p1] = yield* nextAll(h, [im, ip])
          yield* d1!.reject()
          yield* d1!.reject("again")
          yield* d1!.ack // settled already: nothing more
          yield* p1!.ack
          const [d2, p2] = yield* nextAll(h, [im, ip])
          expect(d2!.id).toBe(ids[1])
          yield* d2!.ack
          yield* d2!.reject()
          yield* p2!.ack
          const [d3, p3] = yield* nextAll(h, [im, ip])
          expect(d3!.id).toBe(ids[2])
          yield* d3!.reject("bad-payload")
          yield* p3!.ack
          expect((yield* nextAll(h, [im, ip]))[0]!.id).toBe(ids[3])
          const { letters } = yield* admin.deadLetters(room)
          expect(summary(letters)).toEqual([
            { id: ids[2], member: member.clientId, attempts: 1, reason: "bad-payload" },
            { id: ids[0], member: member.clientId, attempts: 1, reason: "rejected" }
          ])
        })
    )

    test(
      "S28: reject of an out-of-band or an async delivery is a no-op",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const member = yield* fx.client(plain)
          const watcher = yield* fx.client(plain)
          const room = "s28-no-op"
          const im = yield* h.listen(member, room)
          const iw = yield* h.listen(watcher, room, { mode: "async" })
          const m1 = yield* producer.send(room, "m1")
          const d1 = yield* h.next(im)
          yield* (yield* h.next(iw)).reject()
          yield* producer.sendOutOfBand(room, "oob")
          const oob = yield* h.next(im)
          expect(oob.kind).toBe("out-of-band")
          yield* oob.reject()
          yield* (yield* h.next(iw)).reject()
          // the member still holds m1: nothing was settled for it
          expect(yield* h.state(producer, room)).toMatchObject({ inFlight: m1, acked: [] })
          yield* d1.ack
          expect((yield* admin.deadLetters(room)).letters).toEqual([])
        })
    )

    test(
      "S28: with maxDeliveries: 2 a durable member resumed for attempt 3 gets the next message instead; the letter says max-deliveries with attempts 2",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const peer = yield* fx.client(plain)
          const room = "s28-max"
          const bounded = { maxDeliveries: 2 }
          const ip = yield* h.listen(peer, room)
          const first = yield* scoped(fx, { ...durable("edge-28a"), ...bounded })
          const i1 = yield* h.listen(first.client, room, undefined, first.scope)
          const m1 = yield* producer.send(room, "poison")
          const m2 = yield* producer.send(room, "m2")
          expect(yield* h.next(i1)).toMatchObject({ id: m1, attempt: 1 })
          yield* (yield* h.next(ip)).ack
          yield* crash(fx, first)
          const [second] = yield* crashLoop(fx, h, "edge-28a", room, 1, bounded)
          expect(second).toMatchObject({ id: m1, attempt: 2 })

          // the third process would get m1 for attempt 3: m1 is a dead letter for it, the room moves on
          const third = yield* fx.client({ ...durable("edge-28a"), ...bounded })
          const i3 = yield* h.listen(third, room)
          const next = yield* nextAll(h, [i3, ip])
          expect(next.map((d) => [d.id, d.attempt])).toEqual([[m2, 1], [m2, 1]])
          yield* h.nothing(i3)
          const { letters } = yield* admin.deadLetters(room)
          expect(summary(letters)).toEqual([{ id: m1, member: "edge-28a", attempts: 2, reason: "max-deliveries" }])
          expect(letters[0]!.message.data).toBe("poison")
        })
    )

    test(
      "S28: without maxDeliveries a resumed member keeps getting the message it never acked",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const room = "s28-unbounded"
          const first = yield* scoped(fx, durable("edge-28b"))
          const i1 = yield* h.listen(first.client, room, undefined, first.scope)
          const m1 = yield* producer.send(room, "poison")
          yield* producer.send(room, "m2")
          expect(yield* h.next(i1)).toMatchObject({ id: m1, attempt: 1 })
          yield* crash(fx, first)
          const again = yield* crashLoop(fx, h, "edge-28b", room, 3)
          expect(again.map((d) => [d.id, d.attempt])).toEqual([[m1, 2], [m1, 3], [m1, 4]])
          expect((yield* admin.deadLetters(room)).letters).toEqual([])
          expect((yield* h.state(producer, room)).inFlight).toBe(m1)
        })
    )
  })
}
