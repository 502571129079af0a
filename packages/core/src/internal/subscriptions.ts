/**
 * The subscriptions of one client, by room: joining a group of rooms (`subscribe`,
 * `subscribeMany`), leaving one when its scope closes (S6), ejection (S10, S11, slow consumers)
 * and closing them all with the client (S20). Each subscription's own states are in
 * `subscription.ts`.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { BackendClient, DeadLetterPolicy } from "../Backend.js"
import type { Delivery } from "../Delivery.js"
import type { SubscriptionMode } from "../QueueConfig.js"
import { AlreadySubscribed, ClientEjected, type EjectReason, type QueueError } from "../QueueError.js"
import type { ClientStats } from "./clientStats.js"
import * as DeliveryStream from "./deliveryStream.js"
import type { PendingLeaves } from "./pendingLeaves.js"
import { Group, Subscription, type SubscriptionHost } from "./subscription.js"

/**
 * The joins of one `subscribeMany` in flight at once: each is a round trip (listen, then join),
 * so running many overlaps their latency, and the bound keeps a group of thousands of rooms from
 * starting thousands of calls, each with its deadline, at once. A round figure, not a measured optimum.
 */
const joinConcurrency = 64

/** Run `effect` only while the engine connection is up; a server out of reach is told nothing. */
export const whenConnected = <E>(backend: BackendClient, effect: Effect.Effect<void, E>): Effect.Effect<void, E> =>
  Effect.flatMap(SubscriptionRef.get(backend.connected), (up) => up ? effect : Effect.void)

export interface SubscriptionsOptions {
  readonly backend: BackendClient
  readonly clientId: string
  readonly subscriberBuffer: number
  readonly ackTimeoutMs: number | null
  readonly clientTimeoutMs: number
  /**
   * S24 (`onClose: "detach"`): a subscription whose scope closes by interruption (e.g. the
   * process shutting down) keeps its membership for a successor instead of leaving
   */
  readonly detachOnInterrupt: boolean
  /** a durable client (S21): a join that may have run is owed a detach, not a leave (S22) */
  readonly durable: boolean
  /** S28: a resumed membership dead-letters a message past this attempt; null: no bound */
  readonly maxDeliveries: number | null
  /** S29: where this client's dead letters go */
  readonly deadLetters: DeadLetterPolicy
  readonly now: () => number
  readonly stats: ClientStats
  readonly pendingLeaves: PendingLeaves
  /** runs background work (a log line, a leave) in the client's scope */
  readonly runFork: (effect: Effect.Effect<void>) => void
}

export class Subscriptions {
  /** the open subscriptions, by room: a client holds at most one per room */
  readonly byRoom = new Map<string, Subscription>()
  /**
   * S27 (`JoinOptions.handed`), durable clients only: per room, the last queued message a closed
   * subscription of it had handed to its consumer. Written when a subscription closes, never on
   * the delivery path; one entry per room this client ever subscribed to.
   */
  private readonly handed = new Map<string, string>()
  private host: SubscriptionHost

  constructor(
    private readonly options: SubscriptionsOptions,
    hooks: Pick<SubscriptionHost, "ackFor" | "rejectFor" | "undecodable">
  ) {
    this.host = {
      clientId: options.clientId,
      subscriberBuffer: options.subscriberBuffer,
      now: options.now,
      stats: options.stats,
      ackFor: hooks.ackFor,
      rejectFor: hooks.rejectFor,
      undecodable: hooks.undecodable,
      eject: (subs, reason, leaveRemotely) => this.eject(subs, reason, leaveRemotely)
    }
  }

  get size(): number {
    return this.byRoom.size
  }

  /** A subscription closes: remember what it handed to its consumer last (S27). */
  private closing(sub: Subscription): void {
    sub.closed = true
    if (this.options.durable && sub.lastQueuedId !== null) this.handed.set(sub.room, sub.lastQueuedId)
  }

  /** Close a subscription without a leave; its group's stream ends with the last one. */
  private closeLocally(sub: Subscription): Group {
    if (sub.closed) return sub.group
    this.closing(sub)
    if (this.byRoom.get(sub.room) === sub) this.byRoom.delete(sub.room)
    sub.group.open--
    return sub.group
  }

  /**
   * Remove subscriptions because the engine (or this client, S10) ejected them. A group that keeps
   * other rooms fails its stream once (run again, it goes on with them); otherwise the stream
   * ends with the ejection for good.
   */
  eject(subs: ReadonlyArray<Subscription>, reason: EjectReason, leaveRemotely: boolean): void {
    const { backend, clientId, runFork, stats } = this.options
    const ejected = subs.filter((sub) => !sub.closed)
    const groups = new Map<Group, ClientEjected>()
    for (const sub of ejected) {
      const group = this.closeLocally(sub)
      if (!groups.has(group)) groups.set(group, new ClientEjected({ room: sub.room, clientId, reason }))
    }
    for (const [group, error] of groups) {
      if (group.open > 0) group.buffer.fail(error)
      else group.buffer.end(error)
    }
    for (const sub of ejected) {
      stats.ejected()
      runFork(
        Effect.logWarning(`lockstep: ejected from room ${JSON.stringify(sub.room)}: ${reason}`).pipe(
          Effect.andThen(leaveRemotely ? backend.leave(sub.room) : Effect.void),
          Effect.catch((e) => Effect.logWarning("lockstep: leave after ejection failed", e.message)),
          Effect.annotateLogs({ clientId, room: sub.room })
        )
      )
    }
  }

  /** Eject every subscription (the client itself was expired, S10). */
  ejectAll(reason: EjectReason): void {
    this.eject([...this.byRoom.values()], reason, false)
  }

  /**
   * Close a subscription from its own scope (S6): it leaves the room at once; with
   * `detachOnInterrupt`, a scope closed by interruption detaches it instead (S24).
   */
  private close(sub: Subscription, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (sub.closed) return Effect.void
      const group = this.closeLocally(sub)
      if (group.open === 0) group.buffer.end(DeliveryStream.End)
      const { backend, clientId, clientTimeoutMs, detachOnInterrupt, pendingLeaves } = this.options
      // until the server confirms the leave or the detach: one that did not reach it is made once
      // the server answers again, or the room would wait for this live client forever
      const detaching = detachOnInterrupt && Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
      pendingLeaves.add(sub.room, detaching ? "detach" : "leave")
      if (detaching) {
        return whenConnected(
          backend,
          Effect.map(backend.detach(sub.room, clientTimeoutMs), () => pendingLeaves.done(sub.room))
        ).pipe(
          Effect.catch((e) => Effect.logWarning("lockstep: detach failed", e.message)),
          Effect.annotateLogs({ clientId, room: sub.room })
        )
      }
      return whenConnected(backend, Effect.map(backend.leave(sub.room), () => pendingLeaves.done(sub.room))).pipe(
        Effect.catch((e) => Effect.logWarning("lockstep: leave failed", e.message)),
        Effect.annotateLogs({ clientId, room: sub.room })
      )
    })
  }

  /**
   * Close every subscription for the client's shutdown (S20); returns their rooms, which the
   * caller leaves in one call.
   */
  closeAll(): Array<string> {
    const rooms: Array<string> = []
    for (const sub of this.byRoom.values()) {
      this.closing(sub)
      sub.group.buffer.end(DeliveryStream.End)
      rooms.push(sub.room)
    }
    this.byRoom.clear()
    return rooms
  }

  /**
   * Join `rooms` (validated, distinct) as one group: one buffer, one Stream. Live when every room
   * is joined; if one cannot be, none stays joined. Closing the Scope leaves them all (S6).
   */
  subscribe(
    rooms: ReadonlyArray<string>,
    mode: SubscriptionMode
  ): Effect.Effect<Stream.Stream<Delivery, ClientEjected>, QueueError, Scope.Scope> {
    const { ackTimeoutMs, backend, clientTimeoutMs, deadLetters, maxDeliveries, pendingLeaves } = this.options
    return Effect.gen({ self: this }, function*() {
      for (const room of rooms) {
        if (this.byRoom.has(room)) return yield* new AlreadySubscribed({ room })
      }
      // the rooms are taken from here on (no yield before): a concurrent subscribe to one of them
      // fails with AlreadySubscribed
      const group = new Group(rooms.length === 1)
      const subs = rooms.map((room) => new Subscription(room, mode, group, this.host))
      for (const sub of subs) {
        group.add(sub)
        this.byRoom.set(sub.room, sub)
      }
      const parent = yield* Effect.scope
      // the rooms of a group are left in parallel when its scope closes; each room's own scope
      // runs its finalizers in reverse order: the leave happens before the channel is dropped
      const scope = yield* Scope.fork(parent, "parallel")
      /** the subscriptions whose join was sent: it may have run on the server even if it failed */
      const sent = new Set<Subscription>()
      const join = (sub: Subscription) =>
        Effect.gen({ self: this }, function*() {
          // a membership left over from an unconfirmed leave would still hold the in-flight message (S5)
          yield* pendingLeaves.before(sub.room)
          const own = yield* Scope.fork(scope, "sequential")
          yield* Effect.gen({ self: this }, function*() {
            // order matters: listen before join so nothing released after the join is missed (S3)
            yield* backend.listen(sub.room, (frame) => sub.onFrame(frame))
            yield* Effect.addFinalizer((exit) => this.close(sub, exit))
            sent.add(sub)
            const joined = yield* backend.join(sub.room, {
              mode,
              ackTimeoutMs,
              clientTimeoutMs,
              handed: this.handed.get(sub.room) ?? null,
              maxDeliveries,
              deadLetters
            })
            if (sub.closed) {
              // ejected while its join was in flight (S10: the server had forgotten this client,
              // or this client gave the server up): the join may have run after the ejection, and
              // nobody listens to the membership it made. Leave it once the server answers (S6),
              // or the room waits for this live client forever; a durable client detaches (S22).
              pendingLeaves.add(sub.room, this.options.durable ? "detach" : "leave")
              return
            }
            pendingLeaves.done(sub.room) // a detach still owed: the join resumed the membership (S22)
            sub.joined(joined.event, joined.inFlight)
          }).pipe(Scope.provide(own))
        })
      yield* (subs.length === 1
        ? join(subs[0]!)
        : Effect.forEach(subs, join, { concurrency: joinConcurrency, discard: true }))
        .pipe(
          Effect.onExit((exit) =>
            Exit.isFailure(exit)
              ? Effect.andThen(
                Effect.sync(() => {
                  for (const sub of subs) {
                    if (sub.closed || sub.joinedEvent !== null) continue // joined: its finalizer leaves now
                    this.closeLocally(sub)
                    // a join that timed out or was interrupted may have run on the server: leave
                    // once it answers again (S6), or the room would wait for this client's acks;
                    // a durable client detaches instead, as it may have resumed a membership
                    // that must not end (S22). A join never sent owes nothing.
                    if (sent.has(sub)) pendingLeaves.add(sub.room, this.options.durable ? "detach" : "leave")
                  }
                }),
                Scope.close(scope, exit)
              )
              : Effect.void
          )
        )
      return DeliveryStream.toStream(group.buffer)
    })
  }
}
