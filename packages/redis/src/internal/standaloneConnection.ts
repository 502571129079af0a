/**
 * A standalone connection: one command connection and one subscriber connection, shared by every
 * client built on it (DESIGN §4). ioredis 6 speaks RESP3 by default, where a subscribed connection
 * could run commands too; they stay apart all the same: commands never queue behind a burst of
 * messages, and a subscriber dropped for its output buffer (`client-output-buffer-limit pubsub`)
 * takes no command with it.
 *
 * Nothing is replayed after a reconnect: while the connection is down operations fail at once
 * with `EngineError` and never run later; a command already written when it dropped is not
 * resent, its caller gets `OperationTimeout` (outcome unknown: it may have run before the drop).
 * So a send reported as failed is never delivered late, out of order. A lost ack is repeated by
 * the client after the reconnect (S12).
 */
import type { QueueError } from "@lockstep/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { Redis, type RedisOptions as IORedisOptions } from "ioredis"
import type { RedisConnection } from "../RedisConnection.js"
import type { RedisOptions } from "../RedisLayer.js"
import * as Calls from "./calls.js"
import { address, connectTimeoutOf, toIoredis } from "./connectionOptions.js"
import { redisError } from "./errors.js"
import * as EvictionCheck from "./evictionCheck.js"
import { makeListen, Router } from "./router.js"
import { Runner, withRunner } from "./runner.js"
import { corkSockets } from "./turnBatch.js"

/**
 * A client object (no I/O yet: `lazyConnect`) whose `error` events are kept from crashing the
 * process; the last one explains a failed connect (e.g. WRONGPASS).
 */
const client = (options: IORedisOptions & { readonly replyMapping: "legacy" }) => {
  const redis = new Redis(options)
  const state = { lastError: undefined as unknown }
  redis.on("error", (e: unknown) => {
    state.lastError = e
  })
  return { redis, state }
}

/**
 * The database chosen, confirmed: ioredis sends `SELECT` when it connects but only emits an
 * `error` event if it is refused (e.g. by an ACL without `+select`), and the connection then
 * silently stays on db 0, among another application's keys. Asked again here, a refusal fails
 * the connection.
 */
const confirmDb = (redis: Redis, timeout: Duration.Duration) => {
  const db = redis.options.db
  return db === undefined || db === 0
    ? Effect.void
    : Effect.asVoid(Calls.withDeadline(`select ${db}`, timeout, () => redis.select(db)))
}

/** Connect `redis` in the scope; quit (or disconnect) on release. Failures are `EngineError`s. */
const connectScoped = (
  operation: string,
  { redis, state }: ReturnType<typeof client>,
  timeout: Duration.Duration
): Effect.Effect<Redis, QueueError.EngineError, Scope.Scope> =>
  Effect.acquireRelease(
    Calls.withDeadline(operation, timeout, () => redis.connect()).pipe(
      Effect.andThen(confirmDb(redis, timeout)),
      Effect.as(redis),
      Effect.tapError(() => Effect.sync(() => redis.disconnect())),
      Effect.mapError((e) =>
        e._tag === "OperationTimeout"
          ? redisError(operation, e)
          : state.lastError !== undefined
          ? redisError(operation, state.lastError)
          : e
      )
    ),
    Calls.quit
  )

/** Wait until an ioredis connection is ready (it reconnects by itself), at most `timeout`. */
const awaitReady = (redis: Redis, timeout: Duration.Duration) =>
  Effect.callback<void>((resume) => {
    if (redis.status === "ready") return resume(Effect.void)
    const onReady = () => resume(Effect.void)
    redis.once("ready", onReady)
    return Effect.sync(() => redis.off("ready", onReady))
  }).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.fail(redisError("reconnect", new Error("command connection not ready")))
    })
  )

export const make = (
  options: RedisOptions
): Effect.Effect<RedisConnection["Service"], QueueError.EngineError, Scope.Scope> =>
  Effect.gen(function*() {
    const timeout = connectTimeoutOf(options)
    const ioOptions = toIoredis(options)
    const commandClient = client({ enableOfflineQueue: false, autoResendUnfulfilledCommands: false, ...ioOptions })
    // the calls' deadlines end after both connections closed (finalizers run in reverse)
    const calls = yield* Calls.make(corkSockets(() => [commandClient.redis]))
    const command = yield* connectScoped("connect", commandClient, timeout)
    yield* EvictionCheck.start([{
      address: address(command.options.host ?? "", command.options.port ?? ""),
      info: calls.call("info", timeout, () => command.info("memory"))
    }])
    const subscriber = yield* connectScoped("connect subscriber", client(ioOptions), timeout)
    const connected = yield* SubscriptionRef.make(true)
    const router = new Router()
    subscriber.on("message", (channel: string, message: string) => router.dispatch(channel, message))

    // S12: after a drop, re-assert every subscription before reporting the connection as up, so
    // the resync that follows cannot race a message published before the channels were back
    // started on the scheduler, not on ioredis's event handler that asks for it (Effect 4 runs a
    // forked fiber at once): what reacts to the connection going down or up runs after ioredis
    const forkNow = yield* FiberSet.makeRuntime<never>()
    const runScoped = (effect: Effect.Effect<unknown>): void => {
      forkNow(Effect.andThen(Effect.yieldNow, effect))
    }
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
        : calls.call("resubscribe", timeout, () => subscriber.subscribe(...channels))
      // "up" once commands work again too: the resync that follows runs on the command connection
      runScoped(resubscribe.pipe(
        Effect.andThen(awaitReady(command, timeout)),
        Effect.andThen(SubscriptionRef.set(connected, true)),
        Effect.catch((e) => Effect.logWarning("lockstep: resubscribe failed", e.message))
      ))
    })

    return withRunner({
      kind: "standalone",
      listen: makeListen(
        runScoped,
        router,
        connected,
        (channel, t) => calls.call("subscribe", t, () => subscriber.subscribe(channel)),
        (channel) => calls.call("unsubscribe", timeout, () => subscriber.unsubscribe(channel))
      ),
      connected,
      nodes: Effect.sync(() => [address(command.options.host ?? "", command.options.port ?? "")])
    }, new Runner(command, calls, () => ""))
  })
