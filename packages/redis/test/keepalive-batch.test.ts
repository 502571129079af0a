/**
 * S10/S17: on a cluster a client's keepalive costs one round trip per node, not one per shard
 * or per room: counted with MONITOR on every master, by script.
 */
import { describe, expect, layer } from "@effect/vitest"
import { QueueConfig } from "@lockstep/core"
import { RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestCluster } from "@lockstep/redis/testing"
import { Effect } from "effect"
import * as RedisBackend from "../src/internal/redisBackend.js"
import { isScript, monitor, type MonitorEntry } from "./utils/redisProbe.js"

describe("cluster keepalive", () => {
  layer(RedisTestCluster.layer({ masters: 3 }), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("S10/S17: a keepalive costs one script call per node, not per shard", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisTestCluster.RedisTestCluster
        const connection = yield* RedisLayer.makeCluster(cluster.masters)
        const sharding = yield* ShardLayer.make({ shards: 64 })
        const config = yield* QueueConfig.resolve({ keyPrefix: `kb${Date.now()}`, clientTimeout: "5 seconds" })
        // the backend alone: no keepalive or housekeeping fibers run beside the call we count
        const backend = RedisBackend.make(connection, sharding, config, "counted-client")
        const rooms = Array.from({ length: 40 }, (_, i) => `room-${i}`)
        const shards = new Set([0, ...rooms.map(sharding.shardOf)])
        yield* backend.keepalive(rooms, 5_000) // warm up: scripts loaded on every node
        // per master: the keepalive calls MONITOR saw between two markers (it shows commands in order)
        const monitors = yield* Effect.forEach(cluster.masters, (m) => monitor(m.port))
        const isKeepalive = (entry: MonitorEntry) => isScript(entry, "keepalive") || isScript(entry, "keepaliveMany")
        const before = yield* Effect.forEach(monitors, (mon) => mon.mark)
        expect(yield* backend.keepalive(rooms, 5_000)).toBe(true)
        const after = yield* Effect.forEach(monitors, (mon) => mon.mark)
        const calls = monitors.map((mon, i) => mon.between(before[i]!, after[i]!).filter(isKeepalive).length)
        // the 40 rooms sit on far more shards than masters: one call per master, not per shard
        expect(shards.size).toBeGreaterThan(20)
        expect(calls).toEqual([1, 1, 1])
      }))

    it.effect("S10: a keepalive naming rooms whose join is still in progress does not report the client as forgotten", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisTestCluster.RedisTestCluster
        const connection = yield* RedisLayer.makeCluster(cluster.masters)
        const sharding = yield* ShardLayer.make({ shards: 64 })
        const config = yield* QueueConfig.resolve({ keyPrefix: `ka${Date.now()}`, clientTimeout: "5 seconds" })
        const backend = RedisBackend.make(connection, sharding, config, "client-under-test")
        // first contact: registered on shard 0 (the registry), unknown before
        expect(yield* backend.keepalive([], 5_000)).toBe(false)
        // rooms on many shards that never saw this client (their joins have not run yet): the
        // registry still knows it, so it must not eject itself (it did, before the fix)
        const rooms = Array.from({ length: 30 }, (_, i) => `joining-${i}`)
        expect(new Set(rooms.map(sharding.shardOf)).size).toBeGreaterThan(10)
        expect(yield* backend.keepalive(rooms, 5_000)).toBe(true)
        // forgotten by the registry: reported as such
        yield* backend.unregister([])
        expect(yield* backend.keepalive(rooms, 5_000)).toBe(false)
      }))
  })
})
