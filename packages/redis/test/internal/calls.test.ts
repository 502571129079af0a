/**
 * The calls of one connection (`src/internal/calls.ts`): made at the end of the event-loop turn,
 * together, with the connection's sockets corked once around them; each under a deadline; owned
 * by the connection's scope.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Scope } from "effect"
import * as Calls from "../../src/internal/calls.js"

/** A fake set of sockets that logs cork / uncork. */
const sockets = (log: Array<string>) => ({ cork: () => log.push("cork"), uncork: () => log.push("uncork") })

describe("Calls", () => {
  it.live("the calls of one turn are made after it, in order, with the sockets corked once around them", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const calls = yield* Calls.make(sockets(log))
      const made = (name: string) => () => {
        log.push(name)
        return Promise.resolve(name)
      }
      const replies: Array<string> = []
      calls.later("a", Duration.seconds(1), made("a"), (_, v) => replies.push(v!))
      calls.later("b", Duration.seconds(1), made("b"), (_, v) => replies.push(v!))
      log.push("end of turn")
      const c = yield* calls.call("c", Duration.seconds(1), made("c"))
      expect(c).toBe("c")
      expect(replies).toEqual(["a", "b"])
      // c was issued in the same turn (the fiber ran on): one flush for the three
      expect(log).toEqual(["end of turn", "cork", "a", "b", "c", "uncork"])
    }).pipe(Effect.scoped))

  it.live("a call without a reply fails with OperationTimeout shortly after its deadline", () =>
    Effect.gen(function*() {
      const calls = yield* Calls.make(sockets([]))
      const started = performance.now()
      const error = yield* Effect.flip(calls.call("stuck", Duration.millis(100), () => new Promise<never>(() => {})))
      const elapsed = performance.now() - started
      expect(error._tag).toBe("OperationTimeout")
      expect(elapsed).toBeGreaterThanOrEqual(95)
      expect(elapsed).toBeLessThan(400)
    }).pipe(Effect.scoped))

  it.live("a call interrupted before the end of its turn is never made", () =>
    Effect.gen(function*() {
      const calls = yield* Calls.make(sockets([]))
      let made = 0
      const fiber = yield* Effect.forkChild(calls.call("x", Duration.seconds(1), () => Promise.resolve(++made)))
      yield* Effect.yieldNow // the call is registered for the end of the turn
      yield* Fiber.interrupt(fiber)
      yield* calls.call("y", Duration.seconds(1), () => Promise.resolve(0)) // a later turn
      expect(made).toBe(0)
    }).pipe(Effect.scoped))

  it.live("closing the connection's scope fails what is still pending, at once", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const calls = yield* Calls.make(sockets([])).pipe(Scope.provide(scope))
      const failures: Array<string> = []
      calls.later("pending", Duration.seconds(30), () => new Promise<never>(() => {}), (failure) => {
        if (failure !== undefined) failures.push(failure._tag)
      })
      yield* Effect.yieldNow
      yield* Scope.close(scope, Exit.void)
      expect(failures).toEqual(["OperationTimeout"])
    }))

  it.live("withDeadline fails by itself, also where interruption is off (a resource's acquisition)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.uninterruptible(
        Calls.withDeadline("connect", Duration.millis(50), () => new Promise<never>(() => {}))
      ))
      expect(error._tag).toBe("OperationTimeout")
      const failed = yield* Effect.flip(
        Calls.withDeadline("connect", Duration.seconds(1), () => Promise.reject(new Error("no")))
      )
      expect(failed._tag).toBe("EngineError")
    }))
})
