/**
 * Operator actions on rooms (S29, S30), for any client of the key prefix: provided next to
 * `SyncFanoutQueue` by every client layer (`MemoryLayer.*`, `@lockstep/redis` `ClientLayer.*`),
 * and used by the monitor's board actions and the `lockstep` command line.
 *
 * Each action is one round trip to the engine, atomic with the room's other operations and
 * idempotent; it is logged with the acting client's id and counted in the
 * `lockstep_admin_actions_total` metric (attribute `action`).
 *
 * @since 1.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { DeadLetterPage } from "./DeadLetter.js"
import type { MessageId } from "./MessageId.js"
import type { QueueError } from "./QueueError.js"

/**
 * Options of `deadLetters`.
 *
 * @since 1.1.0
 * @category models
 */
export interface DeadLetterOptions {
  /** from a previous page's cursor; a cursor of another room or prefix is `InvalidArgument` */
  readonly cursor?: string | undefined
  /** default 100, at most 1000 */
  readonly limit?: number | undefined
}

/**
 * The operator's side of one client.
 *
 * @since 1.1.0
 * @category services
 */
export class RoomAdmin extends Context.Service<RoomAdmin, {
  /**
   * End the membership of `clientId` in `room` now (S30): its stream fails with
   * `ClientEjected { reason: "operator" }`, what it held is released as for a leave (S6), and a
   * durable id does not resume it. `false` when it was not a member.
   */
  readonly eject: (room: string, clientId: string) => Effect.Effect<boolean, QueueError>
  /**
   * Stop releasing queued messages in `room` (S30): the in-flight one completes, sends queue,
   * out-of-band messages flow; `RoomState.paused` is true. Server state: it outlives every client.
   * `false` when it was paused already.
   */
  readonly pause: (room: string) => Effect.Effect<boolean, QueueError>
  /** Release again (S30), the next queued message at once if none is in flight. `false` when it was not paused. */
  readonly resume: (room: string) => Effect.Effect<boolean, QueueError>
  /**
   * Dead-letter the in-flight message (`reason: "skipped"`) for every sync member that has not
   * acked it, and release the next unless the room is paused (S30). The id skipped, none when
   * nothing was in flight.
   */
  readonly skip: (room: string) => Effect.Effect<Option.Option<MessageId>, QueueError>
  /** Drop the backlog, not the in-flight message (S30); the number of messages dropped. */
  readonly purge: (room: string) => Effect.Effect<number, QueueError>
  /** The room's dead letters, newest first (S29). */
  readonly deadLetters: (room: string, options?: DeadLetterOptions) => Effect.Effect<DeadLetterPage, QueueError>
  /**
   * Queue a copy of the dead-lettered message `id` (a new id from this client, same data and
   * priority) and remove its letters (S29); the new id, none when no letter of `id` is left.
   */
  readonly redrive: (room: string, id: MessageId) => Effect.Effect<Option.Option<MessageId>, QueueError>
  /** Drop the room's dead letters (S29, S18); how many were dropped. */
  readonly dropDeadLetters: (room: string) => Effect.Effect<number, QueueError>
}>()("@lockstep/core/RoomAdmin") {}
