/**
 * Rooms this client stopped listening to without the server confirming the leave: closed while
 * the server was out of reach, a join that timed out or was interrupted (it may have run), or
 * given up by this client's own S10 timeout. The server may still count the client as a member
 * and wait for its ack forever once it is back (S6): each room is left when the server answers
 * again (`flush`), or before the same room is joined again.
 *
 * A durable client's subscription detached by interruption (S24) while the server was out of
 * reach is kept here too, as a pending detach: the server would otherwise keep the membership
 * holding its room for as long as this client lives. It is detached when the server answers
 * again, unless a join of the same room resumes it first (S22); a join that fails does not turn
 * it into a leave.
 */
import * as Effect from "effect/Effect"
import type { BackendClient, BackendError } from "../Backend.js"

/** What is owed to the server for a room: a leave (S6), or a detach (S24). */
export type Pending = "leave" | "detach"

export class PendingLeaves {
  private readonly rooms = new Map<string, Pending>()

  constructor(private readonly backend: BackendClient, private readonly clientTimeoutMs: number) {}

  /** Owe the server a leave or a detach of `room`; a pending detach stays one (see the header). */
  add(room: string, pending: Pending = "leave"): void {
    if (pending === "leave" && this.rooms.get(room) === "detach") return
    this.rooms.set(room, pending)
  }

  /** A join of `room` succeeded: it resumed the membership a pending detach was for (S22). */
  joined(room: string): void {
    if (this.rooms.get(room) === "detach") this.rooms.delete(room)
  }

  /** The server confirmed the leave (or detach) of `room` (or forgot the whole client). */
  done(room: string): void {
    this.rooms.delete(room)
  }

  clear(): void {
    this.rooms.clear()
  }

  /**
   * Before joining `room` again: leave it if a leave is pending, so no old membership holds the
   * in-flight message (S5). A pending detach stays until the join succeeds: the join resumes the
   * membership (S22, `joined`).
   */
  before(room: string): Effect.Effect<void, BackendError> {
    return Effect.suspend(() =>
      this.rooms.get(room) === "leave"
        ? Effect.map(this.backend.leave(room), () => this.rooms.delete(room))
        : Effect.void
    )
  }

  /** The server answers again: leave (or detach) every pending room, except those subscribed again meanwhile. */
  flush(subscribed: (room: string) => boolean): Effect.Effect<void> {
    return Effect.suspend(() =>
      Effect.forEach(
        [...this.rooms],
        ([room, pending]) =>
          subscribed(room)
            ? Effect.sync(() => this.rooms.delete(room)) // re-subscribed: the subscribe left or resumed first
            : (pending === "leave" ? this.backend.leave(room) : this.backend.detach(room, this.clientTimeoutMs)).pipe(
              Effect.andThen(() => this.rooms.delete(room)),
              Effect.ignore
            ),
        { discard: true }
      )
    )
  }
}
