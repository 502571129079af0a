/**
 * The resync of a cluster's sharded subscriptions after ioredis restored them
 * (`internal/shardedSubscriptions.ts`), on a stand-in cluster (its events and its private
 * resubscribe list are all it reads): once ioredis says it subscribed again, every channel with a
 * listener is subscribed once more, with nothing but its name, then the connection reports down →
 * up (S12); other topology events do nothing; the resubscribe list of a slot is kept a set.
 */
import { describe, expect, it } from "@effect/vitest"
import { QueueError } from "@lockstep/core"
import { Effect, Stream, SubscriptionRef } from "effect"
import * as TestClock from "effect/testing/TestClock"
import type { Cluster } from "ioredis"
import { EventEmitter } from "node:events"
import { Router } from "../../src/internal/router.js"
import * as ShardedSubscriptions from "../../src/internal/shardedSubscriptions.js"
import { slotOf } from "../../src/internal/slot.js"

/** A stand-in for an ioredis Cluster: its events, its slot map and its private resubscribe list. */
const fakeCluster = () =>
  Object.assign(new EventEmitter(), {
    slots: [["127.0.0.1:7000"]],
    shardedSubscribers: { channels: new Map<number, Array<string>>() }
  })

const setup = Effect.gen(function*() {
  const cluster = fakeCluster()
  const router = new Router()
  router.add("a", () => {})
  router.add("b", () => {})
  const calls: Array<ReadonlyArray<unknown>> = []
  const connected = yield* SubscriptionRef.make(true)
  const reports: Array<boolean> = []
  /** failures the next ssubscribe calls answer with */
  const failing: Array<QueueError.EngineError> = []
  yield* SubscriptionRef.changes(connected).pipe(
    Stream.runForEach((up) => Effect.sync(() => reports.push(up))),
    Effect.forkScoped
  )
  yield* ShardedSubscriptions.watch({
    cluster: cluster as unknown as Cluster,
    router,
    connected,
    ssubscribe: (...args: ReadonlyArray<unknown>) => {
      calls.push(args)
      return failing.length > 0 ? Effect.fail(failing.shift()!) : Effect.void
    }
  })
  return { cluster, calls, reports, failing }
})

describe("ShardedSubscriptions.watch", () => {
  it.effect("after subscribersReady: every channel subscribed again (its name only), then down → up, merged within 200 ms", () =>
    Effect.gen(function*() {
      const { calls, cluster, reports } = yield* setup
      yield* TestClock.adjust("1 millis")
      expect(reports).toEqual([true])
      cluster.emit("subscribersReady")
      cluster.emit("subscribersReady")
      yield* TestClock.adjust("199 millis")
      expect(calls).toEqual([])
      yield* TestClock.adjust("1 millis")
      // nothing but the channel: an extra argument (e.g. forEach's index) would be taken for the
      // call's timeout, and a timeout of 0 fails every re-assertion at once
      expect(calls).toEqual([["a"], ["b"]])
      expect(reports).toEqual([true, false, true])
    }))

  it.effect("after ready (the whole cluster reconnected) too", () =>
    Effect.gen(function*() {
      const { calls, cluster, reports } = yield* setup
      cluster.emit("ready")
      yield* TestClock.adjust("200 millis")
      expect(calls).toEqual([["a"], ["b"]])
      expect(reports).toEqual([true, false, true])
    }))

  it.effect("a failed re-subscription is tried again (200 ms, 400 ms, …) before down → up is reported", () =>
    Effect.gen(function*() {
      const { calls, cluster, failing, reports } = yield* setup
      const moved = new QueueError.EngineError({ engine: "redis", operation: "ssubscribe", cause: "MOVED" })
      failing.push(moved, moved)
      const attempts = () => calls.filter(([channel]) => channel === "a").length
      cluster.emit("subscribersReady")
      yield* TestClock.adjust("200 millis")
      expect(attempts()).toBe(1)
      yield* TestClock.adjust("199 millis")
      expect(attempts()).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(attempts()).toBe(2)
      expect(reports).toEqual([true])
      yield* TestClock.adjust("400 millis")
      expect(attempts()).toBe(3)
      expect(calls.slice(-2)).toEqual([["a"], ["b"]])
      expect(reports).toEqual([true, false, true])
    }))

  it.effect("no periodic re-assertion, and none on other topology events (ioredis 6 handles them)", () =>
    Effect.gen(function*() {
      const { calls, cluster, reports } = yield* setup
      for (const event of ["+node", "-node", "+subscriber", "-subscriber", "refresh"]) cluster.emit(event)
      cluster.slots = [["127.0.0.1:7001"]]
      cluster.emit("refresh")
      yield* TestClock.adjust("1 minute")
      expect(calls).toEqual([])
      expect(reports).toEqual([true])
    }))
})

describe("ShardedSubscriptions.dedupeChannels", () => {
  it("makes the resubscribe list of the channel's slot a set, leaving the other slots", () => {
    const cluster = fakeCluster()
    const [x, y] = ["{t1}:c:x", "{t1}:c:y"]
    const other = "{t2}:c:z"
    cluster.shardedSubscribers.channels.set(slotOf(x), [x, y, x, x, y])
    cluster.shardedSubscribers.channels.set(slotOf(other), [other, other])
    ShardedSubscriptions.dedupeChannels(cluster as unknown as Cluster, y)
    expect(cluster.shardedSubscribers.channels.get(slotOf(x))).toEqual([x, y])
    expect(cluster.shardedSubscribers.channels.get(slotOf(other))).toEqual([other, other])
  })

  it("does nothing when the private field is missing or has another shape", () => {
    for (const shardedSubscribers of [undefined, {}, { channels: [] }, { channels: new Map([[0, "a"]]) }]) {
      const cluster = Object.assign(new EventEmitter(), { shardedSubscribers }) as unknown as Cluster
      expect(() => ShardedSubscriptions.dedupeChannels(cluster, "a")).not.toThrow()
    }
  })
})
