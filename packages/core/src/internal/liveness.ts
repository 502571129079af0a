/**
 * The background work that keeps one client alive and honest, as fibers of the client's scope:
 *
 * - **keepalive** (S10): a heartbeat every `keepaliveInterval`. An answer saying the server no
 *   longer knows the client (it was expired) ejects every subscription; no answer for
 *   `clientTimeout` fails the client's own streams without waiting to be told (the server will
 *   expire it, unless it is back first: then those rooms are left, see `PendingLeaves`).
 * - **housekeeping** (S10, S11): every `housekeepingInterval`, expire clients and ack deadlines;
 *   any client may do it, the server dedupes the work.
 * - **reconnect → resync** (S12): after the engine connection came back, ask whether the server
 *   still knows the client, leave the rooms given up meanwhile, then resync every sync
 *   subscription: deliver again an in-flight message it holds and never saw, repeat an ack lost
 *   in transit, notice an ack-timeout ejection whose notice was lost (S11).
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { BackendClient } from "../Backend.js"
import type { ResolvedQueueConfig } from "../QueueConfig.js"
import type { Acks } from "./acks.js"
import type { PendingLeaves } from "./pendingLeaves.js"
import type { Subscription } from "./subscription.js"
import type { Subscriptions } from "./subscriptions.js"

export interface LivenessOptions {
  readonly backend: BackendClient
  readonly config: ResolvedQueueConfig
  readonly clientId: string
  /** a durable client (S21): rooms it gives up are owed a detach, not a leave (S22) */
  readonly durable: boolean
  readonly now: () => number
  readonly subscriptions: Subscriptions
  readonly pendingLeaves: PendingLeaves
  readonly acks: Acks
}

/** Register the client and start its keepalive, housekeeping and reconnect fibers in the scope. */
export const start = (options: LivenessOptions): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { acks, backend, clientId, config, durable, now, pendingLeaves, subscriptions } = options
    const clientTimeoutMs = Duration.toMillis(config.clientTimeout)
    const rooms = () => [...subscriptions.byRoom.keys()]

    /** The server answered a keepalive: `known` is false when it had expired us (every membership is gone). */
    const heard = (known: boolean) =>
      Effect.suspend(() => {
        if (known) return pendingLeaves.flush((room) => subscriptions.byRoom.has(room))
        pendingLeaves.clear()
        if (subscriptions.size > 0) subscriptions.ejectAll("keepalive-timeout")
        return Effect.void
      })

    // S10: register, then heartbeat, and fail our own streams when the server is out of reach
    yield* backend.keepalive([], clientTimeoutMs).pipe(Effect.ignore)
    let lastHeard = now()
    const keepaliveOnce = Effect.suspend(() =>
      backend.keepalive(rooms(), clientTimeoutMs).pipe(
        Effect.timeout(config.keepaliveInterval),
        Effect.result,
        Effect.flatMap((result) => {
          const t = now()
          if (Result.isSuccess(result)) {
            lastHeard = t
            return heard(result.success)
          } else if (t - lastHeard >= clientTimeoutMs && subscriptions.size > 0) {
            // the server will expire us, unless we are back first: then these rooms must be left
            // (a durable client's are detached instead: kept for clientTimeout, to be resumed, S22)
            for (const room of subscriptions.byRoom.keys()) pendingLeaves.add(room, durable ? "detach" : "leave")
            subscriptions.ejectAll("keepalive-timeout")
          }
          return Effect.void
        })
      )
    )
    yield* keepaliveOnce.pipe(
      Effect.repeat(Schedule.spaced(config.keepaliveInterval)),
      Effect.delay(config.keepaliveInterval),
      Effect.forkScoped
    )

    // S10, S11: expire clients and ack deadlines
    yield* Effect.suspend(() => backend.housekeep(rooms())).pipe(
      Effect.catchCause((cause) => Effect.logDebug("lockstep: housekeeping failed", Cause.pretty(cause))),
      Effect.repeat(Schedule.spaced(config.housekeepingInterval)),
      Effect.delay(config.housekeepingInterval),
      Effect.forkScoped
    )

    // S12: the resync of one sync subscription
    const resyncOne = (sub: Subscription) => {
      const delivered = sub.queuedCount
      return backend.resync(sub.room).pipe(
        Effect.flatMap((answer) => {
          switch (sub.resynced(answer, delivered)) {
            case "ack":
              return acks.ackFor(sub, answer!.id)
            case "membership":
              return Effect.map(backend.roomState(sub.room), (state) => {
                if (!sub.closed && !state.members.includes(clientId)) {
                  subscriptions.eject([sub], "ack-timeout", false)
                }
              })
            default:
              return Effect.void
          }
        }),
        Effect.catch((e) => Effect.logWarning("lockstep: resync failed", e.message))
      )
    }
    // suspended: the subscriptions are read at each reconnect, not when the client is built
    const resync = Effect.suspend(() =>
      Effect.forEach(
        [...subscriptions.byRoom.values()].filter((sub) => sub.mode === "sync" && sub.joinedEvent !== null),
        resyncOne,
        { discard: true }
      )
    ).pipe(Effect.withSpan("SyncFanoutQueue.resync"))

    // after a reconnect, notices published while we were away are lost: ask the server whether it
    // still knows us (S10) before resyncing, and leave the rooms we gave up meanwhile (S6)
    const reconnected = Effect.gen(function*() {
      const known = yield* Effect.result(backend.keepalive(rooms(), clientTimeoutMs))
      if (Result.isSuccess(known)) {
        lastHeard = now()
        yield* heard(known.success)
      }
      yield* resync
    })
    yield* SubscriptionRef.changes(backend.connected).pipe(
      Stream.changes,
      Stream.drop(1),
      Stream.filter((up) => up),
      Stream.runForEach(() => reconnected),
      Effect.forkScoped
    )
  })
