/**
 * The operations suite (DESIGN §2, S27–S30): attempts, reject and poison messages, dead letters
 * and the operator actions of `RoomAdmin`, written once against `EngineFixture` and run on every
 * engine, as `semantics.ts` and `durable.ts` are.
 *
 * The tests live in `operations/`, one module per semantics, declared here in order; what they
 * share is in `operations/support.ts` (and the crashes and successors of `durable/support.ts`).
 * The operator acts through `fx.operator`: a client and the `RoomAdmin` its layer provides.
 */
import { describe } from "@effect/vitest"
import type { Effect, Scope } from "effect"
import type { EngineFixture } from "../EngineFixture.js"
import { type SemanticSuiteOptions, suiteTest } from "./harness.js"
import { admin } from "./operations/admin.js"
import { attempts } from "./operations/attempts.js"
import { deadLetters } from "./operations/deadLetters.js"
import { reject } from "./operations/reject.js"
import type { OperationsGroup } from "./operations/support.js"

/**
 * Declare the operations suite for one engine (see `semanticSuite` for the parameters).
 */
export const operationsSuite = <R = never>(
  fixture: Effect.Effect<EngineFixture, never, Scope.Scope | R>,
  runner: "test-clock" | "live",
  options?: SemanticSuiteOptions<R>
): void => {
  const group: OperationsGroup = {
    test: suiteTest(fixture, runner, options),
    runner,
    aMoment: runner === "test-clock" ? "2 seconds" : "1 second"
  }
  describe(`operations (${runner})`, () => {
    attempts(group) // S27
    reject(group) // S28
    deadLetters(group) // S29
    admin(group) // S30
  })
}
