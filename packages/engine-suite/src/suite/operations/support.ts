/**
 * What the operations suite's groups share (DESIGN §2, S27–S30): how a test reads every dead
 * letter of a room, makes letters, and passes a message from one process of a durable id to the
 * next. Crashes and successors are those of the durable suite (`../durable/support.ts`).
 */
import { expect } from "@effect/vitest"
import type { DeadLetter, Delivery, MessageId, RoomAdmin } from "@lockstep/core"
import { type Duration, Effect, Exit, Option, Scope } from "effect"
import type { EngineFixture } from "../../EngineFixture.js"
import type { Harness, Inbox, SuiteTest } from "../harness.js"
import { type Client, crash, durable, scoped } from "../durable/support.js"

/** A group of the operations suite: the tester, its runner and how long "a moment" is. */
export interface OperationsGroup {
  readonly test: SuiteTest
  /** "test-clock": the memory engine under TestClock; "live": real time */
  readonly runner: "test-clock" | "live"
  /** well below clientTimeout: a room held by a dead process must still wait after it */
  readonly aMoment: Duration.Input
}

type Admin = RoomAdmin.RoomAdmin["Service"]

/** Every dead letter of `room`, newest first, read page by page (at most 20 pages). */
export const allLetters = (admin: Admin, room: string, limit?: number) =>
  Effect.gen(function*() {
    const out: Array<DeadLetter.DeadLetter> = []
    let cursor: string | undefined = undefined
    for (let page = 0; page < 20; page++) {
      const page: DeadLetter.DeadLetterPage = yield* admin.deadLetters(room, { cursor, limit })
      out.push(...page.letters)
      if (Option.isNone(page.cursor)) return out
      cursor = page.cursor.value
    }
    return expect.fail(`more than 20 pages of dead letters in ${room}`)
  })

/** The comparable part of letters: message id, member, attempts and reason. */
export const summary = (letters: ReadonlyArray<DeadLetter.DeadLetter>) =>
  letters.map((l) => ({ id: l.message.id, member: l.member, attempts: l.attempts, reason: l.reason }))

/**
 * `box` is the only sync member of its room: send `n` messages and reject each as it arrives,
 * so the room holds `n` letters; the ids in send order.
 */
export const rejectEach = (h: Harness, producer: Client, box: Inbox, room: string, n: number, tag = "m") =>
  Effect.gen(function*() {
    const ids: Array<MessageId.MessageId> = []
    for (let i = 1; i <= n; i++) ids.push(yield* producer.send(room, `${tag}${i}`))
    for (const id of ids) {
      const d = yield* h.next(box)
      expect(d.id).toBe(id)
      yield* d.reject()
    }
    return ids
  })

/**
 * Processes of the durable id `clientId`, one after the other, each subscribing to `room`,
 * taking one delivery and crashing without an ack (a SIGKILL: the server hears nothing): the
 * deliveries they got, in order.
 */
export const crashLoop = (
  fx: EngineFixture,
  h: Harness,
  clientId: string,
  room: string,
  processes: number,
  config?: Parameters<EngineFixture["client"]>[0]
) =>
  Effect.gen(function*() {
    const got: Array<Delivery.Delivery> = []
    for (let i = 0; i < processes; i++) {
      const held = yield* scoped(fx, { ...durable(clientId), ...config })
      const box = yield* h.listen(held.client, room, undefined, held.scope)
      got.push(yield* h.next(box))
      yield* crash(fx, held)
    }
    return got
  })

/** A client and its `RoomAdmin` in a scope of their own, for the test to close. */
export const scopedOperator = (fx: EngineFixture, config?: Parameters<EngineFixture["client"]>[0]) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const operator = yield* Scope.provide(fx.operator(config), scope)
    return { ...operator, close: Scope.close(scope, Exit.void) }
  })
