/**
 * Engine selection shared by the examples: a Redis named by `LOCKSTEP_REDIS_URL`, else a
 * `redis-server` spawned on a free loopback port by `@lockstep/redis/testing` when one is
 * installed, else the in-memory engine. `LOCKSTEP_ENGINE=memory` forces the memory engine.
 *
 * Every `client` is a separate lockstep client (its own id, keepalive and rooms, and on Redis its
 * own connections), as separate edge processes would be. A client made with `crashable: true`
 * can have its network cut (`cut`) to simulate a crash: its operations fail, it stops
 * heartbeating, and when its scope closes it cannot tell the server it is leaving.
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import { MemoryLayer, type QueueConfig, type QueueError, type SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer, RedisConnection, RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestServer, TcpProxy } from "@lockstep/redis/testing"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/** A queue client of the selected engine. */
export interface Client {
  readonly queue: SyncFanoutQueue.SyncFanoutQueue["Type"]
  /**
   * Cut this client's network (only for `crashable` clients; a no-op otherwise): every operation
   * fails from now on and it stops heartbeating. Completes once the client noticed the cut, so
   * closing its scope afterwards does not try to leave its rooms: the server has to eject it (S10).
   */
  readonly cut: Effect.Effect<void>
}

/** Why building a client failed. */
export type ClientError = QueueError.QueueError | ConfigError.ConfigError

/** The engine the examples run on. */
export interface Engine {
  readonly kind: "redis" | "memory"
  /** one line for humans: which engine, where */
  readonly description: string
  /** the spawned server's port, when the examples spawned one */
  readonly spawnedPort: Option.Option<number>
  /** A new client, living in the current scope. */
  readonly client: (
    config: QueueConfig.QueueConfig,
    options?: { readonly crashable?: boolean }
  ) => Effect.Effect<Client, ClientError, Scope.Scope>
}

/** Hide the password of a `redis://` URL before printing it. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "<invalid url>"
  }
}

/** The memory engine: one in-process broker shared by every client. */
export const memory = (reason: string): Effect.Effect<Engine> =>
  Effect.map(MemoryLayer.makeBroker, (broker) => ({
    kind: "memory",
    description: `in-memory engine (${reason})`,
    spawnedPort: Option.none(),
    client: (config) =>
      Effect.map(
        MemoryLayer.make(config).pipe(Effect.provideService(MemoryLayer.MemoryBroker, broker)),
        (queue) => ({ queue, cut: broker.cut(queue.clientId) })
      )
  }))

/** Wait until the connection reports itself down (the cut was noticed), at most 2 s. */
const awaitDown = (connection: RedisConnection.RedisConnection["Type"]) =>
  connection.connected.changes.pipe(
    Stream.filter((up) => !up),
    Stream.take(1),
    Stream.runDrain,
    Effect.timeout("2 seconds"),
    Effect.ignore
  )

/** A Redis engine on `url`; crashable clients connect through a loopback TCP proxy that can cut them off. */
export const redis = (url: string, description: string, spawnedPort: Option.Option<number>): Engine => {
  const target = new URL(url)
  const targetHost = target.hostname.replace(/^\[(.*)\]$/, "$1")
  const targetPort = target.port === "" ? 6379 : Number(target.port)
  const build = (
    config: QueueConfig.QueueConfig,
    connection: Layer.Layer<RedisConnection.RedisConnection, ClientError>
  ) =>
    Effect.gen(function*() {
      const context = yield* Layer.build(connection)
      const queue = yield* ClientLayer.make(config).pipe(
        Effect.provide(context),
        Effect.provide(ShardLayer.single)
      )
      return { queue, connection: Context.get(context, RedisConnection.RedisConnection) }
    })
  return {
    kind: "redis",
    description,
    spawnedPort,
    client: (config, options) =>
      options?.crashable === true
        ? Effect.gen(function*() {
          const proxy = yield* TcpProxy.make({ targetPort, targetHost })
          const db = target.pathname.length > 1 ? Number(target.pathname.slice(1)) : undefined
          const { connection, queue } = yield* build(
            config,
            RedisLayer.layer({
              host: proxy.host,
              port: proxy.port,
              ...(target.username !== "" ? { username: decodeURIComponent(target.username) } : {}),
              ...(target.password !== "" ? { password: decodeURIComponent(target.password) } : {}),
              ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
              ...(target.protocol === "rediss:" ? { tls: { servername: targetHost } } : {})
            })
          )
          return { queue, cut: Effect.zipRight(proxy.cut, awaitDown(connection)) }
        })
        : Effect.map(build(config, RedisLayer.layer(url)), ({ queue }) => ({ queue, cut: Effect.void }))
  }
}

/**
 * Pick the engine: `LOCKSTEP_ENGINE=memory` → memory; `LOCKSTEP_REDIS_URL` → that Redis; else a
 * spawned `redis-server` (stopped when the scope closes) when installed; else memory, or a
 * failure when `requireRedis` is set.
 */
export const acquire = (options?: { readonly requireRedis?: boolean }): Effect.Effect<
  Engine,
  RedisTestServer.RedisTestError | ConfigError.ConfigError,
  Scope.Scope | FileSystem.FileSystem | CommandExecutor.CommandExecutor
> =>
  Effect.gen(function*() {
    const forced = yield* Config.option(Config.literal("memory", "redis")("LOCKSTEP_ENGINE"))
    const requireRedis = options?.requireRedis === true || Option.contains(forced, "redis")
    if (Option.contains(forced, "memory") && !requireRedis) return yield* memory("LOCKSTEP_ENGINE=memory")
    const url = yield* Config.option(Config.string("LOCKSTEP_REDIS_URL")).pipe(
      Effect.map(Option.filter((u) => u.trim() !== "")) // set but empty counts as unset
    )
    if (Option.isSome(url)) {
      return redis(url.value, `Redis at ${redactUrl(url.value)} (LOCKSTEP_REDIS_URL)`, Option.none())
    }
    // added before the server, so it runs after the server's own finalizer stopped it
    let spawnedOn: number | undefined
    yield* Effect.addFinalizer(() =>
      spawnedOn === undefined ? Effect.void : Console.log(`stopped the spawned redis-server on port ${spawnedOn}`)
    )
    const spawned = yield* RedisTestServer.make().pipe(Effect.either)
    if (spawned._tag === "Right") {
      const server = spawned.right
      spawnedOn = server.port
      return redis(
        server.url,
        `Redis: a redis-server spawned on ${server.host}:${server.port} (set LOCKSTEP_REDIS_URL to use your own)`,
        Option.some(server.port)
      )
    }
    if (requireRedis) {
      return yield* new RedisTestServer.RedisTestError({
        reason: spawned.left.reason,
        message: `${spawned.left.message} Or point LOCKSTEP_REDIS_URL at a running Redis.`,
        cause: spawned.left.cause
      })
    }
    const why = spawned.left.reason === "NotInstalled"
      ? "no redis-server on PATH; install Redis or set LOCKSTEP_REDIS_URL to run on Redis"
      : `could not spawn redis-server: ${spawned.left.message.split("\n", 1)[0]}`
    return yield* memory(why)
  })
