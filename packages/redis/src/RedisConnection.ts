/**
 * The seam between a lockstep client (`ClientLayer`) and Redis: a `RedisConnection` is a command
 * connection plus one subscriber connection (standalone), or one `Redis.Cluster` with sharded
 * subscribers (cluster, S17), shared by every `ClientLayer` built on it. Every call fails with
 * `QueueError.EngineError` (`engine: "redis"`) or `QueueError.OperationTimeout`; incoming Pub/Sub
 * messages are routed by one listener per connection. Built by `RedisLayer`.
 *
 * @since 0.1.0
 */
import type { Backend } from "@lockstep/core"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as SubscriptionRef from "effect/SubscriptionRef"

/**
 * An argument of a script call.
 *
 * @since 0.1.0
 * @category models
 */
export type ScriptArg = string | number

/**
 * The lockstep scripts a connection runs (`script`, `scriptLater`).
 *
 * @since 0.1.0
 * @category models
 */
export type ScriptName =
  | "ack"
  | "claim"
  | "detach"
  | "housekeep"
  | "join"
  | "keepalive"
  | "keepaliveMany"
  | "leave"
  | "memberships"
  | "outOfBand"
  | "peek"
  | "resync"
  | "roomState"
  | "roomsPage"
  | "send"
  | "stats"
  | "unregister"

/**
 * A connection to Redis (standalone or cluster), as `ClientLayer` uses it.
 *
 * @since 0.1.0
 * @category services
 */
export class RedisConnection extends Context.Service<RedisConnection, {
  readonly kind: "standalone" | "cluster"
  /** Run one lockstep script: a single EVALSHA routed by `key` (NOSCRIPT handled by ioredis). */
  readonly script: (
    name: ScriptName,
    key: string,
    args: ReadonlyArray<ScriptArg>,
    timeout: Duration.Duration
  ) => Effect.Effect<unknown, Backend.BackendError>
  /**
   * `script` without an Effect, for per-message batches: the call is made at the end of this
   * event-loop turn with the arguments `args` returns then (so calls of the same turn can add to
   * them), and `done` receives the failure (or `undefined`) and the reply.
   */
  readonly scriptLater: (
    name: ScriptName,
    key: string,
    args: () => ReadonlyArray<ScriptArg>,
    timeout: Duration.Duration,
    done: (failure: Backend.BackendError | undefined, reply: unknown) => void
  ) => void
  /**
   * Subscribe `deliver` to a channel (SUBSCRIBE, or SSUBSCRIBE on a cluster). Live when the Effect
   * succeeds, unsubscribed when the Scope closes and no other listener of the channel is left.
   */
  readonly listen: (
    channel: string,
    deliver: (message: string) => void,
    timeout: Duration.Duration
  ) => Effect.Effect<void, Backend.BackendError, Scope.Scope>
  /** true while the subscriber connection is up and its channels are subscribed */
  readonly connected: SubscriptionRef.SubscriptionRef<boolean>
  /** Node addresses to use for diagnostics, e.g. `127.0.0.1:6380`. */
  readonly nodes: Effect.Effect<ReadonlyArray<string>>
  /** The node currently serving `key` (cluster; "" on a standalone server): used to batch per node. */
  readonly nodeOf: (key: string) => string
}>()("@lockstep/redis/RedisConnection") {}
