/**
 * What a subscriber receives (`Delivery`) and what `peek` shows (`QueuedMessage`).
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { MessageId } from "./MessageId.js"
import type { ClientSuperseded, EngineError, InvalidArgument, OperationTimeout } from "./QueueError.js"

/**
 * `queued` messages take part in the lock-step barrier (S3); `out-of-band` ones skip it (S9).
 *
 * @since 0.1.0
 * @category models
 */
export type DeliveryKind = "queued" | "out-of-band"

/**
 * One message delivered to one subscription.
 *
 * @since 0.1.0
 * @category models
 */
export interface Delivery<A = unknown> {
  readonly room: string
  readonly id: MessageId
  readonly data: A
  readonly kind: DeliveryKind
  readonly priority: number
  readonly producer: string
  readonly sequence: number
  readonly sentAt: Date
  /** receive time minus `sentAt` (producer clock) */
  readonly latency: Duration.Duration
  /**
   * How many times this message reached this member (its client id), this time included (S27):
   * 1 the first time, one more each time a resumed membership (S22) receives it again. Always 1
   * for async members and out-of-band messages.
   *
   * @since 1.1.0
   */
  readonly attempt: number
  /**
   * Acknowledge this message (S3, S4). Idempotent; a no-op for out-of-band and async deliveries.
   * It does not wait for the server, so it never fails: the ack leaves with the other acks of
   * this event-loop turn (one round trip for all of them), operations this client makes
   * afterwards reach the server after it, and an ack lost in transit is repeated by the client
   * (S12). (Typed `Effect<void, QueueError>` before 1.1.0; it never failed.) The ack of a client
   * that was fenced (S21) or left the room takes no effect.
   */
  readonly ack: Effect.Effect<void>
  /**
   * Settle this message for this member as a dead letter instead of an ack (S28): the room moves
   * on as for an ack, and the message is listed by `RoomAdmin.deadLetters` with `reason`
   * (default `"rejected"`). One round trip; idempotent; a no-op for out-of-band and async
   * deliveries and for a message already acked or rejected. Fails with `InvalidArgument` for a
   * reason that is not 1–256 characters of well-formed text (nothing is written), or as the
   * engine does (`EngineError`, `OperationTimeout`, `ClientSuperseded`).
   *
   * @since 1.1.0
   */
  readonly reject: (
    reason?: string
  ) => Effect.Effect<void, InvalidArgument | EngineError | OperationTimeout | ClientSuperseded>
}

/**
 * A message waiting in a room's queue, not yet released (S13).
 *
 * @since 0.1.0
 * @category models
 */
export interface QueuedMessage<A = unknown> {
  readonly id: MessageId
  readonly room: string
  readonly data: A
  readonly priority: number
  readonly producer: string
  readonly sequence: number
  readonly sentAt: Date
}
