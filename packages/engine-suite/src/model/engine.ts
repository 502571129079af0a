/**
 * What the model-based harness needs from an engine under test (`Engine`), how a run is configured
 * (`RunOptions`), what it returns (`ScenarioLog`), and how it fails (`ModelViolation`).
 */
import type { QueueConfig, RoomAdmin, SyncFanoutQueue } from "@lockstep/core"
import type { Effect, Scope } from "effect"
import type { Mode } from "./ops.js"

/** A client of the engine under test. */
export type Queue = SyncFanoutQueue.SyncFanoutQueue["Service"]

/** The `RoomAdmin` of a client of the engine under test (S29, S30). */
export type Admin = RoomAdmin.RoomAdmin["Service"]

/** What `runScenario` needs from an engine. Every client of one run shares one engine ("server"). */
export interface Engine {
  /** A new client in the current scope. `config.keyPrefix` may be replaced by a per-run prefix. */
  readonly client: (config: QueueConfig.QueueConfig) => Effect.Effect<Queue, never, Scope.Scope>
  /**
   * Optional: a new client and its `RoomAdmin`, as `client` builds them. The run's observer is
   * built with it: it reads the rooms' dead letters after every step (S29) and takes the
   * operator's actions (S30); without it a scenario may hold no `AdminOp` and letters are not read.
   */
  readonly operator?:
    | ((
      config: QueueConfig.QueueConfig
    ) => Effect.Effect<{ readonly queue: Queue; readonly admin: Admin }, never, Scope.Scope>)
    | undefined
  /** Cut the client's connection: its operations fail, frames to it are lost (S10, S12). */
  readonly cut: (clientId: string) => Effect.Effect<void>
  /** Heal the cut (the client resyncs, S12). */
  readonly restore: (clientId: string) => Effect.Effect<void>
  /** Let `millis` of time pass (TestClock.adjust, or a real sleep). */
  readonly advance: (millis: number) => Effect.Effect<void>
  /**
   * Let background work catch up: afterwards every delivery the server made has reached its
   * subscription's consumer, and reconnect resyncs are done. Must be deterministic for TestClock.
   */
  readonly settle: Effect.Effect<void>
  /** The current time in ms, on the clients' clock. */
  readonly now: Effect.Effect<number>
  /** Tolerance of timing checks in ms (0 with TestClock). */
  readonly slackMs: number
  /** Whether `roomState(..).inFlight.releasedAt` is on the clients' clock (memory engine: yes). */
  readonly sameClock: boolean
  /**
   * Optional white-box view: the ids of every member of `room`, sync and async (`roomState` lists
   * only sync members). Lets the model check async membership exactly.
   */
  readonly members?: ((room: string) => Effect.Effect<ReadonlyArray<string>>) | undefined
  /**
   * The errors an operation of a cut client may fail with (default `["EngineError"]`: it fails at
   * once). A real connection may instead wait for its deadline (`OperationTimeout`).
   */
  readonly cutFailures?: ReadonlyArray<string> | undefined
}

/** A failed check: what went wrong, at which step, and the steps that led there. */
export class ModelViolation extends Error {
  override readonly name = "ModelViolation"
}

/** Options of one run. */
export interface RunOptions {
  /** key prefix for the clients (default "model") */
  readonly keyPrefix?: string
  /** run the final liveness phase (default true) */
  readonly drain?: boolean
  /**
   * Time the liveness phase lets pass before acking, ms (default clientTimeout + 2 keepalive
   * intervals + one housekeeping interval, so every timer has run out). A real-time engine whose
   * scenarios need no timer (no ack deadline, no client expiry within the run) may pass 0.
   */
  readonly drainAdvanceMs?: number
  /**
   * Before the liveness phase's acks, restart every durable client that is not running and resume
   * every membership of a durable id that no live subscription holds (default false: on an
   * engine with a test clock they end after `clientTimeout`, S23, which the drain waits for).
   */
  readonly resumeOnDrain?: boolean
}

/**
 * One delivery as the consumer saw it, in engine-independent terms (no ids: client ids are random),
 * for comparing engines run on the same scenario.
 */
export interface DeliveryRecord {
  /** the step after which it was observed (steps past `ops.length` are the liveness phase) */
  readonly step: number
  /** the subscription that received it (numbered in the order they were opened) */
  readonly subscription: number
  readonly room: number
  readonly mode: Mode
  readonly kind: "queued" | "out-of-band"
  /** the payload's number (`{ n }`: the n-th send of the run; a redriven copy has its original's) */
  readonly n: number
  /** the delivery's attempt (S27) */
  readonly attempt: number
  /** index of the producing client (-1: not a client of the scenario) */
  readonly producer: number
  readonly priority: number
}

/** What a run observed, per client, in engine-independent terms. */
export interface ScenarioLog {
  /** per client index: its deliveries, by step, then subscription, then arrival */
  readonly deliveries: ReadonlyArray<ReadonlyArray<DeliveryRecord>>
  /** every subscription and how it ended by the end of the run: open, closed or ejected (reason) */
  readonly subscriptions: ReadonlyArray<{
    readonly no: number
    readonly client: number
    readonly room: number
    readonly mode: Mode
    readonly end: "open" | "closed" | `ejected: ${string}`
  }>
}
