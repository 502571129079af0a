/**
 * EngineFixtures of the Redis engine. Every client gets its own connection through its own TCP
 * proxies to the spawned server (or to every node of the spawned cluster, mapped with ioredis
 * `natMap`), so a test can cut one client's network (S10, S12). A cut returns once the client
 * noticed it (its connection reports down, within a bound): a client closed right after a cut (a
 * crash, in the durable suite) then tells the server nothing, as the in-memory engine's cut client
 * cannot, instead of waiting `operationTimeout` for each leave it still tries. A restore returns
 * once the client's connection reports up again (within a bound), as the in-memory engine's
 * restored client is reachable at once: ioredis 6 waits up to 5 s (and a jitter) between reconnect
 * attempts once an outage lasted a few seconds (exponential backoff; ioredis 5: at most 2 s), so a
 * test's next operation would otherwise depend on where the backoff stands.
 *
 * `operator` builds a client through the public `ClientLayer.layer`, which provides the
 * `RoomAdmin` next to the queue (S29, S30); `roomKeys` lists a room's keys straight from the
 * servers (SCAN, not through a proxy) for the S18 checks.
 */
import { Backend, QueueConfig, RoomAdmin, SyncFanoutQueue } from "@lockstep/core"
import type { EngineFixture } from "@lockstep/engine-suite"
import { ClientLayer, RedisConnection, RedisLayer, Sharding, ShardLayer } from "@lockstep/redis"
import { RedisTestCluster, RedisTestServer, TcpProxy } from "@lockstep/redis/testing"
import { Context, Duration, Effect, Layer, type Scope, Stream, SubscriptionRef } from "effect"
import * as RedisBackend from "../../src/internal/redisBackend.js"
import { rawRedis, scanKeys } from "./redisProbe.js"

let prefixes = 0

const makeFixture = (
  connect: Effect.Effect<
    {
      readonly layer: Layer.Layer<RedisConnection.RedisConnection, unknown>
      readonly proxies: ReadonlyArray<TcpProxy.TcpProxy>
    },
    never,
    Scope.Scope
  >,
  shardLayer: Layer.Layer<Sharding.Sharding, unknown>,
  /** the ports of the spawned servers, read directly (not through a proxy) to list a room's keys (S18) */
  ports: ReadonlyArray<number>
): EngineFixture => {
  const keyPrefix = `t${process.pid}-${++prefixes}`
  const proxies = new Map<string, ReadonlyArray<TcpProxy.TcpProxy>>()
  /** the `connected` state of each client's connections, by client id */
  const links = new Map<string, ReadonlyArray<SubscriptionRef.SubscriptionRef<boolean>>>()
  const each = (clientId: string, f: (p: TcpProxy.TcpProxy) => Effect.Effect<void>) =>
    Effect.suspend(() => Effect.forEach(proxies.get(clientId) ?? [], f, { discard: true }))
  const noticed = (clientId: string) =>
    Effect.suspend(() =>
      Effect.forEach(links.get(clientId) ?? [], (connected) =>
        SubscriptionRef.changes(connected).pipe(
          Stream.takeUntil((up) => !up),
          Stream.runDrain,
          Effect.timeout("2 seconds"),
          Effect.ignore
        ), { concurrency: "unbounded", discard: true })
    )
  const reconnected = (clientId: string) =>
    Effect.suspend(() =>
      Effect.forEach(links.get(clientId) ?? [], (connected) =>
        SubscriptionRef.changes(connected).pipe(
          Stream.takeUntil((up) => up),
          Stream.runDrain,
          Effect.timeout("10 seconds"),
          Effect.ignore
        ), { concurrency: "unbounded", discard: true })
    )
  const operator: EngineFixture["operator"] = (overrides, options) =>
    Effect.gen(function*() {
      const { layer, proxies: clientProxies } = yield* connect
      const context = yield* Layer.build(Layer.merge(shardLayer, layer)).pipe(Effect.orDie)
      const config: QueueConfig.QueueConfig = { keyPrefix, clientTimeout: "3 seconds", ...overrides }
      const wrap = options?.wrapBackend
      // through the public layer, which provides both services, unless the test wraps the engine connection
      const make = wrap === undefined
        ? Effect.map(Layer.build(ClientLayer.layer(config)), (services) => ({
          client: Context.get(services, SyncFanoutQueue.SyncFanoutQueue),
          admin: Context.get(services, RoomAdmin.RoomAdmin)
        }))
        : Effect.gen(function*() {
          const resolved = yield* QueueConfig.resolve(config)
          const connection = yield* RedisConnection.RedisConnection
          const sharding = yield* Sharding.Sharding
          const { admin, queue } = yield* Backend.makeClient(
            (clientId) => Effect.succeed(wrap(RedisBackend.make(connection, sharding, resolved, clientId))),
            resolved
          )
          return { client: queue, admin }
        })
      const made = yield* make.pipe(Effect.provide(context), Effect.orDie)
      const clientId = made.client.clientId
      // a durable id may be held by several clients of a test (S21): cut and restore reach them all
      proxies.set(clientId, [...(proxies.get(clientId) ?? []), ...clientProxies])
      const connected = Context.get(context, RedisConnection.RedisConnection).connected
      links.set(clientId, [...(links.get(clientId) ?? []), connected])
      // a closed client's connection reports nothing more: forgotten with its scope
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          links.set(clientId, (links.get(clientId) ?? []).filter((link) => link !== connected))
          proxies.set(clientId, (proxies.get(clientId) ?? []).filter((p) => !clientProxies.includes(p)))
        })
      )
      return made
    })
  return {
    name: "redis",
    time: "live",
    keyPrefix,
    client: (overrides, options) => Effect.map(operator(overrides, options), ({ client }) => client),
    operator,
    roomKeys: (room) =>
      Effect.scoped(Effect.gen(function*() {
        const keys = new Set<string>()
        for (const port of ports) {
          for (const key of yield* scanKeys(yield* rawRedis(port), `${keyPrefix}:`)) keys.add(key)
        }
        // `<keyPrefix>:{<shard tag>}:<kind>:<room>` (src/internal/keys.ts)
        const shape = /^[^{]*\{[^}]*\}:[a-z]+:(.*)$/s
        return [...keys].filter((key) => shape.exec(key)?.[1] === room).sort()
      })),
    cut: (clientId) => Effect.andThen(each(clientId, (p) => p.cut), noticed(clientId)),
    restore: (clientId) => Effect.andThen(each(clientId, (p) => p.restore), reconnected(clientId)),
    within: (budget, effect) =>
      effect.pipe(
        Effect.timeoutOrElse({
          duration: budget,
          orElse: () =>
            Effect.die(new Error(`did not complete within ${Duration.format(Duration.fromInputUnsafe(budget))}`))
        })
      ),
    advance: (duration) => Effect.sleep(duration)
  }
}

/** A fixture on the spawned standalone server in context; each call uses a fresh key prefix (S19). */
export const redisFixture = (
  shardLayer: Layer.Layer<Sharding.Sharding, unknown> = ShardLayer.single
): Effect.Effect<EngineFixture, never, RedisTestServer.RedisTestServer> =>
  Effect.map(RedisTestServer.RedisTestServer, (server) =>
    makeFixture(
      Effect.map(TcpProxy.make({ targetPort: server.port }), (proxy) => ({
        layer: RedisLayer.layer({ host: "127.0.0.1", port: proxy.port }),
        proxies: [proxy]
      })),
      shardLayer,
      [server.port]
    ))

/** A fixture on the spawned cluster in context, `shards` shards (S17). */
export const clusterFixture = (
  shards = 16
): Effect.Effect<EngineFixture, never, RedisTestCluster.RedisTestCluster> =>
  Effect.map(RedisTestCluster.RedisTestCluster, (cluster) =>
    makeFixture(
      Effect.gen(function*() {
        const proxies = yield* Effect.forEach(cluster.nodes, (node) => TcpProxy.make({ targetPort: node.port }))
        const natMap = Object.fromEntries(
          cluster.nodes.map((node, i) => [`${node.host}:${node.port}`, { host: "127.0.0.1", port: proxies[i]!.port }])
        )
        return {
          layer: RedisLayer.cluster(proxies.map((p) => ({ host: "127.0.0.1", port: p.port })), {
            cluster: { natMap }
          }),
          proxies
        }
      }),
      ShardLayer.layer({ shards }),
      cluster.nodes.map((node) => node.port)
    ))
