/**
 * Layers providing a `RedisConnection`: `layer` for a standalone Redis (a URL or options),
 * `cluster` for a Redis Cluster, `layerConfig` from the environment. Most applications use the
 * one-call layers of `ClientLayer` (`ClientLayer.standalone`, `ClientLayer.cluster`) instead.
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
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { ClusterOptions, RedisOptions as IORedisOptions } from "ioredis"
import type { ConnectionOptions } from "node:tls"
import * as ClusterConnection from "./internal/clusterConnection.js"
import * as Options from "./internal/connectionOptions.js"
import * as StandaloneConnection from "./internal/standaloneConnection.js"
import { RedisConnection } from "./RedisConnection.js"

/**
 * Options of a connection (of each node, on a cluster). `ioredis` is merged last, for anything
 * not covered here.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisOptions {
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly username?: string | undefined
  /** plain or `Redacted` (e.g. from `Config.Redacted`); never logged */
  readonly password?: string | Redacted.Redacted<string> | undefined
  readonly db?: number | undefined
  readonly tls?: ConnectionOptions | undefined
  /** deadline of the initial connection; default 10 s */
  readonly connectTimeout?: Duration.Input | undefined
  /** ioredis auto-pipelining: less Redis CPU with many rooms, a little more latency per message */
  readonly enableAutoPipelining?: boolean | undefined
  readonly ioredis?: IORedisOptions | undefined
}

/**
 * A cluster node address: `{ host, port }`, `"host:port"` or `"[IPv6]:port"`.
 *
 * @since 0.1.0
 * @category models
 */
export type ClusterNode = { readonly host: string; readonly port: number } | string

/**
 * Cluster options: node options (auth, TLS) as for a standalone Redis, plus ioredis cluster options
 * (e.g. `shardedSubscriberHealthCheckInterval`, the PING that finds dead subscriber connections).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClusterConnectionOptions extends RedisOptions {
  readonly cluster?: ClusterOptions | undefined
}

/**
 * A standalone connection in the current scope: one command connection and one subscriber
 * connection, from options or a `redis://` / `rediss://` URL (plain or `Redacted`: it may hold a
 * password). A URL that cannot be read fails with a `ConfigError` (`QueueConfig.invalidData`)
 * that names the option and never repeats the password.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: RedisOptions | string | Redacted.Redacted<string>
): Effect.Effect<RedisConnection["Service"], QueueError.EngineError | Config.ConfigError, Scope.Scope> =>
  Effect.flatMap(Effect.fromResult(Options.parse(options)), StandaloneConnection.make)

/**
 * A Redis Cluster connection in the current scope: one `Redis.Cluster` with sharded subscribers
 * (SSUBSCRIBE), one subscriber connection per master at most (S17). ioredis subscribes the
 * channels again after a slot migration or a lost subscriber connection; then every sync
 * subscription resyncs its in-flight message (S12), which may have been published in the gap. A
 * node address that cannot be read fails with a `ConfigError` (`QueueConfig.invalidData`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeCluster = (
  nodes: ReadonlyArray<ClusterNode>,
  options: ClusterConnectionOptions = {}
): Effect.Effect<RedisConnection["Service"], QueueError.EngineError | Config.ConfigError, Scope.Scope> =>
  Effect.flatMap(
    Effect.fromResult(Options.parseNodes(nodes, "nodes")),
    (parsed) => ClusterConnection.make(parsed, options)
  )

/**
 * A `RedisConnection` to a standalone Redis, from options or a `redis://` / `rediss://` URL
 * (use with `ShardLayer.single`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: RedisOptions | string | Redacted.Redacted<string>
): Layer.Layer<RedisConnection, QueueError.EngineError | Config.ConfigError> =>
  Layer.effect(RedisConnection, make(options))

/**
 * A `RedisConnection` to a Redis Cluster (use with `ShardLayer.layer({ shards })`).
 *
 * @since 0.1.0
 * @category layers
 */
export const cluster = (
  nodes: ReadonlyArray<ClusterNode>,
  options?: ClusterConnectionOptions
): Layer.Layer<RedisConnection, QueueError.EngineError | Config.ConfigError> =>
  Layer.effect(RedisConnection, makeCluster(nodes, options))

const environment = Config.all({
  // comma-separated; when set, a cluster connection is made
  nodes: Config.option(Config.Array(
    Schema.String.annotate({ description: "a Redis Cluster node address: host:port or [IPv6]:port" }),
    "LOCKSTEP_REDIS_CLUSTER_NODES"
  )),
  url: Config.withDefault(
    Config.schema(
      Schema.Redacted(Schema.String).annotate({
        description: "URL of a standalone Redis: redis://[user[:password]@]host[:port][/db], or rediss:// for TLS"
      }),
      "LOCKSTEP_REDIS_URL"
    ),
    Redacted.make("redis://127.0.0.1:6379")
  ),
  password: Config.option(Config.schema(
    Schema.Redacted(Schema.String).annotate({
      description:
        "Redis password; takes precedence over a password in LOCKSTEP_REDIS_URL, and applies to every cluster node"
    }),
    "LOCKSTEP_REDIS_PASSWORD"
  ))
})

/**
 * A `RedisConnection` from the environment: `LOCKSTEP_REDIS_CLUSTER_NODES` (comma-separated
 * `host:port`) for a cluster, else `LOCKSTEP_REDIS_URL` (default `redis://127.0.0.1:6379`);
 * `LOCKSTEP_REDIS_PASSWORD` for the password. The URL and the password are read as
 * `Config.Redacted`: they never show in a log line or an error.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<RedisConnection, QueueError.EngineError | Config.ConfigError> = Layer.effect(
  RedisConnection,
  Effect.gen(function*() {
    const { nodes, password, url } = yield* environment
    const auth = Option.match(password, { onNone: () => ({}), onSome: (password) => ({ password }) })
    if (Option.isSome(nodes)) {
      // set but empty is a mistake, not "no cluster": parseNodes refuses an empty list
      const parsed = yield* Effect.fromResult(
        Options.parseNodes(nodes.value.map((n) => n.trim()), "LOCKSTEP_REDIS_CLUSTER_NODES")
      )
      return yield* ClusterConnection.make(parsed, auth)
    }
    const options = yield* Effect.fromResult(Options.parseUrl(url, "LOCKSTEP_REDIS_URL"))
    return yield* StandaloneConnection.make({ ...options, ...auth })
  })
)
