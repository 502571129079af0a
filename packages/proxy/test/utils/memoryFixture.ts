/**
 * The EngineFixture of the memory engine: clients share one broker, time is the TestClock.
 */
import { MemoryLayer } from "@lockstep/core"
import { Duration, Effect, Fiber, Option, TestClock } from "effect"
import type { EngineFixture } from "../../../core/test/utils/EngineFixture.js"

const settle = Effect.yieldNow().pipe(Effect.repeatN(20))

/** A fixture on a fresh broker; needs the TestClock (`it.effect` / `it.scoped`). */
export const memoryFixture: Effect.Effect<EngineFixture> = Effect.gen(function*() {
  const broker = yield* MemoryLayer.makeBroker
  const fixture: EngineFixture = {
    name: "memory",
    time: "test-clock",
    client: (overrides) =>
      MemoryLayer.make({ keyPrefix: "t", ...overrides }).pipe(
        Effect.provideService(MemoryLayer.MemoryBroker, broker),
        Effect.orDie
      ),
    cut: broker.cut,
    restore: broker.restore,
    within: (budget, effect) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(effect)
        const total = Duration.toMillis(Duration.decode(budget))
        for (let elapsed = 0;; elapsed += 100) {
          yield* settle
          const done = yield* Fiber.poll(fiber)
          if (Option.isSome(done)) return yield* done.value
          if (elapsed >= total) {
            yield* Fiber.interrupt(fiber)
            return yield* Effect.dieMessage(`did not complete within ${Duration.format(Duration.decode(budget))}`)
          }
          yield* TestClock.adjust("100 millis")
        }
      }),
    advance: (duration) => TestClock.adjust(duration)
  }
  return fixture
})
