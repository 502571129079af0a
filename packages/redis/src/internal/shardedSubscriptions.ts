/**
 * Keeping a cluster's sharded subscriptions (SSUBSCRIBE, S17) alive: the ioredis 5.11 workaround
 * (DESIGN §7), in one place, kept on ioredis 6 until `Cluster.test.ts` says it can go (below).
 *
 * What ioredis 5.11 gets wrong:
 * - When a slot migrates, Redis drops the slot's sharded subscriptions on the old owner and pushes
 *   an unsolicited `sunsubscribe` for each channel. ioredis 5.11 takes that push for the reply to
 *   the command at the head of its queue, and nothing subscribes the channel on the new owner: the
 *   room's messages stop arriving, silently.
 * - It appends the channels of every SSUBSCRIBE to the list it resubscribes after a reconnect
 *   (`cluster.shardedSubscribers.channels`, a private `Map<slot, string[]>`), even channels it
 *   already has: every re-assertion below would add one more copy of each channel (unbounded
 *   memory, ever longer SSUBSCRIBE commands on reconnect). ioredis 6.1 still does
 *   (`ClusterSubscriberGroup.addChannels`).
 *
 * How we notice and repair: every channel with a listener is re-asserted (SSUBSCRIBE is
 * idempotent, and routed to the slot's current owner), then the connection reports down → up so
 * that every sync subscription resyncs its in-flight message (S12), which it may have missed:
 * - on topology events: `+node`, `-node`, `+subscriber`, `-subscriber` (a sharded subscriber
 *   connection came or went, e.g. killed: ioredis resubscribes it by itself but messages published
 *   in the gap are lost) and `ready`;
 * - on `refresh` (ioredis reloads the slot map on MOVED, on a lost node, on a pushed
 *   `sunsubscribe` (6.x) and every `cluster.slotsRefreshInterval`), when the owner of some slot
 *   changed;
 * - every `verifyInterval` (default 10 s), which bounds how long a loss nobody announced lasts.
 * Re-assertions close together are merged (one per 200 ms at most). After each, the private list
 * is made a set again (`dedupeChannels`): the one place lockstep touches ioredis internals; if the
 * field is missing or changes shape it does nothing.
 *
 * ioredis 6.1 repairs the migration itself: the pushed `sunsubscribe` that answers no queued
 * command makes the subscriber emit `moved` (`DataHandler.handleUnsolicitedUnsubscribe`), the
 * cluster reloads the slot map and its subscriber group subscribes every channel again on the
 * slots' current owners, then emits `subscribersReady` (`ClusterSubscriberGroup.reset`). What it
 * cannot do is bring back what was published in the gap (tens of ms): the S12 resync stays.
 *
 * When this can go: once `Cluster.test.ts` › "migrating an active room's slot …" passes with
 * `verifyInterval` off, delete the periodic verification (and the `verifyInterval` option), the
 * `refresh` watch (replaced by `subscribersReady`, which ioredis 6 emits after it resubscribed) and
 * the `+node` / `-node` triggers; keep a down → up report after `subscribersReady`, `+subscriber`
 * and `ready` for the S12 resync, made after an awaited re-assertion (ioredis emits
 * `subscribersReady` before its SSUBSCRIBEs are answered) — and with it `dedupeChannels`, unless
 * the report is made without SSUBSCRIBE through the cluster.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { Cluster } from "ioredis"
import type { RedisFailure } from "./errors.js"
import type { Router } from "./router.js"

/** Topology events after which the subscriptions are re-asserted. */
const topologyEvents = ["+node", "-node", "-subscriber", "+subscriber", "ready"] as const

/** Re-assertions requested within this window are merged into one. */
const debounce = Duration.millis(200)

/** Make the private resubscribe list of ioredis (5.11, still 6.1) a set again (see the module doc). */
export const dedupeChannels = (cluster: Cluster): void => {
  const group = (cluster as unknown as { readonly shardedSubscribers?: { readonly channels?: unknown } })
    .shardedSubscribers
  if (!(group?.channels instanceof Map)) return
  for (const [slot, list] of group.channels) {
    if (Array.isArray(list)) group.channels.set(slot, [...new Set(list)])
  }
}

/**
 * Watch `cluster` and re-assert the channels of `router` with `ssubscribe` when they may have been
 * lost, reporting down → up on `connected` after each re-assertion (S12). Runs in the scope.
 */
export const watch = (options: {
  readonly cluster: Cluster
  readonly router: Router
  readonly connected: SubscriptionRef.SubscriptionRef<boolean>
  readonly ssubscribe: (channel: string) => Effect.Effect<unknown, RedisFailure>
  readonly runScoped: (effect: Effect.Effect<unknown>) => unknown
  readonly verifyInterval: Duration.Duration
}): Effect.Effect<void, never, Scope.Scope> => {
  const { cluster, connected, router, runScoped } = options
  const reassert = Effect.suspend(() =>
    Effect.forEach(router.channels(), (channel) => options.ssubscribe(channel), { concurrency: 16, discard: true })
  ).pipe(
    Effect.ensuring(Effect.sync(() => dedupeChannels(cluster))),
    Effect.andThen(SubscriptionRef.set(connected, false)),
    Effect.andThen(SubscriptionRef.set(connected, true)),
    Effect.catch((e) => Effect.logWarning("lockstep: re-asserting sharded subscriptions failed", e.message))
  )
  // scheduled re-assertions belong to the scope: closing it interrupts them (S20), instead of
  // leaving one to wait for a reply of the closed cluster until it times out
  let pending = false
  const schedule = () => {
    if (pending) return
    pending = true
    runScoped(
      Effect.sleep(debounce).pipe(
        Effect.andThen(Effect.sync(() => {
          pending = false
        })),
        Effect.andThen(reassert)
      )
    )
  }
  for (const event of topologyEvents) cluster.on(event, schedule)
  const slotOwners = () => cluster.slots.map((nodes) => nodes[0] ?? "").join(",")
  let owners = slotOwners()
  cluster.on("refresh", () => {
    const now = slotOwners()
    if (now === owners) return
    owners = now
    schedule()
  })
  return reassert.pipe(
    Effect.repeat(Schedule.spaced(options.verifyInterval)),
    Effect.delay(options.verifyInterval),
    Effect.forkScoped,
    Effect.asVoid
  )
}
