/**
 * Rooms this client stopped listening to without the server confirming the leave: closed while
 * the server was out of reach, a join that timed out or was interrupted (it may have run), or
 * given up by this client's own S10 timeout. The server may still count the client as a member
 * and wait for its ack forever once it is back (S6): each room is left when the server answers
 * again (`flush`), or before the same room is joined again.
 */
import * as Effect from "effect/Effect"
import type { BackendClient, BackendError } from "../Backend.js"

export class PendingLeaves {
  private readonly rooms = new Set<string>()

  constructor(private readonly backend: BackendClient) {}

  add(room: string): void {
    this.rooms.add(room)
  }

  /** The server confirmed the leave of `room` (or forgot the whole client). */
  done(room: string): void {
    this.rooms.delete(room)
  }

  clear(): void {
    this.rooms.clear()
  }

  /** Before joining `room` again: leave it if a leave is pending, so no old membership holds the in-flight message (S5). */
  before(room: string): Effect.Effect<void, BackendError> {
    return Effect.suspend(() =>
      this.rooms.has(room)
        ? Effect.map(this.backend.leave(room), () => this.rooms.delete(room))
        : Effect.void
    )
  }

  /** The server answers again: leave every pending room, except those subscribed again meanwhile. */
  flush(subscribed: (room: string) => boolean): Effect.Effect<void> {
    return Effect.suspend(() =>
      Effect.forEach(
        [...this.rooms],
        (room) =>
          subscribed(room)
            ? Effect.sync(() => this.rooms.delete(room)) // re-subscribed: the subscribe left first
            : this.backend.leave(room).pipe(Effect.andThen(() => this.rooms.delete(room)), Effect.ignore),
        { discard: true }
      )
    )
  }
}
