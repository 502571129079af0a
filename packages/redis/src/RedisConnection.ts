/**
 * The seam between a lockstep client (`ClientLayer`) and Redis: a `RedisConnection` is a command
 * connection plus one subscriber connection (standalone), or one `Redis.Cluster` with sharded
 * subscribers (cluster, S17), shared by every `ClientLayer` built on it. Every call fails with
 * `QueueError.EngineError` (`engine: "redis"`) or `QueueError.OperationTimeout`; incoming Pub/Sub
 * messages are routed by one listener per connection. Built by `RedisLayer`; the scripts a client
 * runs on it are internal (they are not part of the service).
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
 * Where a connection made by `RedisLayer` carries lockstep's operations (internal: the engine's
 * runner, `internal/runner.ts`, reads it under the same `Symbol.for` key).
 */
const Operations: unique symbol = Symbol.for("@lockstep/redis/RedisConnection/operations")

/**
 * A connection to Redis (standalone or cluster), as `ClientLayer` uses it.
 *
 * @since 0.1.0
 * @category services
 */
export class RedisConnection extends Context.Service<RedisConnection, {
  readonly kind: "standalone" | "cluster"
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
  /** lockstep's operations on this connection: internal, `ClientLayer` runs them */
  readonly [Operations]: unknown
}>()("@lockstep/redis/RedisConnection") {}
