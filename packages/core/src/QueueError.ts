/**
 * The typed failures of lockstep (DESIGN §3). Every expected failure is a tagged class with a
 * readable `message`; unexpected ones stay defects.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

/**
 * Why a client was removed from a room by the engine rather than by its own `leave`.
 *
 * - `keepalive-timeout`: not heard from for `clientTimeout` (S10), or could not reach the server itself.
 * - `ack-timeout`: did not ack the in-flight message within `ackTimeout` (S11).
 * - `slow-consumer`: its subscription buffer (`subscriberBuffer`) overflowed because the stream was not pulled.
 * - `superseded`: a newer process claimed this durable client's `clientId` (S21).
 * - `operator`: `RoomAdmin.eject` removed it (S30); a durable id does not resume that membership.
 *
 * @since 0.1.0
 * @category schemas
 */
export const EjectReason = Schema.Literals([
  "keepalive-timeout",
  "ack-timeout",
  "slow-consumer",
  "superseded",
  "operator"
])

/**
 * The type of `EjectReason`.
 *
 * @since 0.1.0
 * @category models
 */
export type EjectReason = typeof EjectReason.Type

/**
 * A subscription ended because the engine ejected this client from the room (S10, S11).
 *
 * @since 0.1.0
 * @category errors
 */
export class ClientEjected extends Schema.TaggedError<ClientEjected>()("ClientEjected", {
  room: Schema.String,
  clientId: Schema.String,
  reason: EjectReason
}) {
  override get message(): string {
    return `client ${this.clientId} was ejected from room ${JSON.stringify(this.room)}: ${this.reason}`
  }
}

/**
 * A room name that is not a well-formed string (no lone surrogate) of 1–256 UTF-16 code units (S1),
 * with the reason. Nothing was written.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRoom extends Schema.TaggedError<InvalidRoom>()("InvalidRoom", {
  room: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    const shown = this.room.length > 40 ? `${JSON.stringify(this.room.slice(0, 40))}…` : JSON.stringify(this.room)
    return `invalid room ${shown}: ${this.reason}`
  }
}

/**
 * An argument was rejected before anything was written (bad priority, non-JSON data, bad paging, …).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>()("InvalidArgument", {
  message: Schema.String
}) {}

/**
 * The JSON payload is larger than `maxPayloadBytes` (S16). Nothing was sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  size: Schema.Number,
  limit: Schema.Number
}) {
  override get message(): string {
    return `payload of ${this.size} bytes exceeds the limit of ${this.limit} bytes (maxPayloadBytes)`
  }
}

/**
 * The client already holds a subscription to this room; a client holds at most one per room.
 *
 * @since 0.1.0
 * @category errors
 */
export class AlreadySubscribed extends Schema.TaggedError<AlreadySubscribed>()("AlreadySubscribed", {
  room: Schema.String
}) {
  override get message(): string {
    return `this client is already subscribed to room ${
      JSON.stringify(this.room)
    }; close that subscription's scope first`
  }
}

/**
 * The engine behind the queue failed or could not be reached: `engine` names it (`"redis"`, or
 * `"memory"` for the in-memory broker, whose connections fail only when a test cuts them),
 * `operation` what was being done (`"send"`, `"connect"`, …) and `cause` the engine's own error.
 * One type for every engine, so code written against `SyncFanoutQueue` handles failures the same
 * way whichever engine a layer provides.
 *
 * @since 0.1.0
 * @category errors
 */
export class EngineError extends Schema.TaggedError<EngineError>()("EngineError", {
  engine: Schema.String,
  operation: Schema.String,
  cause: Schema.Defect()
}) {
  override get message(): string {
    return `${this.engine}: ${this.operation} failed: ${describeCause(this.cause)}`
  }
}

/** A cause as text; never throws (a cause may be an object without `toString`, e.g. one copied by a test runner). */
const describeCause = (cause: unknown): string => {
  if (cause instanceof Error) return cause.message
  if (typeof cause === "object" && cause !== null && typeof (cause as { message?: unknown }).message === "string") {
    return (cause as { message: string }).message
  }
  try {
    return String(cause)
  } catch {
    return Object.prototype.toString.call(cause)
  }
}

/**
 * An operation did not complete within `operationTimeout`.
 *
 * @since 0.1.0
 * @category errors
 */
export class OperationTimeout extends Schema.TaggedError<OperationTimeout>()("OperationTimeout", {
  operation: Schema.String,
  timeout: Schema.Duration
}) {
  override get message(): string {
    return `${this.operation} did not complete within ${Duration.format(this.timeout)}`
  }
}

/**
 * This process no longer holds its durable `clientId` (S21): a newer process claimed it, and
 * this one's sends, acks, joins and leaves no longer take effect. Its subscription streams fail
 * with `ClientEjected { reason: "superseded" }`.
 *
 * @since 0.2.0
 * @category errors
 */
export class ClientSuperseded extends Schema.TaggedError<ClientSuperseded>()("ClientSuperseded", {
  clientId: Schema.String
}) {
  override get message(): string {
    return `client id ${this.clientId} was claimed by a newer process: this one was fenced (superseded)`
  }
}

/**
 * Every failure a queue operation may report.
 *
 * @since 0.1.0
 * @category errors
 */
export type QueueError =
  | InvalidRoom
  | InvalidArgument
  | PayloadTooLarge
  | AlreadySubscribed
  | EngineError
  | OperationTimeout
  | ClientSuperseded
