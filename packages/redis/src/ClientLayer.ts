/**
 * One lockstep client on Redis: the `SyncFanoutQueue` service and (since 1.1.0) its operator's
 * side, the `RoomAdmin` service (S29, S30). Each instance has its own client id, keepalive and
 * rooms; several may share a connection.
 *
 * One call for the common set-ups:
 *
 * ```ts
 * const Live = ClientLayer.standalone("redis://127.0.0.1:6379", { keyPrefix: "app" })
 * const OnCluster = ClientLayer.cluster({ nodes: ["10.0.0.1:6379", "10.0.0.2:6379"], shards: 64 }, { keyPrefix: "app" })
 * ```
 *
 * from the environment (`LOCKSTEP_REDIS_URL` or `LOCKSTEP_REDIS_CLUSTER_NODES`, `LOCKSTEP_SHARDS`,
 * `LOCKSTEP_KEY_PREFIX`, `LOCKSTEP_CLIENT_ID`, …):
 *
 * ```ts
 * const Live = ClientLayer.fromConfig()
 * ```
 *
 * or composed, to share one connection between clients or to bring your own:
 *
 * ```ts
 * const Live = ClientLayer.layer({ keyPrefix: "app" }).pipe(
 *   Layer.provide(ShardLayer.single),
 *   Layer.provide(RedisLayer.layer("redis://127.0.0.1:6379"))
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Backend, QueueConfig, RoomAdmin, SyncFanoutQueue } from "@lockstep/core"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as RedisBackend from "./internal/redisBackend.js"
import { RedisConnection } from "./RedisConnection.js"
import * as RedisLayer from "./RedisLayer.js"
import { Sharding } from "./Sharding.js"
import * as ShardLayer from "./ShardLayer.js"

/**
 * Build a client in the current scope, with its operator's side: the `SyncFanoutQueue` and the
 * `RoomAdmin` services of one client id. Closing the scope leaves all rooms (S20). A durable client
 * (`clientId`) claims its id first (S21): the claim fails the build if Redis is out of reach
 * (`EngineError`, `OperationTimeout`) or a newer claim of the id won a race with it
 * (`ClientSuperseded`).
 *
 * @since 1.1.0
 * @category constructors
 */
export const makeClient = (
  config: QueueConfig.QueueConfig
): Effect.Effect<
  { readonly queue: SyncFanoutQueue.SyncFanoutQueue["Service"]; readonly admin: RoomAdmin.RoomAdmin["Service"] },
  Config.ConfigError | Backend.BackendError,
  RedisConnection | Sharding | Scope.Scope
> =>
  Effect.gen(function*() {
    const resolved = yield* QueueConfig.resolve(config)
    const connection = yield* RedisConnection
    const sharding = yield* Sharding
    return yield* Backend.makeClient(
      (clientId) => Effect.succeed(RedisBackend.make(connection, sharding, resolved, clientId)),
      resolved
    )
  })

/**
 * Build a client in the current scope (`makeClient` gives its `RoomAdmin` too); closing the scope
 * leaves all rooms (S20). A durable client (`clientId`) claims its id first (S21): the claim fails
 * the build if Redis is out of reach (`EngineError`, `OperationTimeout`) or a newer claim of the id
 * won a race with it (`ClientSuperseded`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  config: QueueConfig.QueueConfig
): Effect.Effect<
  SyncFanoutQueue.SyncFanoutQueue["Service"],
  Config.ConfigError | Backend.BackendError,
  RedisConnection | Sharding | Scope.Scope
> => Effect.map(makeClient(config), (client) => client.queue)

/**
 * A client on the `RedisConnection` and `Sharding` provided: compose it with `RedisLayer` and
 * `ShardLayer` (several clients may share one connection). Provides `SyncFanoutQueue` and (since
 * 1.1.0) `RoomAdmin`, of one client. It reads no environment variable.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  config: QueueConfig.QueueConfig
): Layer.Layer<
  SyncFanoutQueue.SyncFanoutQueue | RoomAdmin.RoomAdmin,
  Config.ConfigError | Backend.BackendError,
  RedisConnection | Sharding
> =>
  Layer.effectContext(
    Effect.map(
      makeClient(config),
      ({ admin, queue }) =>
        Context.make(SyncFanoutQueue.SyncFanoutQueue, queue).pipe(Context.add(RoomAdmin.RoomAdmin, admin))
    )
  )

/**
 * A client configured by a `Config` of `QueueConfig` (`Config.Wrap`: one `Config`, or one per
 * option), on the `RedisConnection` and `Sharding` provided (e.g. `RedisLayer.layerConfig()`). By
 * default `QueueConfig.config`: the `LOCKSTEP_*` variables. Pass your own to read other names,
 * e.g. `layerConfig(QueueConfig.config.pipe(Config.nested("EU")))` (`EU_LOCKSTEP_KEY_PREFIX`, …)
 * or `layerConfig({ keyPrefix: Config.String("APP_PREFIX") })`. What cannot be read or is wrong
 * fails the layer with a `ConfigError` naming it, before the client is built. It reads only the
 * client's options: the connection and the sharding are the ones provided (`fromConfig` reads
 * them too, and opens its own connection).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Wrap<QueueConfig.QueueConfig> = QueueConfig.config
): Layer.Layer<
  SyncFanoutQueue.SyncFanoutQueue | RoomAdmin.RoomAdmin,
  Config.ConfigError | Backend.BackendError,
  RedisConnection | Sharding
> => Layer.unwrap(Effect.map(Config.unwrap(config), layer))

/**
 * A client on a standalone Redis, with its own connection: `layer(config)` on one shard
 * (`ShardLayer.single`) and `RedisLayer.layer(connection)`; `SyncFanoutQueue` and `RoomAdmin`.
 * It reads no environment variable (a `LOCKSTEP_CLIENT_ID` set changes nothing): `fromConfig()`
 * reads them.
 *
 * @since 0.1.0
 * @category layers
 */
export const standalone = (
  connection: RedisLayer.RedisOptions | string | Redacted.Redacted<string>,
  config: QueueConfig.QueueConfig
): Layer.Layer<SyncFanoutQueue.SyncFanoutQueue | RoomAdmin.RoomAdmin, Backend.BackendError | Config.ConfigError> =>
  layer(config).pipe(Layer.provide(ShardLayer.single), Layer.provide(RedisLayer.layer(connection)))

/**
 * Where `cluster` connects: the node addresses, the number of shards (1..16384: rooms spread over
 * them, S17) and the connection options of `RedisLayer.cluster`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClusterClientOptions extends RedisLayer.ClusterConnectionOptions {
  readonly nodes: ReadonlyArray<RedisLayer.ClusterNode>
  readonly shards: number
}

/**
 * A client on a Redis Cluster, with its own connection: `layer(config)` on
 * `ShardLayer.layer({ shards })` and `RedisLayer.cluster(nodes, options)`; `SyncFanoutQueue` and
 * `RoomAdmin`. A bad shard count is a `ConfigError` (`QueueConfig.invalidData`, path `shards`).
 * It reads no environment variable: `fromConfig()` reads them.
 *
 * @since 0.1.0
 * @category layers
 */
export const cluster = (
  { nodes, shards, ...options }: ClusterClientOptions,
  config: QueueConfig.QueueConfig
): Layer.Layer<SyncFanoutQueue.SyncFanoutQueue | RoomAdmin.RoomAdmin, Backend.BackendError | Config.ConfigError> =>
  layer(config).pipe(
    Layer.provide(RedisLayer.cluster(nodes, options)),
    // built first: a bad shard count fails before anything connects
    Layer.provide(ShardLayer.layer({ shards }))
  )

/**
 * Everything `fromConfig` needs: where to connect (`RedisLayer.ConnectionConfig`), the shard
 * count (`undefined`: `ShardLayer.single`; n: `ShardLayer.layer({ shards: n })`) and the client's
 * options.
 *
 * @since 1.1.0
 * @category models
 */
export interface ClientConfig {
  readonly connection: RedisLayer.ConnectionConfig
  readonly shards?: number | undefined
  readonly queue: QueueConfig.QueueConfig
}

/**
 * The whole `ClientConfig` from the environment (or any `ConfigProvider`): `RedisLayer.config`
 * (`LOCKSTEP_REDIS_CLUSTER_NODES`, `LOCKSTEP_REDIS_URL`, `LOCKSTEP_REDIS_PASSWORD`),
 * `ShardLayer.config` (`LOCKSTEP_SHARDS`) and `QueueConfig.config` (`LOCKSTEP_KEY_PREFIX`, required,
 * and the other `LOCKSTEP_*` options: `LOCKSTEP_CLIENT_ID`, `LOCKSTEP_ON_CLOSE`, …).
 *
 * @since 1.1.0
 * @category config
 */
export const config: Config.Config<ClientConfig> = Config.all({
  connection: RedisLayer.config,
  shards: ShardLayer.config,
  queue: QueueConfig.config
})

/**
 * One call from the environment: a client with its own connection, its sharding and every option
 * read from a `Config` of the whole `ClientConfig` (`Config.Wrap`: one `Config`, or one per part),
 * by default `config`, which reads
 *
 * - `LOCKSTEP_REDIS_CLUSTER_NODES` (a cluster: some of its nodes, comma-separated), else
 *   `LOCKSTEP_REDIS_URL` (default `redis://127.0.0.1:6379`); `LOCKSTEP_REDIS_PASSWORD`;
 * - `LOCKSTEP_SHARDS`: not set, one shard (`ShardLayer.single`, as `standalone` uses); n,
 *   `ShardLayer.layer({ shards: n })` (as `cluster({ shards: n })` uses);
 * - `LOCKSTEP_KEY_PREFIX` (required) and every other `QueueConfig` option (`QueueConfig.config`):
 *   `LOCKSTEP_CLIENT_ID` and `LOCKSTEP_ON_CLOSE` make a durable client that detaches on shutdown.
 *
 * Provides `SyncFanoutQueue` and `RoomAdmin`. Everything is read and checked before anything
 * connects: a value missing or wrong fails the layer with a `ConfigError` naming the variable,
 * with its description. Unlike `layerConfig`, which reads only the client's options and runs on
 * the connection and sharding provided, this layer opens its own connection.
 *
 * @since 1.1.0
 * @category layers
 */
export const fromConfig = (
  settings: Config.Wrap<ClientConfig> = config
): Layer.Layer<SyncFanoutQueue.SyncFanoutQueue | RoomAdmin.RoomAdmin, Config.ConfigError | Backend.BackendError> =>
  Layer.unwrap(Effect.gen(function*() {
    const { connection, queue, shards } = yield* Config.unwrap(settings)
    // a Config of one's own is checked before anything connects, as the default one is
    yield* QueueConfig.resolve(queue)
    return layer(queue).pipe(
      Layer.provide(RedisLayer.layerConfig(Config.succeed(connection))),
      // built first: a bad shard count fails before anything connects
      Layer.provide(ShardLayer.layerConfig(Config.succeed(shards)))
    )
  }))
