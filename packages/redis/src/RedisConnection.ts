/**
 * The one seam where ioredis is touched. A `RedisConnection` is a command connection plus one
 * subscriber connection per process (standalone), or one `Redis.Cluster` with sharded
 * subscribers (cluster, S17), shared by every `ClientLayer` built on it. Every call is wrapped
 * into `RedisError` / `OperationTimeout`; incoming Pub/Sub messages are routed by one listener per
 * connection through a `Map<channel, deliver>`.
 *
 * @since 0.1.0
 */
import { OperationTimeout, RedisError } from "@lockstep/core"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as SubscriptionRef from "effect/SubscriptionRef"
import { type ScriptName } from "./internal/scripts/index.js"

/** @since 0.1.0 */
export type ScriptArg = string | number

/**
 * @since 0.1.0
 */
export class RedisConnection extends Context.Tag("@lockstep/redis/RedisConnection")<RedisConnection, {
  readonly kind: "standalone" | "cluster"
  /** Run one lockstep script: a single EVALSHA routed by `key` (NOSCRIPT handled by ioredis). */
  readonly script: (
    name: ScriptName,
    key: string,
    args: ReadonlyArray<ScriptArg>,
    timeout: Duration.Duration
  ) => Effect.Effect<unknown, RedisError | OperationTimeout>
  /**
   * Subscribe `deliver` to a channel (SUBSCRIBE, or SSUBSCRIBE on a cluster). Live when the Effect
   * succeeds, unsubscribed when the Scope closes and no other listener of the channel is left.
   */
  readonly listen: (
    channel: string,
    deliver: (message: string) => void,
    timeout: Duration.Duration
  ) => Effect.Effect<void, RedisError | OperationTimeout, Scope.Scope>
  /** true while the subscriber connection is up and its channels are subscribed */
  readonly connected: SubscriptionRef.SubscriptionRef<boolean>
  /** Node addresses to use for diagnostics, e.g. `127.0.0.1:6380`. */
  readonly nodes: Effect.Effect<ReadonlyArray<string>>
  /** The node currently serving `key` (cluster; "" on a standalone server): used to batch per node. */
  readonly nodeOf: (key: string) => string
}>() {}

/**
 * Turn a promise-returning ioredis call into an Effect with a deadline. A timer instead of
 * `Effect.timeout` keeps the hot path cheap (no extra fiber per call).
 *
 * @since 0.1.0
 */
export const call = <A>(
  operation: string,
  timeout: Duration.Duration,
  run: () => Promise<A>
): Effect.Effect<A, RedisError | OperationTimeout> =>
  Effect.async<A, RedisError | OperationTimeout>((resume) => {
    let done = false
    const timer = setTimeout(() => {
      if (done) return
      done = true
      resume(Effect.fail(new OperationTimeout({ operation, timeout })))
    }, Duration.toMillis(timeout))
    let promise: Promise<A>
    try {
      promise = run()
    } catch (cause) {
      done = true
      clearTimeout(timer)
      resume(Effect.fail(new RedisError({ operation, cause })))
      return
    }
    promise.then(
      (value) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(Effect.succeed(value))
      },
      (cause: unknown) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(Effect.fail(new RedisError({ operation, cause })))
      }
    )
    return Effect.sync(() => {
      done = true
      clearTimeout(timer)
    })
  })
