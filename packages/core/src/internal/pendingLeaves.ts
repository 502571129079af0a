/**
 * Rooms this client stopped listening to without the server confirming it: closed while the
 * server was out of reach, a join that timed out or was interrupted (it may have run), or given up
 * by this client's own S10 timeout. The server may still count the client as a member and wait
 * for its ack forever once it is back (S6): each room is left when the server answers again
 * (`flush`), or before the same room is joined again.
 *
 * A durable client (S21–S25) owes some of them a **detach** instead: its membership may be one a
 * successor (or this client, subscribing again) should resume, so it is kept for `clientTimeout`
 * rather than ended (S22, S24); a join of the same room resumes it without any other call.
 */
import * as Effect from "effect/Effect"
import type { BackendClient, BackendError } from "../Backend.js"

/** What a room is owed once the server answers: a leave (S6), or a detach (S24) */
export type Pending = "leave" | "detach"

export class PendingLeaves {
  private readonly rooms = new Map<string, Pending>()

  constructor(private readonly backend: BackendClient, private readonly clientTimeoutMs: number) {}

  add(room: string, pending: Pending = "leave"): void {
    this.rooms.set(room, pending)
  }

  /** The server confirmed the leave or detach of `room` (or forgot the whole client). */
  done(room: string): void {
    this.rooms.delete(room)
  }

  clear(): void {
    this.rooms.clear()
  }

  /**
   * Before joining `room` again: leave it if a leave is pending, so no old membership holds the
   * in-flight message (S5). A pending detach stays until the join succeeds (`done`): the join
   * resumes the membership (S22), but one that fails leaves it owed.
   */
  before(room: string): Effect.Effect<void, BackendError> {
    // annotated: the branches' types (boolean, void) must not be left to inference, whose outcome
    // depends on the order the checker meets them in (a stale `tsc -b` state reported an error)
    return Effect.suspend((): Effect.Effect<void, BackendError> =>
      this.rooms.get(room) === "leave"
        ? Effect.map(this.backend.leave(room), () => {
          this.rooms.delete(room)
        })
        : Effect.void
    )
  }

  /** The server answers again: settle every pending room, except those subscribed again meanwhile. */
  flush(subscribed: (room: string) => boolean): Effect.Effect<void> {
    return Effect.suspend(() =>
      Effect.forEach(
        [...this.rooms],
        ([room, pending]) =>
          subscribed(room)
            ? Effect.sync(() => this.rooms.delete(room)) // re-subscribed: the subscribe settled it first
            : (pending === "leave" ? this.backend.leave(room) : this.backend.detach(room, this.clientTimeoutMs)).pipe(
              Effect.map(() => this.rooms.delete(room)),
              Effect.ignore
            ),
        { discard: true }
      )
    )
  }
}
