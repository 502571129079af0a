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
   * When and how often to run a failing handler again for the same delivery (its typed failures
   * only: a defect or an interruption ends the worker). Default `defaultRetry`: 3 retries,
   * 100 ms, 200 ms, 400 ms apart. `Schedule.recurs(0)` never retries.
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
 * Run `handler` for every delivery of `rooms`, until interrupted.
 *
 * - **Joins** every room (at least one, no room twice; a bad name fails with `InvalidRoom`
 *   before anything is joined). A join that fails because the engine is out of reach is tried
 *   again per `rejoin`.
 * - **Order and concurrency:** the deliveries of one room are handled one at a time, in order; the
 *   rooms run independently (a slow handler in one room does not hold another), at most
 *   `concurrency` handlers at once.
 * - **Settles** each queued delivery: `ack` when the handler succeeds; when it fails, it runs again
 *   per `retry`, then per `onFailure` (`"reject"` by default: a dead letter, S28).
 * - **Rejoins** a room it was ejected from (keepalive or ack timeout, slow consumer, operator:
 *   S10, S11, S30) per `rejoin`, logging a warning with the room and the reason and counting it
 *   in `QueueMetrics.workerRejoinsTotal`; the other rooms go on meanwhile. A durable client's rejoin resumes its
 *   membership where the server kept it (S22).
 * - **Stops** with `ClientSuperseded` when a newer process claimed this durable client's id
 *   (S21), with the handler's error under `onFailure: "fail"`, with a `QueueError` a join cannot
 *   get past (`AlreadySubscribed`: this client subscribed to one of the rooms elsewhere), or with
 *   the last `RejoinCause` when the `rejoin` schedule ends.
 * - **On interruption** every room is closed as its client's `onClose` says (S24): left, or
 *   detached for a successor. A handler still running is interrupted; its message stays
 *   unsettled (left: released to the others, S6; detached: the successor receives it, S22).
 *
 * It never succeeds (its success type is `never`): fork it in a scope (`Effect.forkScoped`), run
 * it as the program (`NodeRuntime.runMain`) or make it a layer (`Layer.effectDiscard(Effect.forkScoped(…))`).
 *
 * @since 1.1.0
 * @category running
 */
export const run: <E, R, R2 = never>(
  rooms: ReadonlyArray<string>,
  handler: (delivery: Delivery) => Effect.Effect<void, E, R>,
  options?: Options<E, R2>
) => Effect.Effect<never, E | QueueError | ClientEjected, R | R2 | SyncFanoutQueue> = internal.run
