/**
 * The EngineFixture of the Redis engine: every client gets its own connection through its own
 * TCP proxy to the spawned server, so a test can cut one client's network (S10, S12).
 */
import type { SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer, RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestServer, TcpProxy } from "@lockstep/redis/testing"
import { Duration, Effect, Layer } from "effect"
import type { EngineFixture } from "../../../core/test/utils/EngineFixture.js"

let prefixes = 0

/** A fixture on the spawned server in context; each call uses a fresh key prefix (S19). */
export const redisFixture = (
  shardLayer: Layer.Layer<import("@lockstep/redis").Sharding.Sharding> = ShardLayer.single
): Effect.Effect<EngineFixture, never, RedisTestServer.RedisTestServer> =>
  Effect.gen(function*() {
    const server = yield* RedisTestServer.RedisTestServer
    const keyPrefix = `t${process.pid}-${++prefixes}`
    const proxies = new Map<string, TcpProxy.TcpProxy>()
    const fixture: EngineFixture = {
      name: "redis",
      time: "live",
      client: (overrides) =>
        Effect.gen(function*() {
          const proxy = yield* TcpProxy.make({ targetPort: server.port })
          const context = yield* Layer.build(
            Layer.merge(shardLayer, RedisLayer.layer({ host: "127.0.0.1", port: proxy.port }))
          ).pipe(Effect.orDie)
          const queue: SyncFanoutQueue.SyncFanoutQueue["Type"] = yield* ClientLayer.make({
            keyPrefix,
            clientTimeout: "3 seconds",
            ...overrides
          }).pipe(
            Effect.provide(context),
            Effect.orDie
          )
          proxies.set(queue.clientId, proxy)
          return queue
        }),
      cut: (clientId) => Effect.suspend(() => proxies.get(clientId)?.cut ?? Effect.void),
      restore: (clientId) => Effect.suspend(() => proxies.get(clientId)?.restore ?? Effect.void),
      within: (budget, effect) =>
        effect.pipe(
          Effect.timeoutFail({
            duration: budget,
            onTimeout: () => new Error(`did not complete within ${Duration.format(Duration.decode(budget))}`)
          }),
          Effect.catchIf((e): e is Error => e instanceof Error && e.message.startsWith("did not complete"), Effect.die)
        ) as typeof effect,
      advance: (duration) => Effect.sleep(duration)
    }
    return fixture
  })
