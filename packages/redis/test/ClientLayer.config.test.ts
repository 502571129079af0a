/**
 * `ClientLayer.fromConfig`: a whole client from the environment in one call (issue 23) — the
 * connection (`LOCKSTEP_REDIS_URL` or `LOCKSTEP_REDIS_CLUSTER_NODES`), the sharding
 * (`LOCKSTEP_SHARDS`) and every `QueueConfig` option (`LOCKSTEP_CLIENT_ID`, `LOCKSTEP_ON_CLOSE`, …),
 * against a spawned Redis and a spawned cluster; a value missing or wrong is a `ConfigError`
 * naming the variable, with its description, before anything connects.
 */
import { describe, expect, layer } from "@effect/vitest"
import { type Delivery, QueueConfig, RoomAdmin, SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer, RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestCluster, RedisTestServer } from "@lockstep/redis/testing"
import { Config, ConfigProvider, Context, Effect, Exit, Layer, Queue, Schema, SchemaIssue, Scope, Stream } from "effect"
import * as HarnessNet from "../src/testing/internal/net.js"
import { freshPrefix, subscribe } from "./utils/redisProbe.js"

/** A ConfigProvider of these environment variables only. */
const env = (variables: Record<string, string>) => ConfigProvider.fromEnv({ env: variables })

/** Build `live` with `provider` in `scope`; the queue and the admin it provides. */
const build = (
  live: Layer.Layer<SyncFanoutQueue.SyncFanoutQueue | RoomAdmin.RoomAdmin, unknown>,
  provider: ConfigProvider.ConfigProvider,
  scope: Scope.Scope
) =>
  Layer.buildWithScope(live, scope).pipe(
    Effect.provideService(ConfigProvider.ConfigProvider, provider),
    Effect.map((context) => ({
      queue: Context.get(context, SyncFanoutQueue.SyncFanoutQueue),
      admin: Context.get(context, RoomAdmin.RoomAdmin)
    }))
  )

/** The failure of building `ClientLayer.fromConfig()` with `provider`: its path and message, as formatted. */
const configFailure = (provider: ConfigProvider.ConfigProvider) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(
      Effect.scoped(Layer.build(ClientLayer.fromConfig())).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, provider)
      )
    )
    expect(error).toBeInstanceOf(Config.ConfigError)
    const cause = (error as Config.ConfigError).cause
    if (!Schema.isSchemaError(cause)) return yield* Effect.die(new Error(`not a schema error: ${String(error)}`))
    const [first] = SchemaIssue.makeFormatterStandardSchemaV1()(cause.issue).issues
    return { path: first!.path?.map((key) => typeof key === "object" ? key.key : key), message: first!.message }
  })

describe("ClientLayer.fromConfig", () => {
  layer(RedisTestServer.layer(), { excludeTestServices: true })((it) => {
    it.effect("standalone: LOCKSTEP_REDIS_URL, one shard, and the client's options (a durable id that detaches)", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const prefix = freshPrefix("env")
        const url = `redis://127.0.0.1:${port}/2`
        // a peer built without the environment, on one shard (ShardLayer.single)
        const peer = yield* build(
          ClientLayer.standalone(url, { keyPrefix: prefix, clientTimeout: "30 seconds" }),
          env({}),
          yield* Effect.scope
        )
        const scope = yield* Scope.make()
        const { admin, queue } = yield* build(
          ClientLayer.fromConfig(),
          env({
            LOCKSTEP_REDIS_URL: url,
            LOCKSTEP_KEY_PREFIX: prefix,
            LOCKSTEP_CLIENT_ID: "edge-eu-1",
            LOCKSTEP_ON_CLOSE: "detach",
            LOCKSTEP_CLIENT_TIMEOUT: "30 seconds"
          }),
          scope
        )
        expect(queue.clientId).toBe("edge-eu-1")
        const s = yield* subscribe(queue, "orders").pipe(Scope.provide(scope))
        // the same keys as the peer's: one shard, the same prefix and db
        yield* peer.queue.send("orders", "from a peer")
        const d = yield* s.next()
        expect(d.data).toBe("from a peer")
        yield* d.ack
        expect((yield* queue.roomState("orders")).members).toEqual(["edge-eu-1"])
        // RoomAdmin of the same client (S30)
        expect((yield* admin.deadLetters("orders")).letters).toEqual([])
        // LOCKSTEP_ON_CLOSE=detach: a shutdown (interruption) keeps the membership for a successor (S24)
        yield* Scope.close(scope, Exit.interrupt())
        expect((yield* peer.queue.roomState("orders")).members).toEqual(["edge-eu-1"])
      }))

    it.effect("LOCKSTEP_SHARDS=n is ShardLayer.layer({ shards: n }); a structured provider (fromUnknown) works as well", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const prefix = freshPrefix("shards")
        const url = `redis://127.0.0.1:${port}`
        const four = yield* build(
          ClientLayer.layer({ keyPrefix: prefix }).pipe(
            Layer.provide(ShardLayer.layer({ shards: 4 })),
            Layer.provide(RedisLayer.layer(url))
          ),
          env({}),
          yield* Effect.scope
        )
        const one = yield* build(ClientLayer.standalone(url, { keyPrefix: prefix }), env({}), yield* Effect.scope)
        const { queue } = yield* build(
          ClientLayer.fromConfig(),
          ConfigProvider.fromUnknown({ LOCKSTEP_REDIS_URL: url, LOCKSTEP_KEY_PREFIX: prefix, LOCKSTEP_SHARDS: 4 }),
          yield* Effect.scope
        )
        const rooms = ["a", "b", "c", "d", "e", "f"]
        const inbox = yield* Queue.unbounded<Delivery.Delivery>()
        yield* (yield* queue.subscribeMany(rooms)).pipe(
          Stream.runForEach((d) => Queue.offer(inbox, d)),
          Effect.forkScoped
        )
        // a sender on one shard writes other keys: nothing of it arrives (every process must use one sharding)
        for (const room of rooms) yield* one.queue.send(room, `single ${room}`)
        for (const room of rooms) yield* four.queue.send(room, room)
        const got = new Set<unknown>()
        for (const _ of rooms) got.add((yield* Queue.take(inbox).pipe(Effect.timeout("5 seconds"))).data)
        expect([...got].sort()).toEqual(rooms)
        expect(yield* Queue.size(inbox)).toBe(0)
      }))

    it.effect("a Config of one's own, one per part (Config.Wrap): other names, nested", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const prefix = freshPrefix("own")
        const { queue } = yield* build(
          ClientLayer.fromConfig({
            connection: RedisLayer.config.pipe(Config.nested("EU")),
            shards: ShardLayer.config.pipe(Config.nested("EU")),
            queue: { keyPrefix: Config.String("APP_PREFIX"), clientId: Config.String("APP_ID") }
          }),
          env({
            // the default variables are not read
            LOCKSTEP_REDIS_URL: "redis://127.0.0.1:1",
            LOCKSTEP_KEY_PREFIX: "not-this-one",
            LOCKSTEP_SHARDS: "0",
            EU_LOCKSTEP_REDIS_URL: `redis://127.0.0.1:${port}/5`,
            EU_LOCKSTEP_SHARDS: "2",
            APP_PREFIX: prefix,
            APP_ID: "mine-1"
          }),
          yield* Effect.scope
        )
        expect(queue.clientId).toBe("mine-1")
        const s = yield* subscribe(queue, "room")
        yield* queue.send("room", "own")
        expect((yield* s.next()).data).toBe("own")
        // a wrong value of a Config of one's own is checked before anything connects, named by its option
        const error = yield* Effect.flip(Effect.scoped(Layer.build(ClientLayer.fromConfig({
          connection: Config.succeed({ url: "redis://127.0.0.1:1" }),
          queue: Config.succeed<QueueConfig.QueueConfig>({ keyPrefix: prefix, clientTimeout: "10 millis" })
        }))))
        expect(String(error)).toContain("clientTimeout must be at least 1 second")
      }))

    it.effect("a variable missing or wrong is a ConfigError naming it, with its description, before anything connects", () =>
      Effect.gen(function*() {
        const [closed] = yield* HarnessNet.freePorts(1)
        // every other value is right, and the URL points where nothing listens: a connection
        // attempt would fail with an EngineError, not a ConfigError
        const base = { LOCKSTEP_REDIS_URL: `redis://127.0.0.1:${closed}`, LOCKSTEP_KEY_PREFIX: "app" }
        expect(yield* configFailure(env({ ...base, LOCKSTEP_SHARDS: "0" }))).toEqual({
          path: ["LOCKSTEP_SHARDS"],
          message: expect.stringMatching(
            /^LOCKSTEP_SHARDS: expected an integer from 1 to 16384, got "0" — the number of shards rooms spread over \(S17\)/
          )
        })
        expect(yield* configFailure(env({ ...base, LOCKSTEP_SHARDS: "many" }))).toMatchObject({
          path: ["LOCKSTEP_SHARDS"]
        })
        expect(yield* configFailure(env({ ...base, LOCKSTEP_CLIENT_TIMEOUT: "soon" }))).toEqual({
          path: ["LOCKSTEP_CLIENT_TIMEOUT"],
          message:
            `LOCKSTEP_CLIENT_TIMEOUT: expected a duration such as "15 seconds", got "soon" — a client not heard from for this long is ejected (S10); default 15 seconds, at least 1 second`
        })
        expect(yield* configFailure(env({ ...base, LOCKSTEP_ON_CLOSE: "detach" }))).toMatchObject({
          path: ["LOCKSTEP_ON_CLOSE"],
          message: expect.stringMatching(/^LOCKSTEP_ON_CLOSE: onClose: "detach" needs a clientId/)
        })
        expect(yield* configFailure(env({ LOCKSTEP_REDIS_URL: base.LOCKSTEP_REDIS_URL }))).toMatchObject({
          path: ["LOCKSTEP_KEY_PREFIX"],
          message: expect.stringMatching(/^LOCKSTEP_KEY_PREFIX: .*not set — prefix of every key/)
        })
        // the connection's variables too, and a password in the URL is never shown
        const url = yield* configFailure(env({ ...base, LOCKSTEP_REDIS_URL: "http://user:hunter2@nowhere" }))
        expect(url).toMatchObject({
          path: ["LOCKSTEP_REDIS_URL"],
          message: expect.stringMatching(
            /^LOCKSTEP_REDIS_URL: .*scheme must be redis: or rediss:.* — URL of a standalone Redis/
          )
        })
        expect(url.message).not.toContain("hunter2")
        expect(yield* configFailure(env({ ...base, LOCKSTEP_REDIS_CLUSTER_NODES: "10.0.0.1" }))).toMatchObject({
          path: ["LOCKSTEP_REDIS_CLUSTER_NODES"],
          message: expect.stringMatching(
            /^LOCKSTEP_REDIS_CLUSTER_NODES: "10.0.0.1" is not a node address .* — a Redis Cluster to connect to/
          )
        })
      }))
  })

  layer(RedisTestCluster.layer({ masters: 3 }), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("cluster: LOCKSTEP_REDIS_CLUSTER_NODES and LOCKSTEP_SHARDS; rooms of every shard send and receive", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisTestCluster.RedisTestCluster
        const prefix = freshPrefix("envc")
        const nodes = cluster.masters.map((m) => `${m.host}:${m.port}`)
        // the application's other processes, built without the environment
        const producer = yield* build(
          ClientLayer.cluster({ nodes: cluster.masters, shards: 8 }, { keyPrefix: prefix }),
          env({}),
          yield* Effect.scope
        )
        const { queue } = yield* build(
          ClientLayer.fromConfig(),
          env({
            LOCKSTEP_REDIS_CLUSTER_NODES: nodes.slice(0, 2).join(", "),
            LOCKSTEP_SHARDS: "8",
            LOCKSTEP_KEY_PREFIX: prefix,
            LOCKSTEP_CLIENT_TIMEOUT: "30 seconds"
          }),
          yield* Effect.scope
        )
        // 16 rooms over 8 shards spread over the 3 masters: a standalone connection would meet MOVED
        const rooms = Array.from({ length: 16 }, (_, i) => `room-${i}`)
        const inbox = yield* Queue.unbounded<Delivery.Delivery>()
        yield* (yield* queue.subscribeMany(rooms)).pipe(
          Stream.runForEach((d) => Queue.offer(inbox, d)),
          Effect.forkScoped
        )
        for (const room of rooms) yield* producer.queue.send(room, room)
        const got = new Set<unknown>()
        for (const _ of rooms) {
          const d = yield* Queue.take(inbox).pipe(Effect.timeout("5 seconds"))
          got.add(d.data)
          yield* d.ack
        }
        expect([...got].sort()).toEqual([...rooms].sort())
        // and the other way round
        const back = yield* subscribe(producer.queue, "room-3")
        yield* queue.send("room-3", "back")
        expect((yield* back.next()).data).toBe("back")
      }))
  })
})
