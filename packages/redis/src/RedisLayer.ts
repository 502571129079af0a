/**
 * Layers providing a `RedisConnection`: `layer` for a standalone Redis (URL or options),
 * `cluster` for a Redis Cluster, `layerConfig` from the environment.
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
import type { QueueError } from "@lockstep/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { ClusterOptions, RedisOptions as IORedisOptions } from "ioredis"
import type { ConnectionOptions } from "node:tls"
import * as ClusterConnection from "./internal/clusterConnection.js"
import * as Options from "./internal/connectionOptions.js"
import * as StandaloneConnection from "./internal/standaloneConnection.js"
import { RedisConnection } from "./RedisConnection.js"

/**
 * Connection options. `ioredis` is merged last, for anything not covered here.
 *
 * @since 0.1.0
 */
export interface RedisOptions {
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly username?: string | undefined
  readonly password?: string | undefined
  readonly db?: number | undefined
  readonly tls?: ConnectionOptions | undefined
  /** deadline of the initial connection; default 10 s */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** ioredis auto-pipelining: less Redis CPU with many rooms, a little more latency per message */
  readonly enableAutoPipelining?: boolean | undefined
  readonly ioredis?: IORedisOptions | undefined
}

/**
 * A cluster node address: `{ host, port }` or `"host:port"`.
 *
 * @since 0.1.0
 */
export type ClusterNode = { readonly host: string; readonly port: number } | string

/**
 * Cluster options: node options (auth, TLS) as for a standalone Redis, plus ioredis cluster options.
 *
 * @since 0.1.0
 */
export interface ClusterConnectionOptions extends RedisOptions {
  /** how often the sharded subscriptions are re-asserted and in-flight messages re-checked; default 10 s */
  readonly verifyInterval?: Duration.DurationInput | undefined
  readonly cluster?: ClusterOptions | undefined
}

/**
 * A standalone connection: one command connection and one subscriber connection. A URL that
 * cannot be read fails with `ConfigError.InvalidData`.
 *
 * @since 0.1.0
 */
export const make = (
  input: RedisOptions | string
): Effect.Effect<RedisConnection["Type"], QueueError.EngineError | ConfigError.ConfigError, Scope.Scope> =>
  Effect.flatMap(Options.parse(input), StandaloneConnection.make)

/**
 * A Redis Cluster connection: one `Redis.Cluster` with sharded subscribers (SSUBSCRIBE), one
 * subscriber connection per master at most (S17). Sharded subscriptions are re-asserted after
 * topology changes and periodically, because ioredis 5 can lose them silently on slot migration
 * (DESIGN §7); each re-assertion is followed by a resync of in-flight messages (S12).
 *
 * @since 0.1.0
 */
export const makeCluster = (
  nodes: ReadonlyArray<ClusterNode>,
  options: ClusterConnectionOptions = {}
): Effect.Effect<RedisConnection["Type"], QueueError.EngineError | ConfigError.ConfigError, Scope.Scope> =>
  Effect.flatMap(Options.parseNodes(nodes, ["nodes"]), (parsed) => ClusterConnection.make(parsed, options))

/**
 * A `RedisConnection` to a Redis Cluster (use with `ShardLayer.layer({ shards })`).
 *
 * @since 0.1.0
 */
export const cluster = (
  nodes: ReadonlyArray<ClusterNode>,
  options?: ClusterConnectionOptions
): Layer.Layer<RedisConnection, QueueError.EngineError | ConfigError.ConfigError> =>
  Layer.scoped(RedisConnection, makeCluster(nodes, options))

/**
 * A `RedisConnection` to a standalone Redis, from options or a `redis://` / `rediss://` URL.
 *
 * @since 0.1.0
 */
export const layer = (
  options: RedisOptions | string
): Layer.Layer<RedisConnection, QueueError.EngineError | ConfigError.ConfigError> =>
  Layer.scoped(RedisConnection, make(options))

/**
 * A `RedisConnection` from the environment: `LOCKSTEP_REDIS_CLUSTER_NODES` (comma-separated
 * `host:port`) for a cluster, else `LOCKSTEP_REDIS_URL` (default `redis://127.0.0.1:6379`).
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<RedisConnection, QueueError.EngineError | ConfigError.ConfigError> = Layer
  .unwrapEffect(
    Effect.gen(function*() {
      const nodes = yield* Config.option(Config.array(Config.string(), "LOCKSTEP_REDIS_CLUSTER_NODES"))
      if (Option.isSome(nodes) && nodes.value.length > 0) return cluster(nodes.value.map((n) => n.trim()))
      const url = yield* Config.option(Config.string("LOCKSTEP_REDIS_URL"))
      return layer(Option.getOrElse(url, () => "redis://127.0.0.1:6379"))
    })
  )
