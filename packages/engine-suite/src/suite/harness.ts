/**
 * How the engine suites (`semantics.ts`, `durable.ts`, `durableFindings.ts`, `discovery.ts`)
 * declare their tests, and the helpers every test gets: `suiteTest` runs a body with a fresh
 * `EngineFixture` and its `harness`.
 *
 * Waiting is deterministic: deliveries are taken from a queue with `fixture.within`, ejections
 * awaited on a `Deferred`, state polled with a deadline. "Nothing arrived" is checked on state
 * first and then with `Queue.clear` after `settle` (TestClock: the fibers run a fixed number of
 * scheduler rounds, more than any chain of lockstep's work needs; live: 50 ms).
 */
import { assert, it } from "@effect/vitest"
import type { Vitest } from "@effect/vitest"
import type { Delivery, QueueError, RoomState, SyncFanoutQueue } from "@lockstep/core"
import { Cause, Deferred, Duration, Effect, Exit, Option, Queue, Result, Schedule, Scope, Stream } from "effect"
import type { EngineFixture } from "../EngineFixture.js"

type Client = SyncFanoutQueue.SyncFanoutQueue["Service"]

/** The deliveries of one subscription, pulled into a queue, and how its stream ended. */
export interface Inbox<A = unknown> {
  readonly queue: Queue.Queue<Delivery.Delivery<A>>
  readonly done: Deferred.Deferred<void, QueueError.ClientEjected>
}

/** Pull `stream` into an unbounded queue in the current scope. */
export const inbox = <A>(
  stream: Stream.Stream<Delivery.Delivery<A>, QueueError.ClientEjected>
): Effect.Effect<Inbox<A>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Delivery.Delivery<A>>()
    const done = yield* Deferred.make<void, QueueError.ClientEjected>()
    yield* stream.pipe(
      Stream.runForEach((delivery) => Queue.offer(queue, delivery)),
      Deferred.into(done),
      Effect.forkScoped
    )
    return { queue, done }
  })

/** The error of an effect that must fail. */
export const failure = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<E, never, R> =>
  Effect.flatMap(Effect.result(self), (result) =>
    Result.isFailure(result)
      ? Effect.succeed(result.failure)
      : Effect.sync(() => assert.fail(`expected a failure, got a success: ${String(result.success)}`)))

/** The comparable part of a room state (the in-flight age moves with time). */
const snapshot = (state: RoomState.RoomState) => ({
  room: state.room,
  backlog: state.backlog,
  members: state.members,
  acked: state.acked,
  inFlight: Option.getOrNull(Option.map(state.inFlight, (f) => f.id))
})

export const sorted = (ids: ReadonlyArray<string>) => [...ids].sort()

/** The helpers every test of a suite uses, over one engine fixture. */
export const harness = (fx: EngineFixture) => {
  /** let the engine finish whatever it does without new input (only for negative checks) */
  const settle = fx.advance(fx.time === "test-clock" ? Duration.zero : Duration.millis(50))

  /** subscribe (in `scope` if given, else the current one) and pull the deliveries into an inbox */
  const listen = (
    client: Client,
    room: string,
    options?: SyncFanoutQueue.SubscribeOptions,
    scope?: Scope.Scope
  ) =>
    Effect.gen(function*() {
      const subscribe = client.subscribe(room, options)
      const stream = yield* (scope === undefined ? subscribe : Scope.provide(subscribe, scope))
      return yield* inbox(stream)
    })

  const next = <A>(box: Inbox<A>, budget: Duration.Input = "5 seconds") => fx.within(budget, Queue.take(box.queue))

  const nextData = <A>(box: Inbox<A>, budget?: Duration.Input) => Effect.map(next(box, budget), (d) => d.data)

  /** after the engine settled, none of the inboxes holds a delivery */
  const nothing = (...boxes: ReadonlyArray<Inbox<unknown>>) =>
    Effect.gen(function*() {
      yield* settle
      for (const box of boxes) {
        const extra = yield* Queue.clear(box.queue)
        if (extra.length > 0) {
          assert.fail(`expected no delivery, got ${JSON.stringify([...extra].map((d) => [d.kind, d.data]))}`)
        }
      }
    })

  /** await the failure of a subscription stream */
  const ejection = (box: Inbox<unknown>, budget: Duration.Input = "5 seconds") =>
    Effect.gen(function*() {
      const exit = yield* fx.within(budget, Effect.exit(Deferred.await(box.done)))
      if (Exit.isSuccess(exit)) {
        return assert.fail("expected the subscription to fail with ClientEjected, it ended")
      }
      const error = Cause.findErrorOption(exit.cause)
      if (Option.isNone(error)) return assert.fail(`expected ClientEjected, got ${Cause.pretty(exit.cause)}`)
      return error.value
    })

  /** await the normal end of a subscription stream */
  const ended = (box: Inbox<unknown>, budget: Duration.Input = "5 seconds") =>
    Effect.gen(function*() {
      const exit = yield* fx.within(budget, Effect.exit(Deferred.await(box.done)))
      if (Exit.isFailure(exit)) assert.fail(`expected the subscription to end, got ${Cause.pretty(exit.cause)}`)
    })

  /** poll `check` until it holds, within `budget` */
  const eventually = <E, R>(budget: Duration.Input, check: Effect.Effect<boolean, E, R>) =>
    fx.within(budget, Effect.repeat(check, { until: (ok) => ok, schedule: Schedule.spaced("20 millis") }))

  const state = (client: Client, room: string) => Effect.map(client.roomState(room), snapshot)

  /**
   * The room's state as `client` sees it once `ready` holds, or as it is after a few seconds
   * (the assertion that follows then shows the difference). For acks of other clients: an ack
   * does not wait for the server, so it reaches it a little after `ack` returned.
   */
  const stateWhen = (client: Client, room: string, ready: (state: ReturnType<typeof snapshot>) => boolean) =>
    eventually("3 seconds", Effect.map(state(client, room), ready)).pipe(
      Effect.ignore,
      Effect.andThen(state(client, room))
    )

  /** ack the current delivery and take the next one, `n` times; returns the data in order */
  const drain = <A>(box: Inbox<A>, first: Delivery.Delivery<A>, n: number) =>
    Effect.gen(function*() {
      const out: Array<Delivery.Delivery<A>> = []
      let current = first
      for (let i = 0; i < n; i++) {
        yield* current.ack
        current = yield* next(box)
        out.push(current)
      }
      return out
    })

  return { settle, listen, next, nextData, nothing, ejection, ended, eventually, state, stateWhen, drain }
}

/** The helpers a test gets, over its engine fixture. */
export type Harness = ReturnType<typeof harness>

/** How a suite declares one test: its name and a body run with a fresh fixture and its harness. */
export type SuiteTest<R = never> = (
  name: string,
  body: (fx: EngineFixture, h: Harness) => Effect.Effect<void, unknown, Scope.Scope | R>
) => void

/** What each part of the semantic suite (`semantics/*.ts`) declares its tests with. */
export interface SuiteGroup {
  readonly test: SuiteTest
  /** "test-clock": the memory engine under TestClock; "live": real time */
  readonly runner: "test-clock" | "live"
  /** time to let pass where "a long time" is meant: a minute on TestClock, less in real time */
  readonly aWhile: Duration.Duration
}

/** How a suite is run on one engine: the tester and the per-test timeout. */
export interface SemanticSuiteOptions<R> {
  /** declare tests with this tester (e.g. from `layer(...)`); default `it.effect` / `it.live` by runner */
  readonly it?: Vitest.Tester<Scope.Scope | R>
  /** per-test timeout in ms; default 10 s (test-clock) or 30 s (live) */
  readonly timeout?: number
}

/**
 * How every suite declares a test: with the suite's tester (`it.effect` on TestClock, `it.live`
 * in real time, or the one given), a fresh `fixture` and its harness.
 */
export const suiteTest = <R>(
  fixture: Effect.Effect<EngineFixture, never, Scope.Scope | R>,
  runner: "test-clock" | "live",
  options?: SemanticSuiteOptions<R>
): SuiteTest<R> => {
  const tester: Vitest.Tester<Scope.Scope | R> = options?.it ??
    (runner === "test-clock" ? it.effect : it.live) as Vitest.Tester<Scope.Scope | R>
  const timeout = options?.timeout ?? (runner === "live" ? 30_000 : 10_000)
  return (name, body) => tester(name, () => Effect.flatMap(fixture, (fx) => body(fx, harness(fx))), timeout)
}
