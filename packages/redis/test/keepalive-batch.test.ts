/**
 * S10/S17: on a cluster a client's keepalive costs one round trip per node, not one per shard
 * or per room: counted with MONITOR on every master, by script sha.
 */
import { describe, expect, layer } from "@effect/vitest"
import { QueueConfig } from "@lockstep/core"
import { RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestCluster } from "@lockstep/redis/testing"
import { Effect } from "effect"
import { Redis } from "ioredis"
import { createHash } from "node:crypto"
import * as RedisBackend from "../src/internal/redisBackend.js"
import { scripts } from "../src/internal/scripts/index.js"
import { clusterFixture } from "./utils/redisFixture.js"

const sha = (lua: string) => createHash("sha1").update(lua).digest("hex")

describe("cluster keepalive", () => {
  layer(RedisTestCluster.layer({ masters: 3 }), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.scoped("S10/S17: a keepalive costs one script call per node, not per shard", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisTestCluster.RedisTestCluster
        const f = yield* clusterFixture(64)
        // clientTimeout 3 s: a keepalive every second
        const client = yield* f.client({ clientTimeout: "3 seconds" })
        const rooms = Array.from({ length: 40 }, (_, i) => `room-${i}`)
        for (const room of rooms) yield* client.subscribe(room)
        const keepaliveShas = new Set([sha(scripts.keepalive.lua), sha(scripts.keepaliveMany.lua)])
        const seen = cluster.masters.map(() => [] as Array<string>)
        const monitors = yield* Effect.forEach(cluster.masters, (m, i) =>
          Effect.acquireRelease(
            Effect.promise(async () => {
              const admin = new Redis({ host: m.host, port: m.port })
              const monitor = await admin.monitor()
              monitor.on("monitor", (_time: string, args: Array<string>) => {
                const [command, script] = args
                if (command?.toLowerCase() === "evalsha" && script !== undefined && keepaliveShas.has(script)) {
                  seen[i]!.push(script)
                }
              })
              return { admin, monitor }
            }),
            ({ admin, monitor }) => Effect.promise(() => Promise.all([monitor.disconnect(), admin.quit()]))
          ))
        expect(monitors.length).toBe(3)
        // the rooms cover many shards on every master
        yield* Effect.sleep("2100 millis") // two keepalive periods
        const calls = seen.map((s) => s.length)
        // 2 periods → at most 2 or 3 keepalive calls per master, far below the ~13 shards each serves
        for (const n of calls) {
          expect(n).toBeGreaterThanOrEqual(1)
          expect(n).toBeLessThanOrEqual(3)
        }
      }))

    it.scoped("S10: a keepalive naming rooms whose join is still in progress does not report the client as forgotten", () =>
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
