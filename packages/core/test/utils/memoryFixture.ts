/**
 * The `EngineFixture` of the in-memory engine: one fresh broker per test, time driven by
 * `TestClock` (the suite runs it with `it.scoped`).
 */
import { Backend, MemoryLayer, QueueConfig } from "@lockstep/core"
import { Duration, Effect, Fiber, Option, TestClock } from "effect"
import type { EngineFixture } from "./EngineFixture.js"

/** Step by which `within` moves the TestClock while it waits. */
const step = Duration.millis(100)

/**
 * Run `effect` in a fiber and move the TestClock forward in `step`s until it completes, at most
 * by `budget`. `TestClock.adjust` first waits until every fiber of the test is suspended, so an
 * effect that needs no time completes before the clock moves at all.
 */
const within = <A, E, R>(budget: Duration.DurationInput, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const limit = Duration.toMillis(Duration.decode(budget))
    const fiber = yield* Effect.fork(effect)
    let waited = 0
    while (true) {
      yield* TestClock.adjust(Duration.zero)
      const exit = yield* Fiber.poll(fiber)
      if (Option.isSome(exit)) return yield* exit.value
      if (waited >= limit) break
      yield* TestClock.adjust(step)
      waited += Duration.toMillis(step)
    }
    yield* Fiber.interrupt(fiber)
    return yield* Effect.dieMessage(
      `memory fixture: the awaited effect did not complete within ${Duration.format(Duration.decode(budget))} ` +
        `of TestClock time`
    )
  })

/**
 * A memory engine for one test: every client made by `client` shares one broker.
 */
export const memoryFixture: Effect.Effect<EngineFixture> = Effect.gen(function*() {
  const broker = yield* MemoryLayer.makeBroker
  const fixture: EngineFixture = {
    name: "memory",
    time: "test-clock",
    client: (overrides, options) => {
      const config = { keyPrefix: "test", ...overrides }
      const wrap = options?.wrapBackend
      // through the public layer constructor, unless the test wraps the engine connection
      const make = wrap === undefined
        ? MemoryLayer.make(config).pipe(Effect.provideService(MemoryLayer.MemoryBroker, broker))
        : Effect.flatMap(
          QueueConfig.resolve(config),
          (resolved) => Backend.makeQueue((clientId) => Effect.map(broker.connect(clientId), wrap), resolved)
        )
      return Effect.orDie(make)
    },
    cut: (clientId) => broker.cut(clientId),
    restore: (clientId) => broker.restore(clientId),
    within,
    advance: (duration) => TestClock.adjust(duration)
  }
  return fixture
})
