/**
 * S29 dead letters: listed newest first in pages, bounded in number and age, dropped, redriven.
 * A part of the operations suite, declared in order by `operationsSuite` (`../operations.ts`).
 */
import { describe, expect } from "@effect/vitest"
import { MessageId, QueueError } from "@lockstep/core"
import { Duration, Effect, Exit, Option, Scope } from "effect"
import { failure } from "../harness.js"
import { nextAll, plain } from "../durable/support.js"
import { allLetters, type OperationsGroup, rejectEach, summary } from "./support.js"

/** Declare the tests of S29. */
export const deadLetters = ({ test }: OperationsGroup): void => {
  describe("S29 dead letters", () => {
    test(
      "S29: letters are listed newest first; pages follow the cursor and list every letter once, also while new letters arrive",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const member = yield* fx.client(plain)
          const room = "s29-pages"
          const box = yield* h.listen(member, room)
          const ids = yield* rejectEach(h, producer, box, room, 5)
          const whole = yield* admin.deadLetters(room)
          expect(whole.letters.map((l) => l.message.id)).toEqual([...ids].reverse())
          expect(whole.cursor).toEqual(Option.none())

          const first = yield* admin.deadLetters(room, { limit: 2 })
          expect(first.letters.map((l) => l.message.id)).toEqual([ids[4], ids[3]])
          expect(Option.isSome(first.cursor)).toBe(true)
          // a newer letter arrives between pages: it is not in the pages after the cursor
          const [late] = yield* rejectEach(h, producer, box, room, 1, "late")
          const second = yield* admin.deadLetters(room, { limit: 2, cursor: Option.getOrUndefined(first.cursor) })
          expect(second.letters.map((l) => l.message.id)).toEqual([ids[2], ids[1]])
          const third = yield* admin.deadLetters(room, { limit: 2, cursor: Option.getOrUndefined(second.cursor) })
          expect(third.letters.map((l) => l.message.id)).toEqual([ids[0]])
          expect(third.cursor).toEqual(Option.none())
          // a full walk in pages of 2 lists all six once
          expect((yield* allLetters(admin, room, 2)).map((l) => l.message.id)).toEqual([late, ...[...ids].reverse()])
        })
    )

    test(
      "S29: at most deadLetterLimit letters are kept: the oldest are dropped",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const member = yield* fx.client({ ...plain, deadLetterLimit: 3 })
          const room = "s29-limit"
          const ids = yield* rejectEach(h, producer, yield* h.listen(member, room), room, 5)
          expect((yield* allLetters(admin, room)).map((l) => l.message.id)).toEqual([ids[4], ids[3], ids[2]])
        })
    )

    test(
      "S29: letters are kept for deadLetterRetention: older ones are dropped when a letter is written, and once the newest is past it nothing is left (S18)",
      (fx, h) =>
        Effect.gen(function*() {
          const retention = Duration.millis(fx.time === "test-clock" ? 60_000 : 1_500)
          const part = Duration.times(retention, 0.6)
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const scope = yield* Scope.make()
          const member = yield* Scope.provide(fx.client({ ...plain, deadLetterRetention: retention }), scope)
          const room = "s29-retention"
          const box = yield* h.listen(member, room)
          const [m1] = yield* rejectEach(h, producer, box, room, 1, "a")
          yield* fx.advance(part)
          const [m2] = yield* rejectEach(h, producer, box, room, 1, "b")
          yield* fx.advance(part)
          // m1 is past retention when m3 becomes a letter; m2 is not
          const [m3] = yield* rejectEach(h, producer, box, room, 1, "c")
          expect((yield* allLetters(admin, room)).map((l) => l.message.id)).toEqual([m3, m2])
          expect(m1).toBeDefined()
          yield* Scope.close(scope, Exit.void) // the last member leaves: only the letters are left

          // retention after m3, nothing is left
          yield* h.eventually(
            Duration.sum(retention, Duration.seconds(3)),
            Effect.map(admin.deadLetters(room), (page) => page.letters.length === 0)
          )
          expect(yield* admin.deadLetters(room)).toEqual({ letters: [], cursor: Option.none() })
          const roomKeys = fx.roomKeys
          if (roomKeys !== undefined) {
            yield* h.eventually("3 seconds", Effect.map(roomKeys(room), (keys) => keys.length === 0))
            expect(yield* roomKeys(room)).toEqual([])
          }
        })
    )

    test(
      "S29: dropDeadLetters answers how many it dropped and leaves nothing (S18)",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const scope = yield* Scope.make()
          const member = yield* Scope.provide(fx.client(plain), scope)
          const room = "s29-drop"
          yield* rejectEach(h, producer, yield* h.listen(member, room), room, 3)
          yield* Scope.close(scope, Exit.void)
          expect(yield* admin.dropDeadLetters(room)).toBe(3)
          expect(yield* admin.deadLetters(room)).toEqual({ letters: [], cursor: Option.none() })
          expect(yield* admin.dropDeadLetters(room)).toBe(0)
          expect(yield* admin.dropDeadLetters("s29-never-used")).toBe(0)
          const roomKeys = fx.roomKeys
          if (roomKeys !== undefined) {
            yield* h.eventually("3 seconds", Effect.map(roomKeys(room), (keys) => keys.length === 0))
            expect(yield* roomKeys(room)).toEqual([])
          }
        })
    )

    test(
      "S29: redrive queues a copy (a new id, the same data and priority) and removes every letter of that id; none when no letter is left",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin, client: operator } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const [a, b] = [yield* fx.client(plain), yield* fx.client(plain)]
          const room = "s29-redrive"
          const boxes = [yield* h.listen(a, room), yield* h.listen(b, room)]
          const m1 = yield* producer.send(room, { v: [1, "é"] }, { priority: 3 })
          const m2 = yield* producer.send(room, "m2")
          const [a1, b1] = yield* nextAll(h, boxes)
          yield* a1!.reject()
          yield* b1!.reject("nope")
          const [a2, b2] = yield* nextAll(h, boxes)
          expect(a2!.id).toBe(m2)
          expect(summary(yield* allLetters(admin, room)).map((l) => [l.id, l.member])).toEqual([
            [m1, b.clientId],
            [m1, a.clientId]
          ])
          const m3 = yield* producer.send(room, "m3", { priority: 5 })

          const copy = yield* admin.redrive(room, m1)
          expect(Option.isSome(copy)).toBe(true)
          const newId = Option.getOrThrow(copy)
          expect(newId).not.toBe(m1)
          expect(newId.startsWith(`${operator.clientId}:`)).toBe(true)
          expect(yield* allLetters(admin, room)).toEqual([])
          // queued behind the in-flight m2, before m3 (priority 3 < 5)
          const queued = yield* producer.peek(room)
          expect(queued.map((m) => [m.id, m.priority, m.data, m.producer])).toEqual([
            [newId, 3, { v: [1, "é"] }, operator.clientId],
            [m3, 5, "m3", producer.clientId]
          ])
          expect(yield* admin.redrive(room, m1)).toEqual(Option.none())
          expect(yield* admin.redrive(room, m2)).toEqual(Option.none())
          expect(yield* admin.redrive(room, MessageId.make("nobody", 1))).toEqual(Option.none())
          expect((yield* producer.peek(room)).length).toBe(2)

          yield* a2!.ack
          yield* b2!.ack
          const again = yield* nextAll(h, boxes)
          for (const d of again) {
            expect(d).toMatchObject({ id: newId, data: { v: [1, "é"] }, priority: 3, kind: "queued", attempt: 1 })
          }
        })
    )

    test(
      "S29: a message redriven into an idle room is released at once (S2)",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const producer = yield* fx.client(plain)
          const member = yield* fx.client(plain)
          const room = "s29-redrive-idle"
          const box = yield* h.listen(member, room)
          const [m1] = yield* rejectEach(h, producer, box, room, 1)
          expect(Option.isNone((yield* producer.roomState(room)).inFlight)).toBe(true)
          const copy = Option.getOrThrow(yield* admin.redrive(room, m1!))
          expect(yield* h.next(box)).toMatchObject({ id: copy, data: "m1", attempt: 1 })
        })
    )

    test(
      "S29: a cursor of another room, another prefix or none at all, and a bad limit, are InvalidArgument",
      (fx, h) =>
        Effect.gen(function*() {
          const { admin } = yield* fx.operator(plain)
          const { admin: foreign } = yield* fx.operator({ ...plain, keyPrefix: `${fx.keyPrefix}-other` })
          const producer = yield* fx.client(plain)
          const member = yield* fx.client(plain)
          const [room, other] = ["s29-cursor", "s29-cursor-other"]
          yield* rejectEach(h, producer, yield* h.listen(member, room), room, 2)
          yield* rejectEach(h, producer, yield* h.listen(member, other), other, 2)
          const cursor = Option.getOrThrow((yield* admin.deadLetters(room, { limit: 1 })).cursor)
          for (
            const bad of [
              admin.deadLetters(other, { cursor }),
              foreign.deadLetters(room, { cursor }),
              admin.deadLetters(room, { cursor: "not a cursor" }),
              admin.deadLetters(room, { cursor: "" }),
              admin.deadLetters(room, { limit: 0 }),
              admin.deadLetters(room, { limit: 1001 }),
              admin.deadLetters(room, { limit: 1.5 })
            ]
          ) {
            expect(yield* failure(bad)).toBeInstanceOf(QueueError.InvalidArgument)
          }
          // the cursor still works where it belongs
          expect((yield* admin.deadLetters(room, { cursor })).letters.length).toBe(1)
        })
    )
  })
}
