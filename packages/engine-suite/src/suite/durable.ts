/**
 * The semantic suite of durable members (DESIGN §2, S21–S25), written once against
 * `EngineFixture` and run on every engine, as `semantics.ts` is.
 *
 * A crash is a cut connection and then the client's scope closed: it could tell the server
 * nothing, as after a SIGKILL. A successor is a new client with the same `clientId`. The tests
 * live in `durable/`, one module per group, declared here in order; what they share is in
 * `durable/support.ts`.
 */
import { describe } from "@effect/vitest"
import type { Effect, Scope } from "effect"
import type { EngineFixture } from "../EngineFixture.js"
import { claimsAndResume } from "./durable/claims.js"
import { detachAndAsync } from "./durable/detach.js"
import type { DurableGroup } from "./durable/support.js"
import { type SemanticSuiteOptions, suiteTest } from "./harness.js"

/**
 * Declare the durable-members suite for one engine (see `semanticSuite` for the parameters).
 */
export const durableSuite = <R = never>(
  fixture: Effect.Effect<EngineFixture, never, Scope.Scope | R>,
  runner: "test-clock" | "live",
  options?: SemanticSuiteOptions<R>
): void => {
  const group: DurableGroup = {
    test: suiteTest(fixture, runner, options),
    aMoment: runner === "test-clock" ? "2 seconds" : "1 second"
  }
  describe(`durable members (${runner})`, () => {
    claimsAndResume(group) // S21, S22, S23
    detachAndAsync(group) // S24, S25
  })
}
