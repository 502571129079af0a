/**
 * The resync of a cluster's sharded subscriptions (SSUBSCRIBE, S17) after ioredis restored them,
 * and the one place lockstep touches ioredis internals.
 *
 * ioredis 6 keeps sharded subscriptions alive by itself. When a slot migrates, Redis drops the
 * slot's subscriptions on the old owner and pushes an unsolicited `sunsubscribe` for each channel:
 * ioredis takes it as a `moved` signal (`DataHandler.handleUnsolicitedUnsubscribe`), reloads the
 * slot map and subscribes every channel again on the slots' current owners
 * (`ClusterSubscriberGroup.reset`); it does the same when a subscriber connection is lost (killed,
 * a node failed over, its PING health check unanswered), and emits `subscribersReady` once it sent
 * the SSUBSCRIBEs. (ioredis 5.11 took that push for the reply to the command at the head of its
 * queue, and nothing subscribed the channel on the new owner: lockstep 0.x re-asserted every
 * subscription on topology events and every `verifyInterval`, DESIGN §7. `Cluster.test.ts` shows
 * ioredis 6 restoring them without that, so it is gone.)
 *
 * What ioredis cannot do is bring back what was published in the gap (from the drop until the
 * subscription is back on the new owner: tens of ms, or as long as the new owner is out of reach).
 * So after each `subscribersReady` (and `ready`, a reconnect of the whole cluster) every channel
 * with a listener is subscribed once more and awaited: SSUBSCRIBE is idempotent and goes to the
 * slot's current owner, behind ioredis' own on the same connection, so once it is answered the
 * subscription is live (ioredis emits `subscribersReady` before its SSUBSCRIBEs are answered).
 * Then the connection reports down → up, and every sync subscription resyncs its in-flight message
 * (S12), which it may have missed. Reports close together are merged (one per 200 ms at most); a
 * re-subscription that fails (e.g. the slot map is still moving) is logged and tried again, as
 * long as no newer event started over.
 *
 * ioredis appends the channels of every SSUBSCRIBE (and of every redirected retry of one) to the
 * list it subscribes again (`cluster.shardedSubscribers.channels`, a private `Map<slot, string[]>`),
 * even channels it already has (6.1: `ClusterSubscriberGroup.addChannels`): each SSUBSCRIBE of a
 * channel already subscribed (the re-assertion above, a second listener of a room on one
 * connection) would add a copy (unbounded memory, ever longer SSUBSCRIBE commands). Right after
 * each is sent, and again once it is answered, `dedupeChannels` makes the channel's slot list a set
 * again; if the field is missing or changes shape it does nothing. (A copy added by ioredis when it
 * sends one of ours again, after the connection it was on died, lasts until ours is answered: an
 * SSUBSCRIBE of ioredis meanwhile names the channel twice, which Redis takes as once.)
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberHandle from "effect/FiberHandle"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { Cluster } from "ioredis"
import type { RedisFailure } from "./errors.js"
import type { Router } from "./router.js"
import { slotOf } from "./slot.js"

/** Events after which ioredis has subscribed every channel again (or a lost one may be back). */
const resubscribedEvents = ["subscribersReady", "ready"] as const

/** Reports requested within this window are merged into one. */
const debounce = Duration.millis(200)

/** A failed re-subscription is tried again: after 200 ms, 400 ms, … then every 5 s. */
const retry = Schedule.min([Schedule.exponential("200 millis"), Schedule.spaced("5 seconds")])

/** Make the private resubscribe list of `channel`'s slot a set again (see the module doc). */
export const dedupeChannels = (cluster: Cluster, channel: string): void => {
  const group = (cluster as unknown as { readonly shardedSubscribers?: { readonly channels?: unknown } })
    .shardedSubscribers
  if (!(group?.channels instanceof Map)) return
  const slot = slotOf(channel)
  const list: unknown = group.channels.get(slot)
  if (Array.isArray(list) && list.length > 1) group.channels.set(slot, [...new Set(list)])
}

/**
 * After ioredis subscribed `router`'s channels again, subscribe them once more with `ssubscribe`
 * (awaited; tried again until it succeeds, a newer event starting over) and report down → up on
 * `connected` (S12). The work runs in the scope: closing it interrupts it (S20), instead of
 * leaving it to wait for a reply of the closed cluster until it times out.
 */
export const watch = (options: {
  readonly cluster: Cluster
  readonly router: Router
  readonly connected: SubscriptionRef.SubscriptionRef<boolean>
  readonly ssubscribe: (channel: string) => Effect.Effect<unknown, RedisFailure>
}): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { cluster, connected, router } = options
    const resync = Effect.suspend(() =>
      Effect.forEach(router.channels(), (channel) => options.ssubscribe(channel), { concurrency: 16, discard: true })
    ).pipe(
      Effect.tapError((e) => Effect.logWarning("lockstep: re-asserting sharded subscriptions failed", e.message)),
      Effect.retry(retry),
      Effect.andThen(SubscriptionRef.set(connected, false)),
      Effect.andThen(SubscriptionRef.set(connected, true))
    )
    // one resync at a time: a newer one replaces (interrupts) the one still retrying
    const run = yield* FiberHandle.makeRuntime<never>()
    let pending = false
    const schedule = () => {
      if (pending) return
      pending = true
      run(
        Effect.sleep(debounce).pipe(
          Effect.andThen(Effect.sync(() => {
            pending = false
          })),
          Effect.andThen(resync)
        )
      )
    }
    for (const event of resubscribedEvents) cluster.on(event, schedule)
  })
