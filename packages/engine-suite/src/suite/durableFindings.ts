/**
 * Durable-member cases (S21–S25) found by the model-based test (`../model/`, the durable
 * property of `MemoryLayer.prop.test.ts`), each reduced to a plain test written against
 * `EngineFixture` like `durable.ts`, so every engine can run it.
 */
import { describe, expect } from "@effect/vitest"
import type { SyncFanoutQueue } from "@lockstep/core"
import { type Duration, Effect, Exit, Scope } from "effect"
import type { EngineFixture } from "../EngineFixture.js"
import { type SemanticSuiteOptions, suiteTest } from "./harness.js"

type Client = SyncFanoutQueue.SyncFanoutQueue["Service"]

const clientTimeout: Duration.Input = "3 seconds"
const durable = (clientId: string, onClose: "leave" | "detach" = "leave") => ({ clientTimeout, clientId, onClose })
const plain = { clientTimeout }

/**
 * Declare the durable findings for one engine (see `durableSuite` for the parameters).
 */
export const durableFindings = <R = never>(
  fixture: Effect.Effect<EngineFixture, never, Scope.Scope | R>,
  runner: "test-clock" | "live",
  options?: SemanticSuiteOptions<R>
): void => {
  const test = suiteTest(fixture, runner, options)

  /** SIGKILL: the client tells the server nothing more */
  const crash = (fx: EngineFixture, client: Client, scope: Scope.Closeable) =>
    Effect.andThen(fx.cut(client.clientId), Scope.close(scope, Exit.void))

  describe(`durable members, model findings (${runner})`, () => {
    test(
      "S22: a successor joining in the other mode joins afresh, also when leaving the old membership empties the room",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client(plain)
          const room = "f-mode"
          const scope = yield* Scope.make()
          const first = yield* Scope.provide(fx.client(durable("edge-f1")), scope)
          yield* h.listen(first, room, { mode: "async" }, scope)
          yield* crash(fx, first, scope)

          const successor = yield* fx.client(durable("edge-f1"))
          const box = yield* h.listen(successor, room) // sync: the async membership is left first
          expect(yield* successor.memberships).toEqual([{ room, mode: "sync" }])
          expect((yield* h.state(producer, room)).members).toEqual(["edge-f1"])
          const m1 = yield* producer.send(room, "m1")
          const m2 = yield* producer.send(room, "m2")
          const d1 = yield* h.next(box)
          expect(d1.id).toBe(m1)
          // S3: the room waits for the new sync member
          expect(yield* h.state(producer, room)).toMatchObject({ inFlight: m1, backlog: 1 })
          yield* d1.ack
          expect((yield* h.next(box)).id).toBe(m2)
        })
    )

    test(
      "S22: a successor whose first subscribe fails while the server is out of reach still resumes with the next one",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client(plain)
          const room = "f-resume-retry"
          const scope = yield* Scope.make()
          // long enough for a subscribe that fails by its operation timeout (5 s on Redis) and a
          // second one, both before the membership's own deadline (S23)
          const config = { ...durable("edge-f4"), clientTimeout: "15 seconds" as Duration.Input }
          const first = yield* Scope.provide(fx.client(config), scope)
          const mine = yield* h.listen(first, room, undefined, scope)
          const m1 = yield* producer.send(room, "m1")
          yield* producer.send(room, "m2")
          expect((yield* h.next(mine)).id).toBe(m1)
          yield* crash(fx, first, scope)

          const successor = yield* fx.client(config)
          yield* fx.cut(successor.clientId)
          const failed = yield* Scope.make()
          expect(Exit.isFailure(yield* Effect.exit(Scope.provide(successor.subscribe(room), failed)))).toBe(true)
          yield* Scope.close(failed, Exit.void)
          yield* fx.restore(successor.clientId)
          yield* fx.advance("1 second")
          // the retry resumes: m1 again, same id (S22)
          const box = yield* h.listen(successor, room)
          expect((yield* h.next(box)).id).toBe(m1)
        })
    )
  })
}
