/**
 * A worker over many rooms: the way most applications should consume lockstep. It joins the
 * rooms, runs a handler for each delivery — one room strictly in order, different rooms at
 * the same time — acks on success, retries a failing handler and then dead-letters the message
 * (S28), and rejoins a room it was ejected from (S10, S11, S30) without touching the others.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { MemoryLayer, RoomWorker } from "@lockstep/core"
 *
 * const worker = RoomWorker.run(["orders-eu", "orders-us"], (delivery) =>
 *   Effect.log(`${delivery.room}: ${JSON.stringify(delivery.data)}`))
 *
 * // runs until interrupted (e.g. by SIGTERM under NodeRuntime.runMain)
 * const main = worker.pipe(Effect.provide(MemoryLayer.layer({ keyPrefix: "demo" })))
 * ```
 *
 * @since 1.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { Delivery } from "./Delivery.js"
import * as internal from "./internal/roomWorker.js"
import type { SubscriptionMode } from "./QueueConfig.js"
import type { ClientEjected, EngineError, OperationTimeout, QueueError } from "./QueueError.js"
import type { SyncFanoutQueue } from "./SyncFanoutQueue.js"

/**
 * What the worker does with a delivery whose handler still fails once `retry` gave up:
 *
 * - `"reject"`: settle it as a dead letter (`delivery.reject`, S28) with the error's message as
 *   the reason, and go on with the room's next message;
 * - `"ack"`: ack it as if it had succeeded (no dead letter), and go on;
 * - `"fail"`: stop the worker with the handler's error, the message unsettled: every room is
 *   closed as by an interruption (with `onClose: "detach"` a successor receives it again, S22/S24;
 *   otherwise leaving the room releases it to the other members, S6).
 *
 * @since 1.1.0
 * @category models
 */
export type OnFailure = "reject" | "ack" | "fail"

/**
 * What the `rejoin` schedule is stepped with: the ejection that ended a room's membership (any
 * reason but `"superseded"`), or the failure of a join while the engine was out of reach.
 *
 * @since 1.1.0
 * @category models
 */
export type RejoinCause = ClientEjected | EngineError | OperationTimeout

/**
 * Options of `run`.
 *
 * @since 1.1.0
 * @category models
 */
export interface Options<E, R = never> {
  /** the rooms' mode (S3, S8); default the client's `mode` ("sync" unless configured) */
  readonly mode?: SubscriptionMode | undefined
  /**
   * At most this many handlers run at once, over all rooms (a positive integer); default
   * `"unbounded"`: every room may run its handler at the same time. One room never runs two.
   */
  readonly concurrency?: number | "unbounded" | undefined
  /**
   * When and how often to call a failing handler again for the same delivery (its typed failures
   * only: a defect stops the worker). Stepped with the handler's error. Default `defaultRetry`:
   * 3 retries, 100 ms, 200 ms, 400 ms apart. `Schedule.recurs(0)` never retries.
   */
  readonly retry?: Schedule.Schedule<unknown, E, never, R> | undefined
  /** after the last retry; default `"reject"` (see `OnFailure`) */
  readonly onFailure?: OnFailure | undefined
  /**
   * When to join a room again after an ejection or a failed join: the first rejoin waits the
   * schedule's first delay, each failed join the next one, and a successful join starts the
   * schedule over. Also paces a `reject` that could not reach the engine. A schedule that ends
   * stops the worker with the last cause. Default `defaultRejoin`: exponential from 500 ms,
   * at most 30 s apart, with jitter, forever.
   */
  readonly rejoin?: Schedule.Schedule<unknown, RejoinCause, never, R> | undefined
}

/**
 * The default `retry`: 3 retries after 100 ms, 200 ms and 400 ms.
 *
 * @since 1.1.0
 * @category schedules
 */
export const defaultRetry: Schedule.Schedule<unknown> = internal.defaultRetry

/**
 * The default `rejoin`: exponential backoff from 500 ms, at most 30 s apart, each delay
 * scaled by a random factor in [0.8, 1.2] (so that workers ejected together do not rejoin
 * together), forever.
 *
 * @since 1.1.0
 * @category schedules
 */
export const defaultRejoin: Schedule.Schedule<unknown> = internal.defaultRejoin

/**
 * A running worker (`make`).
 *
 * @since 1.1.0
 * @category models
 */
export interface RoomWorker<E> {
  /**
   * Wait until the worker stops, and fail with why (see `run`); interrupted when its scope was
   * closed. It never succeeds.
   */
  readonly await: Effect.Effect<never, E | QueueError | ClientEjected>
  /**
   * The rooms the worker is not a member of at the moment (ejected, to be joined again per
   * `rejoin`), sorted: empty while every room is joined. For a health check.
   */
  readonly rejoining: Effect.Effect<ReadonlyArray<string>>
}

/**
 * Run `handler` for every delivery of `rooms`, until interrupted.
 *
 * - **Joins** every room (at least one, no room twice; a bad name or option fails with
 *   `InvalidRoom` / `InvalidArgument` before anything is joined), in the client's mode unless
 *   `mode` says otherwise. A join that fails because the engine is out of reach is tried again
 *   per `rejoin`.
 * - **Order and concurrency:** the deliveries of one room (out-of-band ones included, S9) are
 *   handled one at a time, in order; the rooms run independently (a slow handler in one room does
 *   not hold another), at most `concurrency` handlers at once.
 * - **Settles** each queued delivery: `ack` when the handler succeeds. When it fails, the handler
 *   is called again per `retry` (a new call each time; the delivery's `attempt` stays the same,
 *   S27), then the worker does what `onFailure` says (`"reject"` by default: a dead letter whose
 *   reason is the error's message, S28). A settlement that cannot reach the engine is tried again
 *   per `rejoin`; the room waits for it (S3).
 * - **Rejoins** a room it was ejected from (keepalive or ack timeout, slow consumer, operator:
 *   S10, S11, S30) once the handler of that room returned, per `rejoin`: a warning with the room
 *   and the reason is logged and `QueueMetrics.workerRejoinsTotal` counted; the other rooms go on
 *   meanwhile. A durable client's rejoin resumes the membership if the server kept it (S22); after
 *   an ack timeout or an operator's eject it is a fresh one (S5).
 * - **Stops** with `ClientSuperseded` when a newer process claimed this durable client's id
 *   (S21), with the handler's error under `onFailure: "fail"`, with its defect if it dies, with a
 *   `QueueError` a join cannot get past (`AlreadySubscribed`: this client holds a subscription to
 *   one of the rooms elsewhere), or with the last `RejoinCause` when the `rejoin` schedule ends.
 *   Whatever stops it, every room is then closed as by an interruption.
 * - **On interruption** every room is closed as its client's `onClose` says (S24): left, or
 *   detached for a successor. A handler still running is interrupted; its message stays
 *   unsettled (left: released to the other members, S6; detached: the successor receives it
 *   again, S22).
 *
 * It never succeeds (its success type is `never`): a worker has no natural end, and stopping it is
 * interrupting it, which is also what a process shutdown does. Run it as the program
 * (`NodeRuntime.runMain`: SIGTERM interrupts it), or fork it next to other work
 * (`Effect.forkScoped`) and join the fiber to learn why it stopped. `make` starts the same worker
 * in a scope and returns once every room is joined.
 *
 * @since 1.1.0
 * @category running
 */
export const run: <E, R, R2 = never>(
  rooms: ReadonlyArray<string>,
  handler: (delivery: Delivery) => Effect.Effect<void, E, R>,
  options?: Options<E, R2>
) => Effect.Effect<never, E | QueueError | ClientEjected, R | R2 | SyncFanoutQueue> = internal.run

/**
 * Start the worker of `run` in the current scope and return once every room was joined: what is
 * sent to the rooms from then on reaches its handler (S5; a message sent to a room without a sync
 * member is released to nobody, S7). It runs until the scope closes, which closes the rooms as an
 * interruption of `run` does. Fails, with the rooms closed, if the worker stops before every room
 * was joined (`AlreadySubscribed`, `ClientSuperseded`, a `rejoin` schedule that ended, …); a join
 * that cannot reach the engine is tried again per `rejoin` meanwhile (`Effect.timeout` bounds the
 * wait).
 *
 * @since 1.1.0
 * @category constructors
 */
export const make: <E, R, R2 = never>(
  rooms: ReadonlyArray<string>,
  handler: (delivery: Delivery) => Effect.Effect<void, E, R>,
  options?: Options<E, R2>
) => Effect.Effect<RoomWorker<E>, E | QueueError | ClientEjected, R | R2 | SyncFanoutQueue | Scope.Scope> =
  internal.make
