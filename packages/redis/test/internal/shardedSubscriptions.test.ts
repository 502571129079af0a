/**
 * The re-assertion of a cluster's sharded subscriptions (`internal/shardedSubscriptions.ts`), on a
 * stand-in cluster (the events and the slot map are all it reads): every channel with a listener
 * is subscribed again, with nothing but its name, on schedule and after topology events.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, FiberSet, SubscriptionRef } from "effect"
import * as TestClock from "effect/testing/TestClock"
import type { Cluster } from "ioredis"
import { EventEmitter } from "node:events"
import { Router } from "../../src/internal/router.js"
import * as ShardedSubscriptions from "../../src/internal/shardedSubscriptions.js"

/** A stand-in for an ioredis Cluster: its events and its slot map. */
const fakeCluster = () => Object.assign(new EventEmitter(), { slots: [["127.0.0.1:7000"]] })

const setup = Effect.gen(function*() {
  const cluster = fakeCluster()
  const router = new Router()
  router.add("a", () => {})
  router.add("b", () => {})
  const calls: Array<ReadonlyArray<unknown>> = []
  const connected = yield* SubscriptionRef.make(true)
  const runScoped = yield* FiberSet.makeRuntime<never>()
  yield* ShardedSubscriptions.watch({
    cluster: cluster as unknown as Cluster,
    router,
    connected,
    ssubscribe: (...args: ReadonlyArray<unknown>) => {
      calls.push(args)
      return Effect.void
    },
    runScoped: (effect) => runScoped(effect),
    verifyInterval: Duration.seconds(10)
  })
  return { cluster, calls }
})

describe("ShardedSubscriptions.watch", () => {
  it.effect("re-asserts every channel every verifyInterval, passing the channel only", () =>
    Effect.gen(function*() {
      const { calls } = yield* setup
      yield* TestClock.adjust("9 seconds")
      expect(calls).toEqual([])
      yield* TestClock.adjust("1 second")
      // nothing but the channel: an extra argument (e.g. forEach's index) would be taken for the
      // call's timeout, and a timeout of 0 fails every re-assertion at once
      expect(calls).toEqual([["a"], ["b"]])
      yield* TestClock.adjust("10 seconds")
      expect(calls.length).toBe(4)
    }))

  it.effect("re-asserts after a topology event, merged within 200 ms", () =>
    Effect.gen(function*() {
      const { calls, cluster } = yield* setup
      cluster.emit("+node")
      cluster.emit("-subscriber")
      yield* TestClock.adjust("199 millis")
      expect(calls).toEqual([])
      yield* TestClock.adjust("1 millis")
      expect(calls).toEqual([["a"], ["b"]])
    }))

  it.effect("re-asserts on a refresh only when a slot's owner changed", () =>
    Effect.gen(function*() {
      const { calls, cluster } = yield* setup
      cluster.emit("refresh")
      yield* TestClock.adjust("1 second")
      expect(calls).toEqual([])
      cluster.slots = [["127.0.0.1:7001"]]
      cluster.emit("refresh")
      yield* TestClock.adjust("1 second")
      expect(calls).toEqual([["a"], ["b"]])
    }))
})
