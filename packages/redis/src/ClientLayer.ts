/**
 * One lockstep client on Redis: `SyncFanoutQueue` over a `RedisConnection` and a `Sharding`.
 * Each instance has its own client id, keepalive and rooms; several may share a connection.
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
import { Backend, QueueConfig, SyncFanoutQueue } from "@lockstep/core"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as RedisBackend from "./internal/redisBackend.js"
import { RedisConnection } from "./RedisConnection.js"
import { Sharding } from "./Sharding.js"

/**
 * Build a client in the current scope; closing the scope leaves all rooms (S20).
 *
 * @since 0.1.0
 */
export const make = (
  config: QueueConfig.QueueConfig
): Effect.Effect<
  SyncFanoutQueue.SyncFanoutQueue["Type"],
  ConfigError.ConfigError,
  RedisConnection | Sharding | Scope.Scope
> =>
  Effect.gen(function*() {
    const resolved = yield* QueueConfig.resolve(config)
    const connection = yield* RedisConnection
    const sharding = yield* Sharding
    return yield* Backend.makeQueue(
      (clientId) => Effect.succeed(RedisBackend.make(connection, sharding, resolved, clientId)),
      resolved
    )
  })

/**
 * @since 0.1.0
 */
export const layer = (
  config: QueueConfig.QueueConfig
): Layer.Layer<SyncFanoutQueue.SyncFanoutQueue, ConfigError.ConfigError, RedisConnection | Sharding> =>
  Layer.scoped(SyncFanoutQueue.SyncFanoutQueue, make(config))

/**
 * A client configured from the environment (`QueueConfig.config`).
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<
  SyncFanoutQueue.SyncFanoutQueue,
  ConfigError.ConfigError,
  RedisConnection | Sharding
> = Layer.unwrapEffect(Effect.map(QueueConfig.config, layer))
