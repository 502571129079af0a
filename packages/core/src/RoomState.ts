/**
 * A snapshot of one room (S14).
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Option from "effect/Option"
import type { MessageId } from "./MessageId.js"

/** @since 0.1.0 */
export interface InFlight {
  readonly id: MessageId
  readonly releasedAt: Date
  readonly age: Duration.Duration
}

/** @since 0.1.0 */
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
}
