/**
 * What the shared semantic suite needs from an engine. The memory engine implements it with
 * TestClock; the Redis engine (packages/redis/test) with real time and a spawned server.
 */
import type { Backend, QueueConfig, RoomAdmin, SyncFanoutQueue } from "@lockstep/core"
import type { Duration, Effect, Scope } from "effect"

export interface EngineFixture {
  readonly name: string
  /** "test-clock": time only moves through `advance`; "live": real time */
  readonly time: "test-clock" | "live"
  /**
   * The keyPrefix of the test's clients (unless overridden): unique to the test on a shared server.
   * A test of S19 derives other prefixes from it.
   */
  readonly keyPrefix: string
  /**
   * A new client in the current scope, on the engine shared by every client of this test.
   * `overrides` are merged into a default config with a keyPrefix unique to the test.
   */
  readonly client: (
    overrides?: Partial<QueueConfig.QueueConfig>,
    options?: ClientOptions
  ) => Effect.Effect<SyncFanoutQueue.SyncFanoutQueue["Service"], never, Scope.Scope>
  /**
   * A new client as `client` makes it, with the `RoomAdmin` its layer provides next to the
   * `SyncFanoutQueue` (S29, S30): an operator acting through that client.
   */
  readonly operator: (
    overrides?: Partial<QueueConfig.QueueConfig>,
    options?: ClientOptions
  ) => Effect.Effect<Operator, never, Scope.Scope>
  /**
   * The keys the engine holds for `room` under the test's prefix (S18), for engines that can
   * list them (Redis); absent where there is nothing to count (the memory engine).
   */
  readonly roomKeys?: ((room: string) => Effect.Effect<ReadonlyArray<string>>) | undefined
  /** cut the client's connection: its operations fail, its frames are lost (S10, S12) */
  readonly cut: (clientId: string) => Effect.Effect<void>
  /** heal the cut */
  readonly restore: (clientId: string) => Effect.Effect<void>
  /**
   * Run `effect` while letting up to `budget` of time pass (TestClock: advance in small steps
   * until it completes; live: a real timeout). Fails the test if the budget runs out.
   */
  readonly within: <A, E, R>(budget: Duration.Input, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** let `duration` pass (TestClock.adjust, or a real sleep for live engines) */
  readonly advance: (duration: Duration.Input) => Effect.Effect<void>
}

/** A client and the operator actions of its layer (S29, S30). */
export interface Operator {
  readonly client: SyncFanoutQueue.SyncFanoutQueue["Service"]
  readonly admin: RoomAdmin.RoomAdmin["Service"]
}

export interface ClientOptions {
  /**
   * Wrap the client's engine connection (the SPI, `Backend.BackendClient`), e.g. to hold a join
   * back while its channel is already live (the window of S5).
   */
  readonly wrapBackend?: (backend: Backend.BackendClient) => Backend.BackendClient
}
