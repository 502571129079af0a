/**
 * Acks (S3, S4): `delivery.ack` hands the ack to the engine and does not wait for the server
 * (see `BackendClient.ack`). One that could not be delivered is repeated, with a growing delay,
 * for as long as it matters: the subscription is open and it is still the last message its
 * consumer acked. After a reconnect the resync repeats it too (S12).
 *
 * Rejects (S28): `delivery.reject` is awaited (one round trip); once the engine answered, the
 * message is settled for the subscription as an acked one is: no ack of it is repeated any more.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { AckFailure, BackendClient, BackendError, DeadLetterPolicy } from "../Backend.js"
import * as Envelope from "../Envelope.js"
import { InvalidArgument, type QueueError } from "../QueueError.js"
import type { Subscription } from "./subscription.js"
import { hotSpan, isTraced } from "./tracing.js"
import { wellFormedError } from "./validation.js"

/** Delay before the first repeat of an undelivered ack: a blip (a reconnect) costs the room little. */
const firstRepeatDelayMs = 50

/** Longest delay between repeats: an undelivered ack holds its room (S3), so it is tried this often. */
const maxRepeatDelayMs = 2000

/**
 * The repeat whose failure is logged as a warning, the earlier ones at debug level: after
 * 50 + 100 + … + 800 ms, about 1.5 s of failures, it is no longer a blip.
 */
const warnFromAttempt = 5

/** The delay before repeat `attempt + 1`: doubling from `firstRepeatDelayMs` up to `maxRepeatDelayMs`. */
const repeatDelay = (attempt: number): Duration.Duration =>
  Duration.millis(Math.min(maxRepeatDelayMs, firstRepeatDelayMs * 2 ** attempt))

/** The reason of a reject (S28) without one. */
const defaultReason = "rejected"

/** Longest reason of a reject, in UTF-16 code units: a label, not a stack trace. */
const maxReasonLength = 256

/** Why `reason` is not a reject's reason (1–256 code units of well-formed text), or undefined. */
export const reasonError = (reason: unknown): InvalidArgument | undefined => {
  if (typeof reason !== "string" || reason.length === 0 || reason.length > maxReasonLength) {
    return new InvalidArgument({
      message: `a reject's reason must be a string of 1 to ${maxReasonLength} characters, got ${
        typeof reason === "string" ? `${reason.length} characters` : String(reason)
      }`
    })
  }
  const malformed = wellFormedError("a reject's reason", reason)
  return malformed === undefined ? undefined : new InvalidArgument({ message: malformed })
}

export class Acks {
  constructor(
    private readonly backend: BackendClient,
    private readonly clientId: string,
    /** the open subscription of a room */
    private readonly lookup: (room: string) => Subscription | undefined,
    private readonly runFork: (effect: Effect.Effect<void>) => void,
    /** where this client's rejects keep their dead letters (S29) */
    private readonly deadLetters: DeadLetterPolicy
  ) {}

  /**
   * The ack of a delivery of `id` to `sub`: handed to the connection, not awaited. Made once per
   * delivery, so it is one step and allocates nothing unless a real tracer wants its span.
   */
  readonly ackFor = (sub: Subscription, id: string): Effect.Effect<void> =>
    Effect.withFiber((fiber) => {
      sub.lastAckedId = id
      if (sub.closed) return Effect.void // left: the leave released what it held (S6)
      if (!isTraced(fiber)) {
        this.send(sub, id, 0)
        return Effect.void
      }
      return hotSpan("SyncFanoutQueue.ack", { room: sub.room, id }, Effect.sync(() => this.send(sub, id, 0)))
    })

  /**
   * The `reject` of a delivery of `id` for `attempt` to `sub` (S28): awaited. A subscription that
   * was closed holds nothing any more (S6) and rejects nothing, as its acks do.
   */
  readonly rejectFor =
    (sub: Subscription, id: string, attempt: number) => (reason?: string): Effect.Effect<void, QueueError> =>
      Effect.suspend((): Effect.Effect<void, QueueError> => {
        const why = reason === undefined ? defaultReason : reason
        const invalid = reasonError(why)
        if (invalid !== undefined) return Effect.fail(invalid)
        if (sub.closed) return Effect.void
        return this.backend.reject(sub.room, id, attempt, why, this.deadLetters).pipe(
          Effect.map(() => {
            // settled (by this reject, or earlier by an ack): an ack of it lost in transit is not repeated
            if (sub.lastAckedId === id) sub.lastAckedId = null
          }),
          Effect.withSpan("Delivery.reject", { attributes: { room: sub.room, id, reason: why } })
        )
      })

  /**
   * An undecodable frame reached the sync member `sub` (S16): if it was the in-flight message
   * it holds, ack it, so the room does not stall on a message nobody can read.
   */
  readonly undecodable = (sub: Subscription): void =>
    this.runFork(
      this.backend.resync(sub.room).pipe(
        Effect.flatMap((inFlight) =>
          inFlight !== null && !sub.closed && typeof Envelope.decodeOrReason(inFlight.envelope) === "string"
            ? this.ackFor(sub, inFlight.id)
            : Effect.void
        ),
        Effect.catch((e) => Effect.logDebug("lockstep: could not ack an undecodable message", e.message))
      )
    )

  private send(sub: Subscription, id: string, attempt: number): void {
    this.backend.ack(
      sub.room,
      id,
      attempt === 0 ? this.onFirstFailure : (_room, _id, error) => this.retry(sub, id, error, attempt)
    )
  }

  private readonly onFirstFailure: AckFailure = (room, id, error) => {
    const sub = this.lookup(room)
    if (sub !== undefined) this.retry(sub, id, error, 0)
  }

  private retry(sub: Subscription, id: string, error: BackendError, attempt: number): void {
    if (sub.closed || sub.lastAckedId !== id) return
    const log = attempt === warnFromAttempt ? Effect.logWarning : Effect.logDebug
    this.runFork(
      log(`lockstep: ack not delivered (${error.message}), repeating it`).pipe(
        Effect.andThen(Effect.sleep(repeatDelay(attempt))),
        Effect.andThen(Effect.sync(() => {
          if (!sub.closed && sub.lastAckedId === id) this.send(sub, id, attempt + 1)
        })),
        Effect.annotateLogs({ clientId: this.clientId, room: sub.room })
      )
    )
  }
}
