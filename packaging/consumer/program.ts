/**
 * The consumer program of the packaging test: the packed packages as a user's project sees them.
 * `packaging/test/consumer.test.ts` installs the tarballs into a fresh project outside the
 * workspace, copies this file in as `src/program.ts`, type-checks it with `moduleResolution`
 * NodeNext and Bundler, runs it with node on each engine and compares what it prints.
 *
 * Public API only. When a name it uses changes, change it here and, if the output changes, in
 * the test's expected lines.
 *
 *   node out/program.js memory|redis
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { MemoryLayer, type QueueError, SyncFanoutQueue, TypedQueue } from "@lockstep/core"
import { ProxyLayer, RoomProxy } from "@lockstep/proxy"
import { ClientLayer, RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestServer } from "@lockstep/redis/testing"
import { Config, ConfigProvider, Console, Effect, Layer, Schema, Stream } from "effect"

const Order = Schema.Struct({ id: Schema.Number, item: Schema.String })

/** One lockstep client: the in-memory engine, or Redis on a `redis-server` spawned for this run. */
const queueLayer = (
  engine: string
): Layer.Layer<
  SyncFanoutQueue.SyncFanoutQueue,
  QueueError.QueueError | Config.ConfigError | RedisTestServer.RedisTestError
> =>
  engine === "redis"
    // configured as a deployment would be: the client from the LOCKSTEP_* variables, the connection
    // from a Config of the program's own
    ? ClientLayer.layerConfig().pipe(
      Layer.provide(ShardLayer.single),
      Layer.provide(Layer.unwrap(Effect.gen(function*() {
        const server = yield* RedisTestServer.RedisTestServer
        yield* Console.log(`spawned redis-server on port ${server.port}`)
        return RedisLayer.layerConfig({ url: Config.succeed(server.url) })
      }))),
      Layer.provide(RedisTestServer.layer()),
      Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ LOCKSTEP_KEY_PREFIX: "consumer" })))
    )
    : MemoryLayer.layer({ keyPrefix: "consumer" })

const program = Effect.gen(function*() {
  const queue = yield* SyncFanoutQueue.SyncFanoutQueue

  // typed payloads; the first order is released at once, the others wait, lower priority first
  const orders = yield* TypedQueue.make(Order)
  const kitchen = yield* orders.subscribe("kitchen")
  yield* orders.send("kitchen", { id: 1, item: "soup" }, { priority: 1 })
  yield* orders.send("kitchen", { id: 2, item: "tea" }, { priority: 5 })
  yield* orders.send("kitchen", { id: 3, item: "cake" }, { priority: 0 })
  yield* kitchen.pipe(
    Stream.take(3),
    Stream.runForEach((delivery) =>
      Console.log(`kitchen ${delivery.data.id} ${delivery.data.item}`).pipe(Effect.andThen(delivery.ack))
    )
  )

  // a typed failure
  yield* queue.send("", "nowhere").pipe(
    Effect.andThen(Console.log("sent to an invalid room")),
    Effect.catchTag("InvalidRoom", (error) => Console.log(`refused ${error._tag}`))
  )

  // a local client of the room proxy, acking by id
  const proxy = yield* RoomProxy.RoomProxy
  const client = yield* proxy.addClient
  yield* client.join("lobby")
  yield* queue.send("lobby", { hello: "proxy" })
  yield* client.deliveries.pipe(
    Stream.take(1),
    Stream.runForEach((delivery) =>
      Console.log(`proxy ${delivery.room} ${JSON.stringify(delivery.data)}`).pipe(
        Effect.andThen(client.ack(delivery.room, delivery.id))
      )
    )
  )
  yield* Console.log("done")
})

const engine = process.argv[2] ?? "memory"
program.pipe(
  Effect.scoped,
  Effect.provide(ProxyLayer.layer.pipe(Layer.provideMerge(queueLayer(engine)))),
  Effect.timeout("30 seconds"),
  NodeRuntime.runMain
)
