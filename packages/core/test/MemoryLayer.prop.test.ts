/**
 * Model-based property tests of the memory engine (DESIGN §5): random sequences of send /
 * sendOutOfBand / subscribe / ack / leave / cut / restore / advance-time over 2–4 clients on one
 * broker and 1–2 rooms, checked after every step against the model in `@lockstep/engine-suite/model`
 * (invariants I1–I6 there: S2–S14), then driven to quiescence for the liveness checks. A fourth
 * property adds durable clients (S21–S25: crash, restart and claim, shutdown, interrupted
 * subscriptions, fenced processes; I7–I8 and the model's resume / detach rules), and a fifth
 * rejects and an operator's actions on top (S27–S30: reject, eject, pause / resume, skip, purge,
 * redrive, drop dead letters, attempts and `maxDeliveries`; I9–I13).
 *
 * Time: a manual `Clock` for the 3 × 200 runs (see `ManualClock` for why), and `TestClock` itself
 * in a smaller cross-check. A failing run prints the shrunk counterexample and a replay token
 * (`arbitrary: { replay }` in the test's options runs that case again, with its shrinking path),
 * and the model's message names the broken invariant and lists the steps that led there.
 */
import { describe, it } from "@effect/vitest"
import { MemoryLayer } from "@lockstep/core"
import * as Gen from "@lockstep/engine-suite/arbitrary"
import * as Model from "@lockstep/engine-suite/model"
import { Clock, Effect } from "effect"
import * as TestClock from "effect/testing/TestClock"
import { Broker, brokerService } from "../src/internal/memoryBroker.js"

// time: `Model.ManualClock` (see its comment for why not TestClock), plus a TestClock cross-check below

/** The memory engine on one fresh broker; every client of the run is on it. */
const memoryEngine = (time: {
  readonly advance: (millis: number) => Effect.Effect<void>
  readonly settle: Effect.Effect<void>
  readonly now: Effect.Effect<number>
}) =>
  Effect.sync((): Model.Engine => {
    const server = new Broker()
    const broker = brokerService(server)
    return {
      client: (config) =>
        MemoryLayer.make(config).pipe(Effect.provideService(MemoryLayer.MemoryBroker, broker), Effect.orDie),
      operator: (config) =>
        MemoryLayer.makeClient(config).pipe(Effect.provideService(MemoryLayer.MemoryBroker, broker), Effect.orDie),
      cut: broker.cut,
      restore: broker.restore,
      ...time,
      slackMs: 0,
      sameClock: true,
      // white-box: async members too (roomState lists sync members only)
      members: (room) => Effect.sync(() => [...(server.keyspace("model").rooms.get(room)?.members.keys() ?? [])])
    }
  })

/** One run on a manual clock (fast). */
const run = (scenario: Model.Scenario) => {
  const clock = new Model.ManualClock()
  return memoryEngine({ advance: (millis) => clock.adjust(millis), settle: clock.settle, now: clock.currentTimeMillis })
    .pipe(
      Effect.flatMap((engine) => Model.runScenario(engine, scenario)),
      Effect.scoped,
      Effect.provideService(Clock.Clock, clock)
    )
}

/** One run on `TestClock`. */
const runOnTestClock = (scenario: Model.Scenario) =>
  memoryEngine({
    advance: (millis) => TestClock.adjust(millis),
    // adjust(0) runs one scheduler round; the yields let the fibers it does not track (the delivery
    // streams' readers, woken from a microtask, and what they set off) run until they wait
    settle: Effect.andThen(TestClock.adjust(0), Model.yields(25)),
    now: Clock.currentTimeMillis
  }).pipe(Effect.flatMap((engine) => Model.runScenario(engine, scenario)), Effect.scoped)

/**
 * A run the model once got wrong (its checks, not the engine): c1, cut, may be expired by the end
 * of step 9 but is not; within that step c0 and c2 miss the ack deadline of m1, m2 goes to c1,
 * which then misses its own; back, c1 finds it is no member and fails its stream with ack-timeout,
 * which the model, reading the room only after the step, did not expect.
 */
const orderWithinAStep: Model.Scenario = {
  clients: 3,
  rooms: 1,
  clientTimeoutMs: 3000,
  ackTimeoutMs: 400,
  ops: [
    { _tag: "Subscribe", client: 0, room: 0, mode: "sync" },
    { _tag: "Subscribe", client: 1, room: 0, mode: "sync" },
    { _tag: "Subscribe", client: 2, room: 0, mode: "sync" },
    { _tag: "Advance", millis: 1500 },
    { _tag: "Send", client: 0, room: 0, priority: 0 },
    { _tag: "Ack", client: 1, room: 0, which: "latest" },
    { _tag: "Send", client: 0, room: 0, priority: 0 },
    { _tag: "Cut", client: 1 },
    { _tag: "Advance", millis: 2100 },
    { _tag: "Restore", client: 1 }
  ]
}

/** durable scenarios, half of them opening with every client subscribed (sync) to every room */
const durableScenarios = (() => {
  const scenarios = Model.scenario({
    cuts: true,
    durable: true,
    length: { min: 5, max: 45 },
    weights: { Subscribe: 6, Crash: 2, Restart: 3 }
  })
  return Gen.oneof({ weight: 1, arbitrary: scenarios }, { weight: 1, arbitrary: Model.subscribedFirst(scenarios) })
})()

/**
 * S27–S30: rejects and an operator's actions beside everything else (cuts, durable clients that
 * resume with a bound on attempts, ack deadlines); half of them open with every client subscribed
 */
const operationScenarios = (() => {
  const scenarios = Model.scenario({
    cuts: true,
    durable: true,
    operations: true,
    maxDeliveries: [null, 1, 2, 3],
    length: { min: 5, max: 45 },
    weights: { Subscribe: 5, Crash: 2, Restart: 3, Interrupt: 2, Reject: 3 }
  })
  return Gen.oneof({ weight: 1, arbitrary: scenarios }, { weight: 1, arbitrary: Model.subscribedFirst(scenarios) })
})()

describe("MemoryLayer (model-based)", () => {
  it.effect.prop(
    "exact model: send / out-of-band / subscribe / ack / leave / time, no cuts",
    [Model.scenario({ cuts: false })],
    ([scenario]) => run(scenario),
    { timeout: 60_000, arbitrary: { runs: 200, size: Model.scenarioSize } }
  )

  it.effect.prop(
    "with cut / restore: invariants, resync and liveness",
    [Model.scenario({ cuts: true })],
    ([scenario]) => run(scenario),
    { timeout: 60_000, arbitrary: { runs: 200, size: Model.scenarioSize } }
  )

  // an example the property above ran first (fast-check's `examples`), now a test of its own
  it.effect("with cut / restore: the run the model once got wrong (order within a step)", () => run(orderWithinAStep))

  // S21–S25: durable clients crash, restart (claim, fencing a running process), shut down (detach
  // or leave per onClose), have a subscription interrupted, and their fenced processes act
  it.effect.prop(
    "durable members: crash / restart / claim / shutdown / interrupt / fenced, with cut / restore",
    [durableScenarios],
    ([scenario]) => run(scenario),
    { timeout: 60_000, arbitrary: { runs: 200, size: Model.scenarioSize } }
  )

  // S27–S30: a consumer rejects instead of acking, an operator ejects, pauses and resumes, skips,
  // purges, redrives and drops dead letters; resumed memberships past maxDeliveries dead-letter
  it.effect.prop(
    "rejects and operator actions: reject / eject / pause / resume / skip / purge / redrive / drop, attempts and maxDeliveries, with durable members and cut / restore",
    [operationScenarios],
    ([scenario]) => run(scenario),
    { timeout: 60_000, arbitrary: { runs: 200, size: Model.scenarioSize } }
  )

  it.effect("attempts: one process resumes a held message again and again, up to maxDeliveries (S27, S28)", () =>
    run(Model.examples.resumedByOneProcess))

  // the same model with time on TestClock, as users drive the memory engine: fewer and shorter runs
  it.effect.prop(
    "with cut / restore, on TestClock",
    [Model.scenario({ cuts: true, length: { min: 1, max: 15 } })],
    ([scenario]) => runOnTestClock(scenario),
    { timeout: 60_000, arbitrary: { runs: 25, size: Model.scenarioSize } }
  )
})
