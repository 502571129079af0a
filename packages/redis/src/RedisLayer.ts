/**
 * Layers providing a `RedisConnection`: `layer` for a standalone Redis (a URL or options),
 * `cluster` for a Redis Cluster, `layerConfig()` from the environment (or `layerConfig(config)`
 * from a `Config` of your own). Most applications use the one-call layers of `ClientLayer`
 * (`ClientLayer.standalone`, `ClientLayer.cluster`) instead.
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
import { QueueConfig, type QueueError } from "@lockstep/core"
import * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
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
    Effect.fromResult(Result.all([Options.parseNodes(nodes, "nodes"), Options.check(options)])),
    ([parsed, checked]) => ClusterConnection.make(parsed, checked)
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

/**
 * What `layerConfig` connects to: a Redis Cluster when `nodes` is given, else the standalone Redis
 * at `url` (default `redis://127.0.0.1:6379`); `password`, if given, wins over one in the URL and
 * applies to every cluster node.
 *
 * @since 1.0.0
 * @category models
 */
export interface ConnectionConfig {
  /** cluster node addresses (at least one): when given, a cluster connection is made */
  readonly nodes?: ReadonlyArray<ClusterNode> | undefined
  /** `redis://[user[:password]@]host[:port][/db]`, or `rediss://` for TLS (plain or `Redacted`) */
  readonly url?: string | Redacted.Redacted<string> | undefined
  /** plain or `Redacted`; never logged */
  readonly password?: string | Redacted.Redacted<string> | undefined
}

/** The paths of a failure of a `ConnectionConfig`: its fields. */
const fields = { nodes: "nodes", url: "url", password: "password" } as const

/** The variables `config` reads, by field: a failure of the value read names the variable, with its description. */
const variables = {
  nodes: {
    name: "LOCKSTEP_REDIS_CLUSTER_NODES",
    description: "a Redis Cluster to connect to: some of its nodes, comma-separated host:port or [IPv6]:port"
  },
  url: {
    name: "LOCKSTEP_REDIS_URL",
    description:
      "URL of a standalone Redis: redis://[user[:password]@]host[:port][/db], or rediss:// for TLS; default redis://127.0.0.1:6379"
  },
  password: {
    name: "LOCKSTEP_REDIS_PASSWORD",
    description:
      "Redis password; takes precedence over a password in LOCKSTEP_REDIS_URL, and applies to every cluster node"
  }
} as const

/**
 * The connection read from the environment (or any `ConfigProvider`): `LOCKSTEP_REDIS_CLUSTER_NODES`
 * (comma-separated `host:port`, `[IPv6]:port`) for a cluster, else `LOCKSTEP_REDIS_URL` (default
 * `redis://127.0.0.1:6379`); `LOCKSTEP_REDIS_PASSWORD` for the password. The URL and the password
 * are read as `Config.Redacted`: they never show in a log line or an error. A value that cannot
 * be read is a `ConfigError` naming the variable, with its description (e.g.
 * `LOCKSTEP_REDIS_URL: not a valid URL (…) — URL of a standalone Redis: …`).
 *
 * @since 1.0.0
 * @category config
 */
export const config: Config.Config<ConnectionConfig> = Config.all({
  // comma-separated; when set, a cluster connection is made
  nodes: Config.option(Config.Array(
    Schema.String.annotate({ description: variables.nodes.description }),
    variables.nodes.name
  )),
  url: Config.option(
    Config.schema(
      Schema.Redacted(Schema.String).annotate({ description: variables.url.description }),
      variables.url.name
    )
  ),
  password: Config.option(
    Config.schema(
      Schema.Redacted(Schema.String).annotate({ description: variables.password.description }),
      variables.password.name
    )
  )
}).pipe(
  Config.map(({ nodes, password, url }): ConnectionConfig => ({
    ...Option.match(nodes, { onNone: () => ({}), onSome: (nodes) => ({ nodes: nodes.map((n) => n.trim()) }) }),
    ...Option.match(url, { onNone: () => ({}), onSome: (url) => ({ url }) }),
    ...Option.match(password, { onNone: () => ({}), onSome: (password) => ({ password }) })
  })),
  // set but blank, or a node that cannot be read, fails here, naming the variable
  Config.mapEffect((read) =>
    Effect.fromResult(Options.resolve(read, fields)).pipe(
      Effect.mapError((error) => QueueConfig.toVariableError(error, variables)),
      Effect.as(read)
    )
  )
)

/**
 * A `RedisConnection` from a `Config` of a `ConnectionConfig` (`Config.Wrap`: one `Config`, or one
 * per field), by default `config`: the `LOCKSTEP_REDIS_*` variables. Pass your own to read other
 * names, e.g. `layerConfig(RedisLayer.config.pipe(Config.nested("EU")))` (`EU_LOCKSTEP_REDIS_URL`, …)
 * or `layerConfig({ url: Config.Redacted("REDIS_URL") })`. A value that cannot be read or is wrong
 * fails the layer with a `ConfigError` before anything connects (naming the variable, with
 * `config`; the field, `nodes` / `url` / `password`, with a `Config` of your own).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  connection: Config.Wrap<ConnectionConfig> = config
): Layer.Layer<RedisConnection, QueueError.EngineError | Config.ConfigError> =>
  Layer.effect(
    RedisConnection,
    Effect.gen(function*() {
      const read = yield* Config.unwrap(connection)
      const target = yield* Effect.fromResult(
        Options.resolve(read, fields)
      )
      return yield* target.kind === "cluster"
        ? ClusterConnection.make(target.nodes, target.options)
        : StandaloneConnection.make(target.options)
    })
  )
