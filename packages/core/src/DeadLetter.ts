/**
 * Dead letters (S28, S29): a message settled for one member without an ack — rejected by its
 * consumer, delivered more than `maxDeliveries` times, or skipped by an operator. The room moved
 * on; the letter is kept per room, newest first, at most `deadLetterLimit` of them and for
 * `deadLetterRetention`, until `RoomAdmin.redrive` queues a copy or `dropDeadLetters` drops them.
 *
 * @since 1.1.0
 */
import type * as Option from "effect/Option"
import type { QueuedMessage } from "./Delivery.js"

/**
 * Why a message became a dead letter for a member: `"rejected"` by `delivery.reject` (or the reason
 * given to it), `"max-deliveries"` when it would have reached the member for attempt
 * `maxDeliveries + 1`, `"skipped"` by `RoomAdmin.skip`.
 *
 * @since 1.1.0
 * @category models
 */
export type DeadLetterReason = "rejected" | "max-deliveries" | "skipped" | (string & {})

/**
 * One dead letter: the message, the member it was settled for, how many times it reached that
 * member (S27), when it became a letter and why.
 *
 * @since 1.1.0
 * @category models
 */
export interface DeadLetter<A = unknown> {
  readonly message: QueuedMessage<A>
  /** the client id of the member */
  readonly member: string
  /** the attempts the member had had (S27) */
  readonly attempts: number
  readonly at: Date
  readonly reason: DeadLetterReason
}

/**
 * A page of a room's dead letters, newest first, and the cursor of the next page (none: the last).
 *
 * @since 1.1.0
 * @category models
 */
export interface DeadLetterPage<A = unknown> {
  readonly letters: ReadonlyArray<DeadLetter<A>>
  readonly cursor: Option.Option<string>
}
