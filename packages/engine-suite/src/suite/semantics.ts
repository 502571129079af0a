/**
 * The semantic suite (DESIGN §2, S1–S16, S19 and S20), written once against `EngineFixture` and run on
 * every engine: the memory engine under `TestClock` (`MemoryLayer.test.ts`) and the Redis engine
 * in real time. Every test is named after the semantics it checks.
 *
 * Its tests live in `semantics/`, one module per group of semantics, declared here in the order
 * of DESIGN §2. The helpers they share (and how waiting stays deterministic) are in `harness.ts`.
 */
import { describe } from "@effect/vitest"
import { Duration, type Effect, type Scope } from "effect"
import type { EngineFixture } from "../EngineFixture.js"
import { type SemanticSuiteOptions, type SuiteGroup, suiteTest } from "./harness.js"
import { barrier } from "./semantics/barrier.js"
import { inspection } from "./semantics/inspection.js"
import { isolation } from "./semantics/isolation.js"
import { liveness } from "./semantics/liveness.js"
import { payloads } from "./semantics/payloads.js"
import { release } from "./semantics/release.js"
import { resync } from "./semantics/resync.js"
import { roomsAndSend } from "./semantics/rooms.js"
import { subscribeMany } from "./semantics/subscribeMany.js"

/**
 * Declare the semantic suite for one engine. `fixture` is run once per test; `runner` picks
 * `it.effect` (TestClock) or `it.live` (real time).
 */
export const semanticSuite = <R = never>(
  fixture: Effect.Effect<EngineFixture, never, Scope.Scope | R>,
  runner: "test-clock" | "live",
  options?: SemanticSuiteOptions<R>
): void => {
  const group: SuiteGroup = {
    test: suiteTest(fixture, runner, options),
    runner,
    aWhile: runner === "test-clock" ? Duration.minutes(1) : Duration.millis(500)
  }

  describe(`semantics (${runner})`, () => {
    roomsAndSend(group) // S1, S2
    barrier(group) // S3–S6
    release(group) // S7–S9
    liveness(group) // S10, S11
    subscribeMany(group) // subscribeMany (S3, S5, S6, S11)
    resync(group) // S12
    inspection(group) // S13–S15
    payloads(group) // S16, bad input
    isolation(group) // S19, S20
  })
}
