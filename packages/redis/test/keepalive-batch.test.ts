/**
 * S10/S17: on a cluster a client's keepalive costs one round trip per node, not one per shard
 * or per room: counted with MONITOR on every master, by script sha.
 */
import { describe, expect, layer } from "@effect/vitest"
import { QueueConfig } from "@lockstep/core"
import { RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestCluster } from "@lockstep/redis/testing"
import { Effect, Schedule } from "effect"
import { Redis } from "ioredis"
import { createHash } from "node:crypto"
import * as RedisBackend from "../src/internal/redisBackend.js"
import { scripts } from "../src/internal/scripts/index.js"

const sha = (lua: string) => createHash("sha1").update(lua).digest("hex")

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
        const keepaliveShas = new Set([sha(scripts.keepalive.lua), sha(scripts.keepaliveMany.lua)])
        // per master: keepalive calls seen between two ECHO markers (MONITOR shows commands in order)
        const monitors = yield* Effect.forEach(cluster.masters, (m) =>
          Effect.acquireRelease(
            Effect.promise(async () => {
              const admin = new Redis({ host: m.host, port: m.port })
              const monitor = await admin.monitor()
              const log: Array<string> = []
              monitor.on("monitor", (_time: string, args: Array<string>) => {
                const [command, arg] = args
                if (command?.toLowerCase() === "echo" && arg !== undefined) log.push(`echo:${arg}`)
                else if (command?.toLowerCase() === "evalsha" && arg !== undefined && keepaliveShas.has(arg)) {
                  log.push("keepalive")
                }
              })
              return { admin, monitor, log }
            }),
            ({ admin, monitor }) => Effect.promise(() => Promise.all([monitor.disconnect(), admin.quit()]))
          ))
        const mark = (marker: string) =>
          Effect.forEach(monitors, ({ admin, log }) =>
            Effect.promise(() => admin.echo(marker)).pipe(
              Effect.andThen(
                Effect.suspend(() => log.includes(`echo:${marker}`) ? Effect.void : Effect.fail("not yet")).pipe(
                  Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo({ duration: "5 seconds" }))),
                  Effect.orDie
                )
              )
            ), { discard: true })
        yield* mark("before")
        expect(yield* backend.keepalive(rooms, 5_000)).toBe(true)
        yield* mark("after")
        const calls = monitors.map(({ log }) =>
          log.slice(log.indexOf("echo:before") + 1, log.indexOf("echo:after")).filter((l) => l === "keepalive").length
        )
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
