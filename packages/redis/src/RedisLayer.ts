/**
 * Layers providing a `RedisConnection`: `layer` for a standalone Redis (URL or options),
 * `layerConfig` from the environment.
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
import { RedisError } from "@lockstep/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { Redis, type RedisOptions as IORedisOptions } from "ioredis"
import type { ConnectionOptions } from "node:tls"
import { Router } from "./internal/router.js"
import { scripts } from "./internal/scripts/index.js"
import { call, RedisConnection, type ScriptArg } from "./RedisConnection.js"

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

type ScriptCaller = Record<string, (key: string, ...args: ReadonlyArray<ScriptArg>) => Promise<unknown>>

const toIoredis = (options: RedisOptions): IORedisOptions => ({
  ...(options.host !== undefined ? { host: options.host } : {}),
  ...(options.port !== undefined ? { port: options.port } : {}),
  ...(options.username !== undefined ? { username: options.username } : {}),
  ...(options.password !== undefined ? { password: options.password } : {}),
  ...(options.db !== undefined ? { db: options.db } : {}),
  ...(options.tls !== undefined ? { tls: options.tls } : {}),
  ...(options.enableAutoPipelining !== undefined ? { enableAutoPipelining: options.enableAutoPipelining } : {}),
  ...options.ioredis,
  lazyConnect: true
})

const connectTimeoutOf = (options: RedisOptions) => Duration.decode(options.connectTimeout ?? "10 seconds")

/** Connect an ioredis client in the scope; quit (or disconnect) on release. */
const acquire = (operation: string, make: () => Redis, timeout: Duration.Duration) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const redis = make()
      // errors surface through the failing commands; the listener keeps them from crashing the process
      redis.on("error", () => {})
      return call(operation, timeout, () => redis.connect()).pipe(
        Effect.as(redis),
        Effect.tapError(() => Effect.sync(() => redis.disconnect())),
        Effect.mapError((e) => new RedisError({ operation, cause: e }))
      )
    }),
    (redis) =>
      call("quit", Duration.seconds(2), () => redis.quit()).pipe(
        Effect.catchAll(() => Effect.void),
        Effect.ensuring(Effect.sync(() => redis.disconnect()))
      )
  )

const parse = (options: RedisOptions | string): RedisOptions => {
  if (typeof options !== "string") return options
  const url = new URL(options)
  const tls = url.protocol === "rediss:"
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined
  return {
    host: url.hostname,
    port: url.port === "" ? 6379 : Number(url.port),
    ...(url.username !== "" ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password !== "" ? { password: decodeURIComponent(url.password) } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    ...(tls ? { tls: {} } : {})
  }
}

/**
 * A standalone connection: one command connection and one subscriber connection.
 *
 * @since 0.1.0
 */
export const make = (
  input: RedisOptions | string
): Effect.Effect<RedisConnection["Type"], RedisError, Scope.Scope> =>
  Effect.gen(function*() {
    const options = yield* Effect.try({
      try: () => parse(input),
      catch: (cause) => new RedisError({ operation: "connect", cause })
    })
    const timeout = connectTimeoutOf(options)
    const ioOptions = toIoredis(options)
    const command = yield* acquire("connect", () => new Redis(ioOptions), timeout)
    for (const script of Object.values(scripts)) command.defineCommand(script.name, { numberOfKeys: 1, lua: script.lua })
    const subscriber = yield* acquire("connect subscriber", () => new Redis(ioOptions), timeout)
    const connected = yield* SubscriptionRef.make(true)
    const router = new Router()
    subscriber.on("message", (channel: string, message: string) => router.dispatch(channel, message))

    // S12: after a drop, re-assert every subscription before reporting the connection as up, so
    // the resync that follows cannot race a message published before the channels were back
    const runtime = yield* Effect.runtime<never>()
    let down = false
    subscriber.on("close", () => {
      if (down) return
      down = true
      Runtime.runFork(runtime)(SubscriptionRef.set(connected, false))
    })
    subscriber.on("ready", () => {
      if (!down) return
      down = false
      const channels = router.channels()
      const resubscribe = channels.length === 0
        ? Effect.void
        : call("resubscribe", timeout, () => subscriber.subscribe(...channels))
      Runtime.runFork(runtime)(resubscribe.pipe(
        Effect.zipRight(SubscriptionRef.set(connected, true)),
        Effect.catchAll((e) => Effect.logWarning("lockstep: resubscribe failed", e))
      ))
    })

    const caller = command as unknown as ScriptCaller
    const service: RedisConnection["Type"] = {
      kind: "standalone",
      script: (name, key, args, t) => {
        const fn = caller[scripts[name].name]!
        return call(name, t, () => fn.call(command, key, ...args))
      },
      listen: (channel, deliver) =>
        Effect.acquireRelease(
          Effect.suspend(() => {
            router.add(channel, deliver)
            // SUBSCRIBE is idempotent and ordered on the connection: awaiting it means we are live
            return call("subscribe", timeout, () => subscriber.subscribe(channel)).pipe(
              Effect.tapError(() => Effect.sync(() => router.remove(channel, deliver)))
            )
          }),
          () =>
            Effect.suspend(() =>
              router.remove(channel, deliver)
                ? call("unsubscribe", timeout, () => subscriber.unsubscribe(channel)).pipe(Effect.ignore)
                : Effect.void
            )
        ).pipe(Effect.asVoid),
      connected,
      nodes: Effect.sync(() => [`${command.options.host}:${command.options.port}`])
    }
    return service
  })

/**
 * A `RedisConnection` to a standalone Redis, from options or a `redis://` / `rediss://` URL.
 *
 * @since 0.1.0
 */
export const layer = (options: RedisOptions | string): Layer.Layer<RedisConnection, RedisError> =>
  Layer.scoped(RedisConnection, make(options))

/**
 * A `RedisConnection` from the environment: `LOCKSTEP_REDIS_URL` (default `redis://127.0.0.1:6379`).
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<RedisConnection, RedisError | ConfigError.ConfigError> = Layer.unwrapScoped(
  Effect.gen(function*() {
    const url = yield* Config.option(Config.string("LOCKSTEP_REDIS_URL"))
    return layer(Option.getOrElse(url, () => "redis://127.0.0.1:6379"))
  })
)
