/**
 * A snapshot of one room (S14).
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Option from "effect/Option"
import type { MessageId } from "./MessageId.js"

/**
 * The released message a room waits on: its id, release time and age.
 *
 * @since 0.1.0
 * @category models
 */
export interface InFlight {
  readonly id: MessageId
  readonly releasedAt: Date
  readonly age: Duration.Duration
}

/**
 * The snapshot returned by `SyncFanoutQueue.roomState` (S14).
 *
 * @since 0.1.0
 * @category models
 */
export interface RoomState {
  readonly room: string
  /** queued, not yet released */
  readonly backlog: number
  /** sync member client ids, sorted */
  readonly members: ReadonlyArray<string>
  /** sync members that acked the in-flight message, sorted */
  readonly acked: ReadonlyArray<string>
  /** the released message the room waits on, if any */
  readonly inFlight: Option.Option<InFlight>
  /** paused by an operator (S30): no queued message is released until `RoomAdmin.resume` */
  readonly paused: boolean
}
