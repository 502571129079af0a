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
import type { QueueError } from "@lockstep/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { Cluster, type ClusterOptions, Redis, type RedisOptions as IORedisOptions } from "ioredis"
import type { ConnectionOptions } from "node:tls"
import { redisError, type RedisFailure } from "./internal/errors.js"
import { Router } from "./internal/router.js"
import { scripts } from "./internal/scripts/index.js"
import { slotOf } from "./internal/slot.js"
import { call, callLater, type Corkable, RedisConnection, type ScriptArg } from "./RedisConnection.js"

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
      // errors surface through the failing commands; the listener keeps them from crashing the
      // process and remembers the last one, which explains a failed connect (e.g. WRONGPASS)
      let lastError: unknown = undefined
      redis.on("error", (e: unknown) => {
        lastError = e
      })
      return call(operation, timeout, () => redis.connect()).pipe(
        Effect.as(redis),
        Effect.tapError(() => Effect.sync(() => redis.disconnect())),
        Effect.mapError((e) =>
          e._tag === "EngineError" && lastError !== undefined ? redisError(operation, lastError) : e
        ),
        Effect.mapError((e) => e._tag === "OperationTimeout" ? redisError(operation, e) : e)
      )
    }),
    (redis) =>
      redis.status === "ready"
        ? call("quit", Duration.seconds(2), () => redis.quit()).pipe(
          Effect.catchAll(() => Effect.void),
          Effect.ensuring(Effect.sync(() => redis.disconnect()))
        )
        : Effect.sync(() => redis.disconnect())
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
): Effect.Effect<RedisConnection["Type"], QueueError.EngineError, Scope.Scope> =>
  Effect.gen(function*() {
    const options = yield* Effect.try({
      try: () => parse(input),
      catch: (cause) => redisError("connect", cause)
    })
    const timeout = connectTimeoutOf(options)
    const ioOptions = toIoredis(options)
    // Nothing is replayed after a reconnect: while the connection is down operations fail at once
    // with EngineError and never run later; a command already written when it dropped is not
    // resent, its caller gets OperationTimeout (outcome unknown: it may have run before the drop).
    // So a send reported as failed is never delivered late, out of order. A lost ack is repeated
    // by the client after the reconnect (S12).
    const command = yield* acquire(
      "connect",
      () => new Redis({ enableOfflineQueue: false, autoResendUnfulfilledCommands: false, ...ioOptions }),
      timeout
    )
    defineScripts(command)
    const subscriber = yield* acquire("connect subscriber", () => new Redis(ioOptions), timeout)
    const connected = yield* SubscriptionRef.make(true)
    const router = new Router()
    subscriber.on("message", (channel: string, message: string) => router.dispatch(channel, message))

    // S12: after a drop, re-assert every subscription before reporting the connection as up, so
    // the resync that follows cannot race a message published before the channels were back
    const runScoped = yield* FiberSet.makeRuntime<never>()
    let down = false
    subscriber.on("close", () => {
      if (down) return
      down = true
      runScoped(SubscriptionRef.set(connected, false))
    })
    subscriber.on("ready", () => {
      if (!down) return
      down = false
      const channels = router.channels()
      const resubscribe = channels.length === 0
        ? Effect.void
        : call("resubscribe", timeout, () => subscriber.subscribe(...channels))
      // "up" once commands work again too: the resync that follows runs on the command connection
      runScoped(resubscribe.pipe(
        Effect.zipRight(awaitReady(command, timeout)),
        Effect.zipRight(SubscriptionRef.set(connected, true)),
        Effect.catchAll((e) => Effect.logWarning("lockstep: resubscribe failed", e.message))
      ))
    })

    const service: RedisConnection["Type"] = {
      kind: "standalone",
      ...scriptRunner(command),
      listen: listener(
        runScoped,
        router,
        connected,
        (channel, t) => call("subscribe", t, () => subscriber.subscribe(channel)),
        (channel) => call("unsubscribe", timeout, () => subscriber.unsubscribe(channel))
      ),
      connected,
      nodes: Effect.sync(() => [`${command.options.host}:${command.options.port}`]),
      nodeOf: () => ""
    }
    return service
  })

/** Wait until an ioredis connection is ready (it reconnects by itself), at most `timeout`. */
const awaitReady = (redis: Redis, timeout: Duration.Duration) =>
  Effect.async<void>((resume) => {
    if (redis.status === "ready") return resume(Effect.void)
    const onReady = () => resume(Effect.void)
    redis.once("ready", onReady)
    return Effect.sync(() => redis.off("ready", onReady))
  }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => redisError("reconnect", new Error("command connection not ready"))
    })
  )

/** `script` and `scriptLater` of a connection (standalone or cluster). */
const scriptRunner = (
  client: Redis | Cluster
): Pick<RedisConnection["Type"], "script" | "scriptLater"> => {
  const caller = client as unknown as ScriptCaller
  // the sockets corked while a turn's commands are written: the connection's, or on a cluster
  // those of every master (the commands of a turn spread over the nodes)
  let corked: Array<Corkable> = []
  const sockets: Corkable = {
    cork: () => {
      for (const node of client instanceof Redis ? [client] : client.nodes("master")) {
        const stream = node.stream as Corkable | undefined
        if (stream === undefined) continue
        try {
          stream.cork()
          corked.push(stream)
        } catch {
          // written uncorked
        }
      }
    },
    // exactly the sockets corked, whatever happened to the topology meanwhile
    uncork: () => {
      const streams = corked
      corked = []
      for (const stream of streams) stream.uncork()
    }
  }
  return {
    script: (name, key, args, timeout) => {
      const fn = caller[scripts[name].name]!
      return call(name, timeout, () => fn.call(client, key, ...args), sockets)
    },
    scriptLater: (name, key, args, timeout, done) => {
      const fn = caller[scripts[name].name]!
      callLater(name, timeout, () => fn.call(client, key, ...args()), sockets, done)
    }
  }
}

const defineScripts = (client: Redis | Cluster) => {
  for (const script of Object.values(scripts)) client.defineCommand(script.name, { numberOfKeys: 1, lua: script.lua })
}

const listener = (
  runScoped: (effect: Effect.Effect<unknown>) => unknown,
  router: Router,
  connected: SubscriptionRef.SubscriptionRef<boolean>,
  subscribe: (channel: string, timeout: Duration.Duration) => Effect.Effect<unknown, RedisFailure>,
  unsubscribe: (channel: string) => Effect.Effect<unknown, RedisFailure>
): RedisConnection["Type"]["listen"] =>
(channel, deliver, timeout) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      router.add(channel, deliver)
      // (S)SUBSCRIBE is idempotent and ordered on its connection: once confirmed we are live.
      // A timed-out SUBSCRIBE may still go out later: the UNSUBSCRIBE queued behind it undoes it,
      // in the background, so the caller's failure is not delayed by it.
      return subscribe(channel, timeout).pipe(
        Effect.tapError(() =>
          Effect.sync(() => {
            if (router.remove(channel, deliver)) runScoped(Effect.ignore(unsubscribe(channel)))
          })
        )
      )
    }),
    () =>
      Effect.suspend(() =>
        router.remove(channel, deliver)
          // while down there is nothing to unsubscribe: the channel is no longer re-asserted on reconnect
          ? Effect.flatMap(
            SubscriptionRef.get(connected),
            (up) => up ? Effect.ignore(unsubscribe(channel)) : Effect.void
          )
          : Effect.void
      )
  ).pipe(Effect.asVoid)

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

const toNode = (node: ClusterNode) => {
  if (typeof node !== "string") return { host: node.host, port: node.port }
  const colon = node.lastIndexOf(":")
  return { host: node.slice(0, colon), port: Number(node.slice(colon + 1)) }
}

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
): Effect.Effect<RedisConnection["Type"], QueueError.EngineError, Scope.Scope> =>
  Effect.gen(function*() {
    if (nodes.length === 0) {
      return yield* redisError("connect", new Error("a cluster needs at least one node"))
    }
    const timeout = connectTimeoutOf(options)
    const { lazyConnect: _lazy, ...redisOptions } = toIoredis(options)
    const cluster = yield* Effect.acquireRelease(
      Effect.suspend(() => {
        const c = new Cluster(nodes.map(toNode), {
          scaleReads: "master",
          ...options.cluster,
          shardedSubscribers: true,
          lazyConnect: true,
          ...(options.enableAutoPipelining !== undefined ? { enableAutoPipelining: options.enableAutoPipelining } : {}),
          // node options given as `cluster.redisOptions` are kept; the top-level ones win
          // node connections connect lazily, so they keep ioredis' offline queue: on a cluster an
          // operation that timed out while a node was unreachable may still run when it returns
          redisOptions: { ...options.cluster?.redisOptions, ...redisOptions }
        })
        c.on("error", () => {})
        return call("connect", timeout, () => c.connect()).pipe(
          Effect.as(c),
          Effect.tapError(() => Effect.sync(() => c.disconnect())),
          Effect.mapError((e) => redisError("connect", e))
        )
      }),
      (c) =>
        c.status === "ready"
          ? call("quit", Duration.seconds(2), () => c.quit()).pipe(
            Effect.catchAll(() => Effect.void),
            Effect.ensuring(Effect.sync(() => c.disconnect()))
          )
          : Effect.sync(() => c.disconnect())
    )
    defineScripts(cluster)
    const connected = yield* SubscriptionRef.make(true)
    const router = new Router()
    cluster.on("smessage", (channel: string, message: string) => router.dispatch(channel, message))
    const ssubscribe = (channel: string, t: Duration.Duration = timeout) =>
      call("ssubscribe", t, () => cluster.ssubscribe(channel))

    // ioredis 5.11 appends the channels of every SSUBSCRIBE to the list it resubscribes after a
    // reconnect, even channels it already has: each re-assertion would add one more copy of every
    // channel (unbounded memory, ever longer SSUBSCRIBE commands). Keep that list a set.
    const dedupeChannels = () => {
      const group = (cluster as unknown as { readonly shardedSubscribers?: { readonly channels?: unknown } })
        .shardedSubscribers
      if (!(group?.channels instanceof Map)) return
      for (const [slot, list] of group.channels) {
        if (Array.isArray(list)) group.channels.set(slot, [...new Set(list)])
      }
    }

    // re-assert every sharded subscription, then report "up" so the client resyncs (S12)
    const reassert = Effect.suspend(() =>
      Effect.forEach(router.channels(), (channel) => ssubscribe(channel), { concurrency: 16, discard: true })
    ).pipe(
      Effect.ensuring(Effect.sync(dedupeChannels)),
      Effect.zipRight(SubscriptionRef.set(connected, false)),
      Effect.zipRight(SubscriptionRef.set(connected, true)),
      Effect.catchAll((e) => Effect.logWarning("lockstep: re-asserting sharded subscriptions failed", e.message))
    )
    // scheduled re-assertions belong to the scope: closing it interrupts them (S20), instead of
    // leaving one to wait for a reply of the closed cluster until it times out
    const runScoped = yield* FiberSet.makeRuntime<never>()
    let pending = false
    const schedule = () => {
      if (pending) return
      pending = true
      runScoped(
        Effect.sleep("200 millis").pipe(
          Effect.zipRight(Effect.sync(() => {
            pending = false
          })),
          Effect.zipRight(reassert)
        )
      )
    }
    for (const event of ["+node", "-node", "-subscriber", "+subscriber", "ready"]) cluster.on(event, schedule)
    // ioredis refreshes the slot map on MOVED, on a lost node and every `cluster.slotsRefreshInterval`
    // (if set): re-assert only when the owners changed
    const slotOwners = () => cluster.slots.map((nodes) => nodes[0] ?? "").join(",")
    let owners = slotOwners()
    cluster.on("refresh", () => {
      const now = slotOwners()
      if (now === owners) return
      owners = now
      schedule()
    })
    cluster.on("close", () => runScoped(SubscriptionRef.set(connected, false)))
    yield* reassert.pipe(
      Effect.repeat(Schedule.spaced(Duration.decode(options.verifyInterval ?? "10 seconds"))),
      Effect.delay(Duration.decode(options.verifyInterval ?? "10 seconds")),
      Effect.forkScoped
    )

    const service: RedisConnection["Type"] = {
      kind: "cluster",
      ...scriptRunner(cluster),
      listen: listener(runScoped, router, connected, ssubscribe, (channel) =>
        call("sunsubscribe", timeout, () =>
          cluster.sunsubscribe(channel))),
      connected,
      nodes: Effect.sync(() =>
        cluster.nodes("master").map((n) =>
          `${n.options.host}:${n.options.port}`
        )
      ),
      nodeOf: (key) => cluster.slots[slotOf(key)]?.[0] ?? ""
    }
    return service
  })

/**
 * A `RedisConnection` to a Redis Cluster (use with `ShardLayer.layer({ shards })`).
 *
 * @since 0.1.0
 */
export const cluster = (
  nodes: ReadonlyArray<ClusterNode>,
  options?: ClusterConnectionOptions
): Layer.Layer<RedisConnection, QueueError.EngineError> => Layer.scoped(RedisConnection, makeCluster(nodes, options))

/**
 * A `RedisConnection` to a standalone Redis, from options or a `redis://` / `rediss://` URL.
 *
 * @since 0.1.0
 */
export const layer = (options: RedisOptions | string): Layer.Layer<RedisConnection, QueueError.EngineError> =>
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
