/**
 * The flags every command shares (where Redis is, the key prefix, the shard layout, the output
 * format) and the client they make: a `SyncFanoutQueue` and a `RoomAdmin` of `@lockstep/redis`,
 * built when a command runs and closed when it ends (S20: it leaves nothing behind, so the
 * process exits by itself).
 *
 * Each flag falls back to the variable an application reads for the same setting
 * (`RedisLayer.config`, `QueueConfig.config`), so `lockstep` run in an application's environment
 * sees what the application sees. A flag given on the command line wins over the environment.
 */
import { type Backend, QueueConfig, RoomAdmin, SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer, RedisLayer, ShardLayer } from "@lockstep/redis"
import * as Flag from "effect/cli/Flag"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { UsageError } from "./errors.js"

/**
 * The flags of the `lockstep` command, shared by every subcommand (before or after its name).
 * Optional all: what a flag leaves out is read from the environment when a command runs
 * (`clientLayer`), so that `lockstep` alone, or `--help`, needs nothing.
 */
export const sharedFlags = {
  url: Flag.Redacted("url").pipe(
    Flag.withDescription(
      "a standalone Redis: redis://[user[:password]@]host[:port][/db] or rediss:// (env LOCKSTEP_REDIS_URL; default redis://127.0.0.1:6379)"
    ),
    Flag.optional
  ),
  clusterNodes: Flag.String("cluster-nodes").pipe(
    Flag.withMetavar("host:port,…"),
    Flag.withDescription("a Redis Cluster: some of its nodes, comma-separated (env LOCKSTEP_REDIS_CLUSTER_NODES)"),
    Flag.optional
  ),
  shards: Flag.Int("shards").pipe(
    Flag.withDescription(
      "the application's ShardLayer.layer({ shards }) / ClientLayer.cluster({ shards }) count (env LOCKSTEP_SHARDS); leave it out for ShardLayer.single (ClientLayer.standalone)"
    ),
    Flag.optional
  ),
  prefix: Flag.String("prefix").pipe(
    Flag.withDescription("the application's keyPrefix (env LOCKSTEP_KEY_PREFIX); required"),
    Flag.optional
  ),
  timeout: Flag.String("timeout").pipe(
    Flag.withSchema(Schema.DurationFromString),
    Flag.withMetavar("duration"),
    Flag.withDescription(
      "deadline of each operation, e.g. \"2 seconds\" (env LOCKSTEP_OPERATION_TIMEOUT; default 5 seconds)"
    ),
    Flag.optional
  ),
  json: Flag.Boolean("json").pipe(
    Flag.withDescription("print JSON (stable keys, for scripts) instead of tables"),
    Flag.withDefault(false)
  )
} as const

/** The shared flags as parsed. */
export interface SharedOptions {
  readonly url: Option.Option<Redacted.Redacted<string>>
  readonly clusterNodes: Option.Option<string>
  readonly shards: Option.Option<number>
  readonly prefix: Option.Option<string>
  readonly timeout: Option.Option<Duration.Duration>
  readonly json: boolean
}

/** A flag's value, else the variable's (a variable set but wrong is a `ConfigError` naming it). */
const flagOrEnv = <A>(
  flag: Option.Option<A>,
  variable: Config.Config<A>
): Effect.Effect<Option.Option<A>, Config.ConfigError> =>
  Option.isSome(flag) ? Effect.succeed(flag) : Config.option(variable)

/** `LOCKSTEP_REDIS_PASSWORD`, as `RedisLayer.config` reads it: it applies to a URL or nodes given as flags too. */
const password = Config.option(Config.Redacted("LOCKSTEP_REDIS_PASSWORD"))

/**
 * Where to connect: the `--url` or `--cluster-nodes` flag (not both) with the password of the
 * environment, else what `RedisLayer.config` reads from the environment.
 */
export const connectionConfig = (
  options: Pick<SharedOptions, "url" | "clusterNodes">
): Effect.Effect<Config.Config<RedisLayer.ConnectionConfig>, UsageError> => {
  const withPassword = (target: RedisLayer.ConnectionConfig) =>
    Config.map(
      password,
      (p): RedisLayer.ConnectionConfig => Option.isSome(p) ? { ...target, password: p.value } : target
    )
  if (Option.isSome(options.url) && Option.isSome(options.clusterNodes)) {
    return Effect.fail(
      new UsageError({ message: "give --url (a standalone Redis) or --cluster-nodes (a Redis Cluster), not both" })
    )
  }
  if (Option.isSome(options.url)) return Effect.succeed(withPassword({ url: options.url.value }))
  if (Option.isSome(options.clusterNodes)) {
    return Effect.succeed(withPassword({ nodes: options.clusterNodes.value.split(",").map((node) => node.trim()) }))
  }
  return Effect.succeed(RedisLayer.config)
}

/**
 * The client of a command: the key prefix checked before anything connects, then the connection
 * (`RedisLayer.layerConfig`), the sharding (`ShardLayer.single`, or `ShardLayer.layer({ shards })`
 * with `--shards`) and one client with a random id (never the application's durable
 * `LOCKSTEP_CLIENT_ID`: claiming it would fence the application's process, S21).
 */
export const clientLayer = (
  options: SharedOptions
): Layer.Layer<
  SyncFanoutQueue.SyncFanoutQueue | RoomAdmin.RoomAdmin,
  UsageError | Config.ConfigError | Backend.BackendError
> =>
  Layer.unwrap(Effect.gen(function*() {
    const keyPrefix = yield* flagOrEnv(options.prefix, Config.String("LOCKSTEP_KEY_PREFIX"))
    if (Option.isNone(keyPrefix)) {
      return yield* new UsageError({ message: "the key prefix is missing: give --prefix or set LOCKSTEP_KEY_PREFIX" })
    }
    const timeout = yield* flagOrEnv(options.timeout, Config.Duration("LOCKSTEP_OPERATION_TIMEOUT"))
    const config: QueueConfig.QueueConfig = {
      keyPrefix: keyPrefix.value,
      operationTimeout: Option.getOrElse(timeout, () => Duration.seconds(5))
    }
    yield* QueueConfig.resolve(config)
    const connection = yield* connectionConfig(options)
    // --shards, else LOCKSTEP_SHARDS as the application reads it (ShardLayer.config): not set, one shard
    const shards = Option.match(options.shards, {
      onNone: () => ShardLayer.config,
      onSome: (count) => Config.succeed<number | undefined>(count)
    })
    const sharding = ShardLayer.layerConfig(shards)
    return ClientLayer.layer(config).pipe(
      Layer.provide(RedisLayer.layerConfig(connection)),
      // built first: a bad shard count fails before anything connects
      Layer.provide(sharding)
    )
  }))
