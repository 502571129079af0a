/**
 * The `EngineFixture` of the in-memory engine: one fresh broker per test, time driven by
 * `TestClock` (the suite runs it with `it.effect`).
 */
import { Backend, MemoryLayer, QueueConfig, RoomAdmin, SyncFanoutQueue } from "@lockstep/core"
import { Context, Duration, Effect, Fiber, Layer } from "effect"
import * as TestClock from "effect/testing/TestClock"
import type { EngineFixture } from "./EngineFixture.js"
import { yields } from "./model/clock.js"

/** Step by which `within` moves the TestClock while it waits. */
const step = Duration.millis(100)

/**
 * Let every fiber of the test run until it waits for something: for time, or for input. The
 * memory engine touches no real I/O, so a few scheduler rounds (each one `setImmediate`, with the
 * microtasks in between that wake delivery streams) run whatever needs no time. On Effect 4,
 * `TestClock.adjust(0)` gives one round only (it no longer waits for every fiber to suspend).
 */
const settle: Effect.Effect<void> = Effect.andThen(TestClock.adjust(Duration.zero), yields(25))

/**
 * Run `effect` in a fiber and move the TestClock forward in `step`s until it completes, at most
 * by `budget`. Before every step the test's fibers settle, so an effect that needs no time
 * completes before the clock moves at all.
 */
const within = <A, E, R>(budget: Duration.Input, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const limit = Duration.toMillis(Duration.fromInputUnsafe(budget))
    const fiber = yield* Effect.forkChild(effect)
    let waited = 0
    while (true) {
      yield* settle
      const exit = fiber.pollUnsafe()
      if (exit !== undefined) return yield* exit
      if (waited >= limit) break
      yield* TestClock.adjust(step)
      waited += Duration.toMillis(step)
    }
    yield* Fiber.interrupt(fiber)
    return yield* Effect.die(
      new Error(
        `memory fixture: the awaited effect did not complete within ${
          Duration.format(Duration.fromInputUnsafe(budget))
        } of TestClock time`
      )
    )
  })

/**
 * A memory engine for one test: every client made by `client` shares one broker.
 */
export const memoryFixture: Effect.Effect<EngineFixture> = Effect.gen(function*() {
  const broker = yield* MemoryLayer.makeBroker
  const operator: EngineFixture["operator"] = (overrides, options) => {
    const config = { keyPrefix: fixture.keyPrefix, ...overrides }
    const wrap = options?.wrapBackend
    // through the public layer, which provides both services, unless the test wraps the engine connection
    const make = wrap === undefined
      ? Effect.map(
        Layer.build(MemoryLayer.client(config)).pipe(Effect.provideService(MemoryLayer.MemoryBroker, broker)),
        (context) => ({
          client: Context.get(context, SyncFanoutQueue.SyncFanoutQueue),
          admin: Context.get(context, RoomAdmin.RoomAdmin)
        })
      )
      : Effect.flatMap(QueueConfig.resolve(config), (resolved) =>
        Effect.map(
          Backend.makeClient(
            (clientId) => Effect.map(broker.connect({ keyPrefix: resolved.keyPrefix, clientId }), wrap),
            resolved
          ),
          ({ admin, queue }) => ({ client: queue, admin })
        ))
    return Effect.orDie(make)
  }
  const fixture: EngineFixture = {
    name: "memory",
    time: "test-clock",
    keyPrefix: "test",
    client: (overrides, options) => Effect.map(operator(overrides, options), ({ client }) => client),
    operator,
    cut: (clientId) => broker.cut(clientId),
    restore: (clientId) => broker.restore(clientId),
    within,
    // the fibers settle before time moves, and after: what the time's passing set off is done
    advance: (duration) => settle.pipe(Effect.andThen(TestClock.adjust(duration)), Effect.andThen(settle))
  }
  return fixture
})
