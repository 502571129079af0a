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
import { MemoryLayer, type QueueConfig, type QueueError, type RoomAdmin, type SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer, RedisConnection, RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestServer, TcpProxy } from "@lockstep/redis/testing"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import type * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"

/** A queue client of the selected engine. */
export interface Client {
  readonly queue: SyncFanoutQueue.SyncFanoutQueue["Service"]
  /** the operator's side of the same client (dead letters, pause, skip, …: S29, S30) */
  readonly admin: RoomAdmin.RoomAdmin["Service"]
  /**
   * Cut this client's network (only for `crashable` clients; a no-op otherwise): every operation
   * fails from now on and it stops heartbeating. Completes once the client noticed the cut, so
   * closing its scope afterwards does not try to leave its rooms: the server has to eject it (S10).
   */
  readonly cut: Effect.Effect<void>
}

/** Why building a client failed. */
export type ClientError = QueueError.QueueError | Config.ConfigError

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
export const memory = (reason: string): Effect.Effect<Engine> => Effect.map(MemoryLayer.makeBroker, memoryOn(reason))

/** The memory engine on `broker` (for a caller that makes clients of its own there too). */
export const memoryOn = (reason: string) => (broker: MemoryLayer.MemoryBroker["Service"]): Engine => ({
  kind: "memory",
  description: `in-memory engine (${reason})`,
  spawnedPort: Option.none(),
  client: (config) =>
    Effect.map(
      MemoryLayer.makeClient(config).pipe(Effect.provideService(MemoryLayer.MemoryBroker, broker)),
      ({ admin, queue }) => ({ queue, admin, cut: broker.cut(queue.clientId) })
    )
})

/** Wait until the connection reports itself down (the cut was noticed), at most 2 s. */
const awaitDown = (connection: RedisConnection.RedisConnection["Service"]) =>
  SubscriptionRef.changes(connection.connected).pipe(
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
  const build = Effect.fn("Engine.client")(function*(
    config: QueueConfig.QueueConfig,
    connect: Effect.Effect<RedisConnection.RedisConnection["Service"], ClientError, Scope.Scope>
  ) {
    const connection = yield* connect
    const { admin, queue } = yield* ClientLayer.makeClient(config).pipe(
      Effect.provideService(RedisConnection.RedisConnection, connection),
      Effect.provide(ShardLayer.single)
    )
    return { queue, admin, connection }
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
          const { admin, connection, queue } = yield* build(
            config,
            RedisLayer.make({
              host: proxy.host,
              port: proxy.port,
              ...(target.username !== "" ? { username: decodeURIComponent(target.username) } : {}),
              ...(target.password !== "" ? { password: decodeURIComponent(target.password) } : {}),
              ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
              ...(target.protocol === "rediss:" ? { tls: { servername: targetHost } } : {})
            })
          )
          return { queue, admin, cut: Effect.andThen(proxy.cut, awaitDown(connection)) }
        })
        : Effect.map(build(config, RedisLayer.make(url)), ({ admin, queue }) => ({ queue, admin, cut: Effect.void }))
  }
}

/**
 * Pick the engine: `LOCKSTEP_ENGINE=memory` → memory; `LOCKSTEP_REDIS_URL` → that Redis; else a
 * spawned `redis-server` (stopped when the scope closes) when installed; else memory, or a
 * failure when `requireRedis` is set.
 */
export const acquire = (options?: { readonly requireRedis?: boolean }): Effect.Effect<
  Engine,
  RedisTestServer.RedisTestError | Config.ConfigError,
  Scope.Scope | FileSystem.FileSystem | ChildProcessSpawner.ChildProcessSpawner
> =>
  Effect.gen(function*() {
    const forced = yield* Config.option(Config.Literals(["memory", "redis"], "LOCKSTEP_ENGINE"))
    const requireRedis = options?.requireRedis === true || Option.contains(forced, "redis")
    if (Option.contains(forced, "memory") && !requireRedis) return yield* memory("LOCKSTEP_ENGINE=memory")
    const url = yield* Config.option(Config.String("LOCKSTEP_REDIS_URL")).pipe(
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
    const spawned = yield* RedisTestServer.make().pipe(Effect.result)
    if (Result.isSuccess(spawned)) {
      const server = spawned.success
      spawnedOn = server.port
      return redis(
        server.url,
        `Redis: a redis-server spawned on ${server.host}:${server.port} (set LOCKSTEP_REDIS_URL to use your own)`,
        Option.some(server.port)
      )
    }
    if (requireRedis) {
      return yield* new RedisTestServer.RedisTestError({
        reason: spawned.failure.reason,
        message: `${spawned.failure.message} Or point LOCKSTEP_REDIS_URL at a running Redis.`,
        cause: spawned.failure.cause
      })
    }
    const why = spawned.failure.reason === "NotInstalled"
      ? "no redis-server on PATH; install Redis or set LOCKSTEP_REDIS_URL to run on Redis"
      : `could not spawn redis-server: ${spawned.failure.message.split("\n", 1)[0]}`
    return yield* memory(why)
  })
